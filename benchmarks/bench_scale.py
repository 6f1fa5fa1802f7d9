"""Memory and time of SET's sparse path against network size: build, one rewiring, one snapshot.

For each hidden width W, the SET network 784-W-W-W-10 at ε = 20 (edges per
sparse layer ``round(20 (n_in + n_out))``, dense output layer, backend
``sparse``) is handled in its own subprocess:

1. the Erdős–Rényi topology as index sets (``random_sparse_topology``);
2. the model built straight in CSR (``training.build.build_model``, ``--init-draws``);
3. with ``--train-batches N``, N SGD steps on Fashion-MNIST batches of 128
   (``SPARSETOPO_DATA`` must hold it);
4. one SET rewiring of every hidden layer (ζ = 0.3, random regrowth, the
   SET mask updater at an epoch's end, explored-edge record included);
5. one topology snapshot (``save_sparse_topology``) into a temporary folder.

Printed per W: edges, seconds per phase, the child's RSS after its imports,
its peak RSS (``os.wait4``'s ``ru_maxrss`` of that child alone) and peak
minus the after-import RSS; then growth exponents d log(peak) / d log(edges)
between consecutive widths and over all of them (least squares). Linear in
edges is an exponent of 1 for the peak above the imports. The topology draw
of the first layer allocates numpy's ``arange(784 W)`` (int64, 8 x 784 x W
bytes, 2.1 GB at W = 333,334) for a moment: see
``sparsetopo.topology.sparse.random_sparse_layer``.

    SPARSETOPO_DATA=/path/to/data python benchmarks/bench_scale.py --widths 1000 4000 16000 64000 333334
    SPARSETOPO_DATA=/path/to/data python benchmarks/bench_scale.py --widths 1000 4000 16000 --train-batches 5

``--steps N`` times the training step instead: per W, one process for each
(thread count, products) pair, interleaved over ``--repeats`` rounds, each
building the model and timing N SGD steps on Fashion-MNIST batches of 128
after one warm-up step (forward, cross-entropy, backward, fused SGD with
momentum: the engine's step without dropout); ``products`` is ``kernel`` (the
library's default: CSR products of wide layers on ``sparsetopo._csr_kernels``)
or ``torch`` (``KERNEL_MIN_WORK`` raised so that every product is torch's).
Printed: seconds per step (min / median / max over every timed step), the
60,000-sample epoch at the median (469 steps), the ratio torch / kernel and the
peak RSS; and whether both sides' weights after the steps were bitwise equal.

    SPARSETOPO_DATA=/path/to/data python benchmarks/bench_scale.py --widths 16000 333334 --steps 4 --threads-list 1,2 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(width: int, init_draws: str, train_batches: int, threads: int) -> dict:
    """One measurement, in this process; returns the phase times and the after-import RSS."""
    import tempfile

    import numpy as np
    import torch

    from sparsetopo.store.config import RunConfig
    from sparsetopo.topology.sparse import random_sparse_topology, save_sparse_topology
    from sparsetopo.training.build import build_model, model_topology
    from sparsetopo.training.loop import sparse_layer_indices
    from sparsetopo.training.updaters import Plan, UpdateContext
    from sparsetopo.training.updaters.set import SetUpdater

    torch.set_num_threads(threads)
    base = _rss_mib()
    widths = [784, width, width, width, 10]
    cfg = RunConfig(dataset="fashion_mnist", hidden=(width,) * 3, method="set", epsilon=20, backend="sparse",
                    init_draws=init_draws, regrow_init="random", seed=0)
    times = {}
    t = time.perf_counter()
    topology = random_sparse_topology(widths, epsilon=20, seed=cfg.effective_topology_seed)
    times["topology"] = time.perf_counter() - t
    t = time.perf_counter()
    model = build_model(cfg, widths, topology, sparse_layers=sparse_layer_indices(cfg, topology))
    times["build"] = time.perf_counter() - t
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, fused=True)
    if train_batches:
        from sparsetopo.data import load_dataset

        data = load_dataset("fashion_mnist", seed=0)
        t = time.perf_counter()
        for i in range(train_batches):
            xb, yb = data.x_train[i * 128:(i + 1) * 128], data.y_train[i * 128:(i + 1) * 128]
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        times["train"] = time.perf_counter() - t
    ever_active = [layer.index.copy() for layer in topology]
    del topology
    t = time.perf_counter()
    updater = SetUpdater(cfg.options, Plan(epochs=2, steps_per_epoch=1, seed=cfg.seed, weight_init=cfg.weight_init))
    updater.rng = np.random.default_rng(0)
    ctx = UpdateContext(model, optimizer, updater.plan, ever_active=ever_active)
    updater.at_epoch_end(ctx, 1)
    changes = {"removed": ctx.removed, "regrown": ctx.grown}
    times["rewire"] = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        save_sparse_topology(Path(tmp) / "epoch_001.npz", model_topology(model), epoch=1)
        times["snapshot"] = time.perf_counter() - t
    edges = sum(layer.n_edges for layer in model_topology(model))
    return {"width": width, "edges": edges, "times": times, "base_mib": base, "regrown": changes["regrown"]}


def step_child(width: int, threads: int, products: str, steps: int) -> dict:
    """Time ``steps`` training steps of the SET network 784-W-W-W-10 (after one warm-up step), in this process."""
    import hashlib

    import torch

    from sparsetopo import sparse_linear
    from sparsetopo.data import load_dataset
    from sparsetopo.store.config import RunConfig
    from sparsetopo.topology.sparse import random_sparse_topology
    from sparsetopo.training.build import build_model
    from sparsetopo.training.loop import sparse_layer_indices

    torch.set_num_threads(threads)
    if products == "torch":
        sparse_linear.KERNEL_MIN_WORK = 1 << 62
    widths = [784, width, width, width, 10]
    cfg = RunConfig(dataset="fashion_mnist", hidden=(width,) * 3, method="set", epsilon=20, backend="sparse",
                    init_draws="edges", seed=0)
    topology = random_sparse_topology(widths, epsilon=20, seed=cfg.effective_topology_seed)
    model = build_model(cfg, widths, topology, sparse_layers=sparse_layer_indices(cfg, topology))
    del topology
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, fused=True)
    data = load_dataset("fashion_mnist", seed=0)
    times = []
    for i in range(steps + 1):
        xb, yb = data.x_train[i * 128:(i + 1) * 128], data.y_train[i * 128:(i + 1) * 128]
        t = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if i:
            times.append(time.perf_counter() - t)
    digest = hashlib.sha256()
    for p in model.parameters():
        digest.update(p.detach().numpy().tobytes())
    return {"width": width, "threads": threads, "products": products, "step_times": times,
            "edges": sum(p.numel() for p in model.parameters()), "weights_sha256": digest.hexdigest()}


def measure_steps(width: int, threads: int, products: str, steps: int) -> dict:
    """Run :func:`step_child` in a fresh interpreter; add its own peak RSS (``os.wait4``)."""
    cmd = [sys.executable, __file__, "--step-child", str(width), "--threads", str(threads), "--products", products,
           "--steps", str(steps)]
    return _run_child(cmd, width)


def _run_child(cmd: list[str], width: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"W={width}: the measuring process failed (exit {proc.returncode})")
    result = json.loads(out.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - t
    result["peak_mib"] = usage.ru_maxrss / 1024  # KiB on Linux
    return result


def steps_table(widths: list[int], threads_list: list[int], steps: int, repeats: int) -> None:
    """The step-time comparison of ``--steps`` (see the module docstring)."""
    print(f"SET 784-W-W-W-10, eps=20, backend sparse, batch 128: {steps} timed steps per process after a warm-up; "
          f"(threads, products) interleaved over {repeats} round(s)")
    print(f"{'W':>8} {'threads':>7} {'products':>8} {'min s':>7} {'median s':>8} {'max s':>7} {'epoch min':>9} "
          f"{'torch/kernel':>12} {'peak MiB':>9}")
    for width in widths:
        runs: dict[tuple[int, str], list[dict]] = {}
        for _ in range(repeats):
            for t in threads_list:
                for products in ("kernel", "torch"):
                    r = measure_steps(width, t, products, steps)
                    runs.setdefault((t, products), []).append(r)
                    print(f"  W={width} threads={t} {products}: steps {[round(v, 2) for v in r['step_times']]} s",
                          file=sys.stderr, flush=True)
        for t in threads_list:
            med = {}
            for products in ("kernel", "torch"):
                times = sorted(v for r in runs[(t, products)] for v in r["step_times"])
                med[products] = times[len(times) // 2] if len(times) % 2 else sum(times[len(times) // 2 - 1:len(times) // 2 + 1]) / 2
                peak = max(r["peak_mib"] for r in runs[(t, products)])
                ratio = f"{med['torch'] / med['kernel']:.2f}x" if products == "torch" else ""
                print(f"{width:>8} {t:>7} {products:>8} {times[0]:>7.2f} {med[products]:>8.2f} {times[-1]:>7.2f} "
                      f"{med[products] * 469 / 60:>9.1f} {ratio:>12} {peak:>9.0f}", flush=True)
            digests = {r["weights_sha256"] for products in ("kernel", "torch") for r in runs[(t, products)]}
            print(f"{'':>8} weights after the steps at {t} thread(s): "
                  + ("bitwise equal on both sides" if len(digests) == 1 else f"{len(digests)} different digests"))


def measure(width: int, init_draws: str, train_batches: int, threads: int) -> dict:
    """Run :func:`child` in a fresh interpreter; add its own peak RSS (``os.wait4``)."""
    cmd = [sys.executable, __file__, "--child", str(width), "--init-draws", init_draws,
           "--train-batches", str(train_batches), "--threads", str(threads)]
    return _run_child(cmd, width)


def _slope(xs: list[float], ys: list[float]) -> float:
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    den = sum((a - mx) ** 2 for a in lx)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / den if den else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[1000, 4000, 16000, 64000, 333334])
    parser.add_argument("--init-draws", choices=["edges", "dense_stream"], default="edges",
                        help="how initial weights are drawn (dense_stream costs n_out*n_in draws per layer)")
    parser.add_argument("--train-batches", type=int, default=0, help="SGD steps on Fashion-MNIST before rewiring")
    parser.add_argument("--threads", type=int, default=1, help="torch threads in each measuring process")
    parser.add_argument("--steps", type=int, default=0, help="time this many training steps per process instead "
                        "(kernel and torch products side by side)")
    parser.add_argument("--threads-list", default="1,2", help="with --steps: thread counts, comma-separated")
    parser.add_argument("--repeats", type=int, default=1, help="with --steps: interleaved rounds")
    parser.add_argument("--products", choices=["kernel", "torch"], default="kernel", help=argparse.SUPPRESS)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--step-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step_child is not None:
        print(json.dumps(step_child(args.step_child, args.threads, args.products, args.steps)))
        return
    if args.steps:
        steps_table(args.widths, [int(t) for t in args.threads_list.split(",")], args.steps, args.repeats)
        return
    if args.child is not None:
        print(json.dumps(child(args.child, args.init_draws, args.train_batches, args.threads)))
        return
    print(f"SET 784-W-W-W-10, eps=20, backend sparse, init_draws={args.init_draws}, train batches {args.train_batches}, "
          f"{args.threads} torch thread(s); one process per W")
    phases = ["topology", "build"] + (["train"] if args.train_batches else []) + ["rewire", "snapshot"]
    print(f"{'W':>8} {'edges':>11} " + " ".join(f"{p + ' s':>10}" for p in phases)
          + f" {'import MiB':>11} {'peak MiB':>9} {'peak-import':>11}")
    rows = []
    for width in args.widths:
        r = measure(width, args.init_draws, args.train_batches, args.threads)
        rows.append(r)
        print(f"{width:>8} {r['edges']:>11,} " + " ".join(f"{r['times'][p]:>10.2f}" for p in phases)
              + f" {r['base_mib']:>11.0f} {r['peak_mib']:>9.0f} {r['peak_mib'] - r['base_mib']:>11.0f}", flush=True)
    if len(rows) > 1:
        edges = [r["edges"] for r in rows]
        above = [r["peak_mib"] - r["base_mib"] for r in rows]
        print("growth exponents vs edges (d log y / d log edges):")
        for a, b in zip(rows, rows[1:]):
            pair = [a["edges"], b["edges"]]
            print(f"  W {a['width']:>7} -> {b['width']:>7}: peak {_slope(pair, [a['peak_mib'], b['peak_mib']]):.2f}, "
                  f"peak above imports {_slope(pair, [a['peak_mib'] - a['base_mib'], b['peak_mib'] - b['base_mib']]):.2f}, "
                  f"build+rewire+snapshot time "
                  f"{_slope(pair, [sum(a['times'][p] for p in ('build', 'rewire', 'snapshot')), sum(b['times'][p] for p in ('build', 'rewire', 'snapshot'))]):.2f}")
        print(f"  all (least squares): peak {_slope(edges, [r['peak_mib'] for r in rows]):.2f}, "
              f"peak above imports {_slope(edges, above):.2f}")


if __name__ == "__main__":
    main()
