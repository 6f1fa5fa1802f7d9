"""Epoch time and peak memory of the masked vs the sparse backend, side by side.

Two shapes, both SET on Fashion-MNIST with the output layer dense:

(a) 784-784-784-784-10 with 3,800 edges in each of the three sparse layers
    (about 0.6% density, the paper's Fig. 4 networks);
(b) 784-1000-1000-1000-10 at ε = 20 (about 4% density).

Each (shape, backend) trains in its own subprocess, so its peak RSS is its
own, for ``--epochs`` epochs; the first epoch of a process is warm-up and is
dropped, and the table shows the median of the rest over ``--repeats``
rounds (backends interleaved so machine load hits them alike). Also prints the
per-layer crossover: forward + backward time of one 1000x1000 layer, batch
128, masked (dense matmul) vs CSR, over a range of densities; the last
density where the CSR layer is still faster is the measured threshold behind
``backend="auto"`` (``sparsetopo.training.loop.AUTO_SPARSE_MAX_DENSITY``).

Finally it prints the kernel ceiling of shape (a): per batch, the time of the
matrix products alone that each backend must run in its three sparse layers
(forward, input gradient, weight gradient; for the sparse backend in the
layout that needs no transposes), with nothing else of a training step. Both
backends also share the output layer, the loss, the optimizer and the data, so
the ratio of these kernel times bounds from above the epoch speed-up that any
arrangement of these kernels can reach on this machine.

    SPARSETOPO_DATA=../shared/data python benchmarks/bench_training.py
    python benchmarks/bench_training.py --crossover-only
    python benchmarks/bench_training.py --ceiling-only
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

WORKER = r"""
import json, resource, sys, time, torch
from sparsetopo.store.config import RunConfig
from sparsetopo.training.loop import train_run
spec = json.loads(sys.argv[1])
torch.set_num_threads(spec.pop("threads"))
out_dir = spec.pop("out")
cfg = RunConfig(method="set", snapshot_every=1000, batch_size=128, **{k: tuple(v) if isinstance(v, list) else v for k, v in spec.items()})
summary = train_run(cfg, out_dir, progress=False)
records = json.load(open(out_dir + "/metrics.json"))
cuda_peak = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
print(json.dumps({"train_times": [r["train_time"] for r in records],
                  "test_acc": [r["test_acc"] for r in records],
                  "edges": summary["edges"], "backend_layers": summary["backend_layers"], "device": summary["device"],
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "cuda_peak_mb": cuda_peak}))
"""

SHAPES = {
    "a": dict(hidden=[784, 784, 784], layer_edges=[3800, 3800, 3800, 7840], epsilon=None),
    "b": dict(hidden=[1000, 1000, 1000], epsilon=20.0),
}
SHAPE_NAMES = {"a": "(a) 784-784-784-784-10, 3,800 edges/layer", "b": "(b) 784-1000-1000-1000-10, eps=20"}


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else 0.5 * (xs[len(xs) // 2 - 1] + xs[len(xs) // 2])


def crossover(threads: int, n: int = 1000, batch: int = 128, device: str = "cpu") -> float | None:
    """Print masked vs CSR layer times over densities; return the first density where CSR is no faster."""
    import torch

    from sparsetopo.sparse_linear import SparseLinear

    torch.set_num_threads(threads)
    dev = torch.device(device)
    print(f"\nlayer crossover: {n}x{n} layer, batch {batch}, forward + backward, {threads} threads, {device}")
    print(f"{'density':>8s} {'masked ms':>10s} {'sparse ms':>10s} {'sparse/masked':>14s}")
    found, last_faster = None, None
    gen = torch.Generator().manual_seed(0)
    for density in (0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5):
        mask = (torch.rand(n, n, generator=gen) < density)
        weight = torch.randn(n, n, generator=gen) * mask
        x = torch.randn(batch, n, generator=gen).to(dev)
        dense_w = weight.clone().to(dev).requires_grad_(True)
        mask_d = mask.to(dev)
        sparse = SparseLinear(weight, mask).to(dev)

        def step_masked(x=x, dense_w=dense_w, mask_d=mask_d):
            y = x @ dense_w.t()
            y.sum().backward()
            with torch.no_grad():
                dense_w.grad.mul_(mask_d)  # what enforce_masks does to the update
            dense_w.grad = None

        def step_sparse(x=x, sparse=sparse):
            y = sparse(x)
            y.sum().backward()
            sparse.values.grad = None

        times = {}
        for name, fn in (("masked", step_masked), ("sparse", step_sparse)):
            for _ in range(3):
                fn()
            reps = []
            for _ in range(5):
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                for _ in range(10):
                    fn()
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                reps.append((time.perf_counter() - t0) / 10 * 1e3)
            times[name] = median(reps)
        ratio = times["sparse"] / times["masked"]
        print(f"{density:8.3f} {times['masked']:10.3f} {times['sparse']:10.3f} {ratio:14.2f}")
        if found is None and ratio >= 1.0:
            found = density
        if found is None:
            last_faster = density
    if found is None:
        print("crossover: the CSR layer is faster at every density measured (<= 0.5)")
    else:
        print(f"crossover: the CSR layer is faster up to density {last_faster:g} and slower from {found:g} "
              f"(backend='auto' uses sparsetopo.training.loop.AUTO_SPARSE_MAX_DENSITY)")
    return found


def kernel_ceiling(threads: int, batch: int = 128, n: int = 784, edges: int = 3800, layers: int = 3,
                   rounds: int = 7) -> float:
    """Print the per-batch kernel times of shape (a) for both backends; return masked / sparse."""
    import torch

    from sparsetopo.sparse_linear import SparseLinear

    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    mask = torch.zeros(n * n, dtype=torch.bool)
    mask[torch.randperm(n * n, generator=gen)[:edges]] = True
    mask = mask.view(n, n)
    weight = torch.randn(n, n, generator=gen) * mask
    layer = SparseLinear(weight, mask)
    values = layer.values.detach()
    w = torch.sparse_csr_tensor(layer.crow_indices, layer.col_indices, values, (n, n))
    w_t = torch.sparse_csr_tensor(layer._crow_t, layer._col_t, values[layer._perm_t], (n, n))
    pattern = torch.sparse_csr_tensor(layer.crow_indices, layer.col_indices, torch.zeros_like(values), (n, n))
    x_fm = torch.randn(n, batch, generator=gen)  # feature-major activations (n, batch)
    g_fm = torch.randn(n, batch, generator=gen)
    x, g = x_fm.t().contiguous(), g_fm.t().contiguous()  # batch-major (batch, n) for the dense products
    dense = weight.clone()

    def masked():
        for _ in range(layers):
            x @ dense.t()
            g @ dense
            torch.mm(g.t(), x).mul_(mask)

    def sparse():
        for _ in range(layers):
            torch.sparse.mm(w, x_fm)
            torch.sparse.mm(w_t, g_fm)
            torch.sparse.sampled_addmm(pattern, g_fm, x_fm.t(), beta=0.0)

    times = {}
    for name, fn in (("masked", masked), ("sparse", sparse)):
        for _ in range(5):
            fn()
        reps = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            for _ in range(20):
                fn()
            reps.append((time.perf_counter() - t0) / 20 * 1e3)
        times[name] = min(reps)
    ratio = times["masked"] / times["sparse"]
    print(f"\nkernel ceiling, shape (a): {layers} layers of {n}x{n} with {edges} edges, batch {batch}, {threads} threads "
          f"(min over {rounds} rounds of 20 batches)")
    print(f"  masked kernels {times['masked']:.3f} ms/batch, sparse kernels {times['sparse']:.3f} ms/batch: "
          f"no epoch of these kernels can be more than {ratio:.1f}x faster sparse than masked")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per process (the first is dropped as warm-up)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu | cuda | auto (RunConfig.device)")
    parser.add_argument("--shapes", default="ab", help="which shapes to run: a, b or ab")
    parser.add_argument("--crossover-only", action="store_true")
    parser.add_argument("--ceiling-only", action="store_true", help="print only the kernel ceiling of shape (a)")
    args = parser.parse_args()
    if args.ceiling_only:
        kernel_ceiling(args.threads)
        return 0
    crossover_device = "cuda" if args.device == "cuda" else "cpu"
    if args.crossover_only:
        crossover(args.threads, device=crossover_device)
        return 0

    backends = ["masked", "sparse"]
    results: dict[tuple[str, str], list[dict]] = {(s, b): [] for s in args.shapes for b in backends}
    for r in range(args.repeats):
        for s in args.shapes:
            for b in backends:
                with tempfile.TemporaryDirectory() as tmp:
                    spec = {**SHAPES[s], "dataset": args.dataset, "epochs": args.epochs, "backend": b,
                            "device": args.device, "threads": args.threads, "out": tmp}
                    out = subprocess.run([sys.executable, "-c", WORKER, json.dumps(spec)],
                                         capture_output=True, text=True, env=os.environ.copy())
                if out.returncode != 0:
                    print(out.stderr, file=sys.stderr)
                    return 1
                res = json.loads(out.stdout.strip().splitlines()[-1])
                results[(s, b)].append(res)
                print(f"  repeat {r + 1} {s} {b}: train s/epoch {[round(t, 2) for t in res['train_times']]}", file=sys.stderr)

    device = results[(args.shapes[0], "masked")][0]["device"]
    print(f"\nSET on {args.dataset}, batch 128, {args.threads} threads, device {device}; "
          f"median train time of epochs 2..{args.epochs} x {args.repeats} repeat(s)")
    print(f"{'shape':44s} {'backend':8s} {'weights':>8s} {'epoch s':>8s} {'speed-up':>9s} {'peak RSS MB':>12s}"
          + (f" {'GPU peak MB':>12s}" if device.startswith("cuda") else "") + f" {'test acc (last)':>16s}")
    for s in args.shapes:
        rows = {}
        for b in backends:
            res = results[(s, b)]
            times = [t for x in res for t in (x["train_times"][1:] or x["train_times"])]
            rows[b] = dict(epoch_s=median(times), fastest=min(times), slowest=max(times), peak=max(x["peak_rss_mb"] for x in res),
                           gpu=max((x["cuda_peak_mb"] or 0) for x in res), edges=sum(res[0]["edges"]), acc=res[0]["test_acc"][-1])
        for b in backends:
            row = rows[b]
            line = (f"{SHAPE_NAMES[s]:44s} {b:8s} {row['edges']:8d} {row['epoch_s']:8.2f} "
                    f"{rows['masked']['epoch_s'] / row['epoch_s']:8.1f}x {row['peak']:12.0f}")
            if device.startswith("cuda"):
                line += f" {row['gpu']:12.0f}"
            print(line + f" {row['acc']:16.4f}")
        masked, sparse = rows["masked"], rows["sparse"]
        print(f"{'':44s} single epochs: masked {masked['fastest']:.2f}-{masked['slowest']:.2f} s, sparse "
              f"{sparse['fastest']:.2f}-{sparse['slowest']:.2f} s: speed-up between "
              f"{masked['fastest'] / sparse['slowest']:.1f}x and {masked['slowest'] / sparse['fastest']:.1f}x")
    crossover(args.threads, device=crossover_device)
    if crossover_device == "cpu" and "a" in args.shapes:
        kernel_ceiling(args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
