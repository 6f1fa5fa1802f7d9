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

With ``--threads 1,2`` every (shape, backend) runs at each thread count,
interleaved (repeat by repeat: 1 thread masked, 1 thread sparse, 2 threads
masked, 2 threads sparse), and the table puts the thread counts side by side.

``--reference PATH`` compares, at the SET reference setting (784-1000-1000-1000-10,
ε = 13, batch 40, dropout 0.2: the ``set_reference`` recipe), a training epoch
of sparsetopo with one of the SET authors' numba implementation (``set_mlp.py``
of a checkout at PATH, its own code driven in a subprocess on the same samples),
at each thread count, interleaved.

``--products 1000,16000,333334`` times one W x W layer's forward product at
ε = 20 and batch 128 (``addmm`` with the bias, feature-major) both ways: torch's
MKL CSR product and the library's numba kernel (``sparsetopo._csr_kernels``,
which :class:`~sparsetopo.sparse_linear.SparseLinear` takes from
``KERNEL_MIN_WORK``), interleaved torch, kernel, torch, kernel over
``--repeats`` rounds at each thread count; prints min / median / max, the
ratio of the medians and whether both gave the same bits.

``--widths 1000,4000,16000`` times the CSR kernels of SET at ε = 20 with three
hidden layers of each width W (784-W-W-W-10, batch 128): per batch the forward
product, the input gradient and the weight gradient of every sparse layer, in
the feature-major layout of :class:`~sparsetopo.sparse_linear.SparseLinear`,
and prints the time per epoch of 60,000 samples extrapolated from a few
batches, and the effective GFLOP/s counting 6 flops per edge and sample (2 per
product). The operands are built directly as CSR tensors, so widths beyond what
a model fits in memory (333,334) can be timed too.

``--profile`` prints the per-operation profile of the sparse training step at
the SET reference setting (torch.profiler, one thread).

    SPARSETOPO_DATA=../shared/data python benchmarks/bench_training.py
    python benchmarks/bench_training.py --shapes a --threads 1,2 --repeats 3
    python benchmarks/bench_training.py --reference /path/to/set_mlp_checkout --threads 1,2
    python benchmarks/bench_training.py --widths 1000,4000,16000 --threads 1,2
    python benchmarks/bench_training.py --products 1000,16000,64000,333334 --threads 1,2 --repeats 5
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

import sparsetopo  # noqa: F401  (before torch loads: sparsetopo sets OpenMP's passive wait policy)

WORKER = r"""
import json, os, resource, sys, time
import sparsetopo  # before torch: sets the OpenMP wait policy (sparsetopo/__init__.py)
import torch
from sparsetopo.store.config import RunConfig
from sparsetopo.training.loop import train_run
from sparsetopo.training.recipes import recipe_config
spec = json.loads(sys.argv[1])
torch.set_num_threads(spec.pop("threads"))
out_dir = spec.pop("out")
recipe = spec.pop("recipe", None)
fields = {k: tuple(v) if isinstance(v, list) else v for k, v in spec.items()}
if recipe:
    cfg = recipe_config(recipe, snapshot_every=1000, **fields)
else:
    cfg = RunConfig(method="set", snapshot_every=1000, batch_size=128, **fields)
summary = train_run(cfg, out_dir, progress=False)
records = json.load(open(out_dir + "/metrics.json"))
cuda_peak = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
print(json.dumps({"train_times": [r["train_time"] for r in records], "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
                  "test_acc": [r["test_acc"] for r in records],
                  "edges": summary["edges"], "backend_layers": summary["backend_layers"], "device": summary["device"],
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "cuda_peak_mb": cuda_peak}))
"""


# The SET authors' numba implementation (set_mlp.py of the checkout given with --reference), its own code
# unmodified, trained on the samples sparsetopo trains on; prints its training time per epoch.
REF_WORKER = r"""
import contextlib, io, json, os, re, sys
ref, data_path, epochs, workdir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
sys.path.insert(0, ref)
os.chdir(workdir)  # fit() writes its input-connection file into the working folder
import numpy as np
if not hasattr(np, "in1d"):  # removed in numpy 2.4; the reference uses it in rewiring
    np.in1d = lambda a, b, **kw: np.isin(a, b, **kw).ravel()
import set_mlp
from nn_functions import CrossEntropy, Relu, Softmax
d = np.load(data_path)
x, y = d["x"], d["y"]
np.random.seed(0)
model = set_mlp.SET_MLP((x.shape[1], 1000, 1000, 1000, y.shape[1]), (Relu, Relu, Relu, Softmax), epsilon=13)
out = io.StringIO()
with contextlib.redirect_stdout(out):
    model.fit(x, y, x[:100], y[:100], loss=CrossEntropy, epochs=epochs, batch_size=40, learning_rate=0.05,
              momentum=0.9, weight_decay=0.0002, zeta=0.3, dropoutrate=0.2, testing=False, save_filename="", monitor=False)
times = []
for h, m, sec in re.findall(r"Training time:\s+(\d+):(\d+):([\d.]+)", out.getvalue()):
    times.append(int(h) * 3600 + int(m) * 60 + float(sec))
print(json.dumps({"train_times": times}))
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


def run_worker(spec: dict, wait_policy: str | None) -> dict:
    """Train one config in a fresh process (its own peak RSS and OpenMP set-up); return the worker's record."""
    env = os.environ.copy()
    if wait_policy:
        env["OMP_WAIT_POLICY"] = wait_policy
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-c", WORKER, json.dumps({**spec, "out": tmp})],
                             capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def spread(times: list[float]) -> str:
    return f"{min(times):7.2f} {median(times):7.2f} {max(times):7.2f}"


def reference_comparison(reference: str, python: str, threads: list[int], repeats: int, samples: int,
                         epochs: int, wait_policy: str | None) -> None:
    """sparsetopo (``set_reference`` recipe) against the numba reference at each thread count, interleaved."""
    import numpy as np

    from sparsetopo.training.loop import load_run_dataset
    from sparsetopo.training.recipes import recipe_config

    if not os.path.exists(os.path.join(reference, "set_mlp.py")):
        raise SystemExit(f"--reference {reference}: no set_mlp.py there; give the folder of a checkout of the SET "
                         "authors' numba implementation (its set_mlp.py, nn_functions.py, utils/)")
    data = load_run_dataset(recipe_config("set_reference", train_samples=samples))
    x = data.x_train.double().numpy()
    y = np.eye(10)[data.y_train.numpy()]
    results: dict[tuple[str, int], list[float]] = {(w, t): [] for w in ("sparsetopo", "reference") for t in threads}
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(os.path.join(tmp, "data.npz"), x=x, y=y)
        for r in range(repeats):
            for t in threads:
                res = run_worker({"recipe": "set_reference", "train_samples": samples, "epochs": epochs, "threads": t},
                                 wait_policy)
                results[("sparsetopo", t)] += res["train_times"][1:]
                env = {**os.environ, "NUMBA_NUM_THREADS": str(t), "OMP_NUM_THREADS": str(t), "MKL_NUM_THREADS": str(t),
                       "OPENBLAS_NUM_THREADS": str(t), "NUMBA_CACHE_DIR": os.path.join(tmp, "numba")}
                work = tempfile.mkdtemp(dir=tmp)
                out = subprocess.run([python, "-c", REF_WORKER, reference, os.path.join(tmp, "data.npz"), str(epochs), work],
                                     capture_output=True, text=True, env=env)
                if out.returncode != 0:
                    raise RuntimeError(out.stderr)
                ref = json.loads(out.stdout.strip().splitlines()[-1])["train_times"]
                results[("reference", t)] += ref[1:]
                print(f"  repeat {r + 1}, {t} thread(s): sparsetopo {[round(v, 2) for v in res['train_times']]} s, "
                      f"reference {[round(v, 2) for v in ref]} s", file=sys.stderr)
    scale = 60000 / samples
    print(f"\nSET reference setting (784-1000-1000-1000-10, eps=13, batch 40, dropout 0.2) on {samples} Fashion-MNIST samples; "
          f"training time per epoch (the first epoch of each process dropped), x {scale:g} for 60,000 samples; "
          f"{repeats} interleaved repeat(s), OMP_WAIT_POLICY={wait_policy or os.environ.get('OMP_WAIT_POLICY', 'PASSIVE (sparsetopo)')}")
    print(f"{'threads':>7s} {'implementation':14s} {'min':>7s} {'median':>7s} {'max':>7s}   (s per 60,000-sample epoch)  speed-up (median, range)")
    for t in threads:
        ours = [v * scale for v in results[("sparsetopo", t)]]
        ref = [v * scale for v in results[("reference", t)]]
        print(f"{t:7d} {'reference':14s} {spread(ref)}")
        print(f"{t:7d} {'sparsetopo':14s} {spread(ours)}   {median(ref) / median(ours):5.1f}x "
              f"({min(ref) / max(ours):.1f}x-{max(ref) / min(ours):.1f}x)")


def random_csr(n_out: int, n_in: int, nnz: int, gen):
    """Row-major CSR arrays of ``nnz`` distinct random positions, without a dense mask (any size)."""
    import torch

    idx = torch.unique(torch.randint(0, n_out * n_in, (int(nnz * 1.02) + 16,), generator=gen))
    while idx.numel() < nnz:  # rare: too many duplicates
        idx = torch.unique(torch.cat([idx, torch.randint(0, n_out * n_in, (nnz,), generator=gen)]))
    idx = idx[torch.randperm(idx.numel(), generator=gen)[:nnz]].sort().values
    rows, cols = idx // n_in, idx % n_in
    crow = torch.zeros(n_out + 1, dtype=torch.int64)
    crow[1:] = torch.cumsum(torch.bincount(rows, minlength=n_out), 0)
    return crow, cols, rows


def kernel_step(layers, out_w, x, batch: int):
    """One batch of SET's products: forward, then the gradients, layer by layer (feature-major operands)."""
    import torch

    from sparsetopo.sparse_linear import op_threads

    hs = [x]
    for w, _, _, bias, nnz in layers:
        with op_threads(nnz * batch):
            hs.append(torch.addmm(bias, w, hs[-1]).clamp_min_(0.0))
    y = out_w @ hs[-1]
    g_out = y - y.mean()  # stands in for the loss gradient (10, batch)
    g_w_out = g_out @ hs[-1].t()
    g = out_w.t() @ g_out
    for k in reversed(range(len(layers))):
        w, w_t, pattern, _, nnz = layers[k]
        with op_threads(nnz * batch):
            g = torch.ops.aten.threshold_backward(g, hs[k + 1], 0)
            torch.sparse.sampled_addmm(pattern, g, hs[k].t(), beta=0.0)
            g.sum(1)
            if k > 0:
                g = torch.sparse.mm(w_t, g)
    return g_w_out


def kernel_widths(threads: list[int], widths: list[int], epsilon: float = 20.0, batch: int = 128, rounds: int = 3,
                  min_seconds: float = 2.0) -> None:
    """Per-batch time and GFLOP/s of SET's kernels at each width (784-W-W-W-10), thread counts interleaved."""
    import torch

    from sparsetopo.sparse_linear import op_threads

    print(f"\nSET kernels, eps = {epsilon:g}, 784-W-W-W-10, batch {batch}: per batch the forward product, input gradient "
          "and weight gradient of the three sparse layers (feature-major CSR, the library's thread policy) and of the "
          "dense 10-output layer; 6 flops per edge and sample; epoch = 60,000 samples extrapolated from the batches timed "
          f"(min over rounds, thread counts interleaved)")
    print(f"{'W':>8s} {'edges':>11s} {'threads':>7s} {'ms/batch':>9s} {'epoch s':>8s} {'GFLOP/s':>8s} {'W-W layer GFLOP/s':>17s}")
    gen = torch.Generator().manual_seed(0)
    for width in widths:
        sizes = [784, width, width, width]
        layers = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            nnz = min(int(round(epsilon * (n_in + n_out))), n_in * n_out)
            crow, col, rows = random_csr(n_out, n_in, nnz, gen)
            values = torch.randn(nnz, generator=gen) * 0.05
            perm = torch.argsort(col * n_out + rows)
            crow_t = torch.zeros(n_in + 1, dtype=torch.int64)
            crow_t[1:] = torch.cumsum(torch.bincount(col, minlength=n_in), 0)
            w = torch.sparse_csr_tensor(crow.int(), col.int(), values, (n_out, n_in))
            w_t = torch.sparse_csr_tensor(crow_t.int(), rows[perm].int(), values[perm], (n_in, n_out))
            pattern = torch.sparse_csr_tensor(crow, col, torch.zeros(nnz), (n_out, n_in))
            bias = torch.zeros(n_out, 1)
            layers.append((w, w_t, pattern, bias, nnz))
            del rows, perm
        out_w = torch.randn(10, width, generator=gen) * 0.01
        x = torch.rand(784, batch, generator=gen)
        edges = sum(layer[-1] for layer in layers)

        sparse_only = {}
        best = {t: float("inf") for t in threads}
        for r in range(rounds):
            for t in threads:
                torch.set_num_threads(t)
                if r == 0:
                    kernel_step(layers, out_w, x, batch)  # warm-up
                n, t0 = 0, time.perf_counter()
                while True:
                    kernel_step(layers, out_w, x, batch)
                    n += 1
                    if time.perf_counter() - t0 >= min_seconds / rounds or n >= 50:
                        break
                best[t] = min(best[t], (time.perf_counter() - t0) / n)
        for t in threads:  # the sparse products alone, for the GFLOP/s of the kernels
            torch.set_num_threads(t)
            w, w_t, pattern, bias, nnz = layers[1]
            h = torch.rand(width, batch, generator=gen)
            fastest = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                with op_threads(nnz * batch):
                    torch.addmm(bias, w, h)
                    torch.sparse.mm(w_t, h)
                    torch.sparse.sampled_addmm(pattern, h, h.t(), beta=0.0)
                fastest = min(fastest, time.perf_counter() - t0)
            sparse_only[t] = 6 * nnz * batch / fastest / 1e9
        total_edges = edges + 10 * width
        for t in threads:
            per_batch = best[t]
            print(f"{width:8d} {total_edges:11,d} {t:7d} {per_batch * 1e3:9.1f} {per_batch * 60000 / batch:8.1f} "
                  f"{6 * total_edges * batch / per_batch / 1e9:8.2f} {sparse_only[t]:17.2f}")


def profile_reference_step(batches: int = 300) -> None:
    """Per-operation profile of sparsetopo's training step at the SET reference setting (one thread)."""
    import torch
    import torch.nn.functional as F
    from torch.profiler import ProfilerActivity, profile

    from sparsetopo.model import to_sparse_backend
    from sparsetopo.training.loop import build_model, initial_masks, load_run_dataset, sparse_layer_indices
    from sparsetopo.training.recipes import recipe_config

    torch.set_num_threads(1)
    cfg = recipe_config("set_reference", train_samples=batches * 40 * 2)
    data = load_run_dataset(cfg)
    widths = data.widths(cfg.hidden)
    model = build_model(cfg, widths, initial_masks(cfg, widths))
    to_sparse_backend(model, sparse_layer_indices(cfg, model.masks()))
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, fused=True)
    params = [p for group in opt.param_groups for p in group["params"]]
    model.train()
    model.dropout_generator = torch.Generator().manual_seed(0)
    x, y = data.x_train, data.y_train

    def run(first: int) -> None:
        for i in range(first, first + batches * 40, 40):
            out = model(x[i:i + 40])
            loss = F.cross_entropy(out, y[i:i + 40])
            for p in params:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p.mul_(1.0 - cfg.weight_decay)
            opt.step()

    run(0)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        run(batches * 40)
        wall = time.perf_counter() - t0
    print(f"\nper-operation profile of {batches} training steps at the SET reference setting, 1 thread "
          f"({wall / batches * 1e3:.2f} ms per step under the profiler)")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))


def product_widths(threads: list[int], widths: list[int], repeats: int, epsilon: float = 20.0, batch: int = 128) -> None:
    """torch's CSR ``addmm`` against the library's kernel on one W x W layer per width (``--products``)."""
    import torch

    from sparsetopo._csr_kernels import csr_matmul

    print(f"\nOne W x W layer's forward product at eps = {epsilon:g}, batch {batch} (addmm with bias, feature-major): "
          f"torch's CSR product vs sparsetopo._csr_kernels, interleaved over {repeats} rounds")
    print(f"{'W':>8s} {'entries':>11s} {'threads':>7s} {'torch ms (min/med/max)':>26s} {'kernel ms (min/med/max)':>26s} "
          f"{'torch/kernel':>12s} {'same bits':>9s}")
    gen = torch.Generator().manual_seed(0)
    for width in widths:
        nnz = int(round(epsilon * 2 * width))
        crow, col, _ = random_csr(width, width, nnz, gen)
        values = torch.randn(nnz, generator=gen) * 0.05
        w = torch.sparse_csr_tensor(crow.int(), col.int(), values, (width, width))
        x = torch.randn(width, batch, generator=gen)
        bias = torch.randn(width, generator=gen)
        out = torch.empty(width, batch)
        args = (crow.numpy(), col.numpy(), values.numpy(), x.numpy(), out.numpy(), bias.numpy())
        reps = max(1, int(2e8 // (nnz * batch)))  # about 0.1 s or more per timing
        for t in threads:
            torch.set_num_threads(t)
            csr_matmul(*args, threads=t)  # compile or load, and warm the pool
            same = torch.addmm(bias.unsqueeze(1), w, x).numpy().tobytes() == out.numpy().tobytes()
            times = {"torch": [], "kernel": []}
            for _ in range(repeats):
                t0 = time.perf_counter()
                for _ in range(reps):
                    torch.addmm(bias.unsqueeze(1), w, x)
                times["torch"].append((time.perf_counter() - t0) / reps * 1e3)
                t0 = time.perf_counter()
                for _ in range(reps):
                    csr_matmul(*args, threads=t)
                times["kernel"].append((time.perf_counter() - t0) / reps * 1e3)
            cell = {k: f"{min(v):.3f}/{median(v):.3f}/{max(v):.3f}" for k, v in times.items()}
            print(f"{width:8d} {nnz:11,d} {t:7d} {cell['torch']:>26s} {cell['kernel']:>26s} "
                  f"{median(times['torch']) / median(times['kernel']):11.2f}x {str(same):>9s}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per process (the first is dropped as warm-up)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", default="2", help="thread counts, comma-separated (e.g. 1,2), interleaved")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | auto (RunConfig.device)")
    parser.add_argument("--shapes", default="ab", help="which shapes to run: a, b or ab")
    parser.add_argument("--wait-policy", default=None, help="OMP_WAIT_POLICY of the training processes "
                        "(default: the environment's, else sparsetopo's PASSIVE)")
    parser.add_argument("--crossover-only", action="store_true")
    parser.add_argument("--ceiling-only", action="store_true", help="print only the kernel ceiling of shape (a)")
    parser.add_argument("--reference", metavar="PATH", help="checkout of the SET authors' numba set_mlp.py: compare "
                        "with it at the SET reference setting (and nothing else)")
    parser.add_argument("--reference-python", default=sys.executable, help="the Python that runs the reference "
                        "(one with numba, numpy, scipy, psutil)")
    parser.add_argument("--reference-samples", type=int, default=12000, help="training samples per epoch in the "
                        "reference comparison (times are scaled to 60,000)")
    parser.add_argument("--widths", help="comma-separated hidden widths: time SET's kernels at eps=20 (and nothing else)")
    parser.add_argument("--profile", action="store_true", help="per-operation profile at the SET reference setting")
    parser.add_argument("--products", help="comma-separated widths: torch's CSR product vs the library's kernel on one "
                        "W x W layer at eps=20 (and nothing else)")
    args = parser.parse_args()
    threads = [int(t) for t in str(args.threads).split(",")]
    if args.profile:
        profile_reference_step()
        return 0
    if args.reference:
        reference_comparison(args.reference, args.reference_python, threads, args.repeats, args.reference_samples,
                             max(2, args.epochs if args.epochs != 4 else 2), args.wait_policy)
        return 0
    if args.products:
        product_widths(threads, [int(w) for w in args.products.split(",")], args.repeats)
        return 0
    if args.widths:
        kernel_widths(threads, [int(w) for w in args.widths.split(",")])
        return 0
    if args.ceiling_only:
        for t in threads:
            kernel_ceiling(t)
        return 0
    crossover_device = "cuda" if args.device == "cuda" else "cpu"
    if args.crossover_only:
        for t in threads:
            crossover(t, device=crossover_device)
        return 0

    backends = ["masked", "sparse"]
    results: dict[tuple[str, str, int], list[dict]] = {(s, b, t): [] for s in args.shapes for b in backends for t in threads}
    for r in range(args.repeats):
        for s in args.shapes:
            for t in threads:
                for b in backends:
                    spec = {**SHAPES[s], "dataset": args.dataset, "epochs": args.epochs, "backend": b,
                            "device": args.device, "threads": t}
                    res = run_worker(spec, args.wait_policy)
                    results[(s, b, t)].append(res)
                    print(f"  repeat {r + 1} {s} {b} {t} thread(s): train s/epoch {[round(v, 2) for v in res['train_times']]}",
                          file=sys.stderr)

    first = results[(args.shapes[0], "masked", threads[0])][0]
    device = first["device"]
    print(f"\nSET on {args.dataset}, batch 128, device {device}, OMP_WAIT_POLICY={first['omp_wait_policy']}; "
          f"train time per epoch, epochs 2..{args.epochs} of each process x {args.repeats} interleaved repeat(s)")
    print(f"{'shape':44s} {'backend':8s} {'threads':>7s} {'weights':>8s} {'min':>7s} {'median':>7s} {'max':>7s} "
          f"{'speed-up':>9s} {'range':>12s} {'peak RSS MB':>12s}" + (f" {'GPU peak MB':>12s}" if device.startswith("cuda") else "")
          + f" {'test acc (last)':>16s}")
    for s in args.shapes:
        rows = {}
        for b in backends:
            for t in threads:
                res = results[(s, b, t)]
                times = [v for x in res for v in (x["train_times"][1:] or x["train_times"])]
                rows[(b, t)] = dict(times=times, peak=max(x["peak_rss_mb"] for x in res),
                                    gpu=max((x["cuda_peak_mb"] or 0) for x in res), edges=sum(res[0]["edges"]),
                                    acc=res[0]["test_acc"][-1])
        for t in threads:
            masked = rows[("masked", t)]["times"]
            for b in backends:
                row = rows[(b, t)]
                times = row["times"]
                speed = median(masked) / median(times)
                rng = f"{min(masked) / max(times):.1f}-{max(masked) / min(times):.1f}x"
                line = (f"{SHAPE_NAMES[s]:44s} {b:8s} {t:7d} {row['edges']:8d} {spread(times)} {speed:8.1f}x {rng:>12s} "
                        f"{row['peak']:12.0f}")
                if device.startswith("cuda"):
                    line += f" {row['gpu']:12.0f}"
                print(line + f" {row['acc']:16.4f}")
        if len(threads) > 1:
            for b in backends:
                base = median(rows[(b, threads[0])]["times"])
                print(f"{'':44s} {b}: median epoch at " + ", ".join(
                    f"{t} threads {median(rows[(b, t)]['times']) / base:.2f}x" for t in threads[1:])
                    + f" the time at {threads[0]} thread(s)")
    for t in threads:
        crossover(t, device=crossover_device)
    if crossover_device == "cpu" and "a" in args.shapes:
        for t in threads:
            kernel_ceiling(t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
