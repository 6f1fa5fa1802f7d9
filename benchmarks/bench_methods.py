"""Sparse-training methods side by side: accuracy at equal epochs, and epoch time on both backends.

The study's Fashion-MNIST shape of notebook 03: 784-784-784-784-10, 3,800 edges in each hidden layer (about
0.6% density, the paper's Fig. 4 networks), the output layer dense, SGD lr 0.01, batch 128, a stratified
subset of the training split (``--train-samples``, 15,000 as notebook 03's default profile).

``--accuracy``: static, SET (ζ = 0.3) and RigL (α = 0.3, ΔT = 100, T_end at 75%) by default, SNIP and gradual
magnitude pruning (from dense to the same counts by 75% of the epochs) with ``--methods``, ``--epochs``
epochs each for ``--seeds``; prints
the final test accuracy per seed, mean and spread, and whether RigL reaches at least SET's mean (the RigL
paper's ordering at equal epochs).

``--timing``: SET and RigL epoch time on the masked and the sparse backend, each (method, backend) in its own
process with one torch thread, ``--repeats`` rounds interleaved so machine load hits them alike; the first
epoch of a process is warm-up and dropped; prints min / median / max seconds per epoch and the peak RSS.

    SPARSETOPO_DATA=../shared/data python benchmarks/bench_methods.py            # both
    python benchmarks/bench_methods.py --accuracy --epochs 20 --seeds 0 1 2
    python benchmarks/bench_methods.py --timing --epochs 3 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

SHAPE = dict(dataset="fashion_mnist", hidden=[784, 784, 784], layer_edges=[3800, 3800, 3800, 7840], lr=0.01,
             batch_size=128, snapshot_every=1000)
METHODS = {
    "static": {},
    "set": {"zeta": 0.3},
    "rigl": {"method_options": {"drop_fraction": 0.3, "update_every": 100, "update_end": 0.75}},
    "snip": {},
    "gmp": {"method_options": {"prune_every": 100}},
}

WORKER = r"""
import json, resource, sys, torch
from sparsetopo.store.config import RunConfig
from sparsetopo.training.loop import train_run
spec = json.loads(sys.argv[1])
torch.set_num_threads(1)
out_dir = spec.pop("out")
cfg = RunConfig.from_dict(spec)
summary = train_run(cfg, out_dir, progress=False)
records = json.load(open(out_dir + "/metrics.json"))
print(json.dumps({"train_times": [r["train_time"] for r in records], "test_acc": [r["test_acc"] for r in records],
                  "edges": summary["edges"], "explored_rate": summary["explored_rate"],
                  "backend_layers": summary["backend_layers"],
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(spec: dict) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench_methods_") as out:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        done = subprocess.run([sys.executable, "-c", WORKER, json.dumps({**spec, "out": out + "/run"})],
                              capture_output=True, text=True, env=env)
        if done.returncode:
            raise SystemExit(f"worker failed for {spec}:\n{done.stderr[-2000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def accuracy(epochs: int, seeds: list[int], train_samples: int | None, backend: str, methods: list[str]) -> None:
    print(f"accuracy: Fashion-MNIST 784-784-784-784-10, 3,800 edges per hidden layer, {epochs} epochs, "
          f"train_samples={train_samples}, backend={backend}, seeds {seeds}")
    means = {}
    for method in methods:
        extra = METHODS[method]
        finals, explored = [], []
        for seed in seeds:
            out = _run({**SHAPE, **extra, "method": method, "epochs": epochs, "seed": seed, "backend": backend,
                        "train_samples": train_samples})
            finals.append(out["test_acc"][-1])
            explored.append(out["explored_rate"])
        means[method] = statistics.mean(finals)
        spread = statistics.stdev(finals) if len(finals) > 1 else 0.0
        print(f"  {method:6s} final test acc per seed {[round(a, 4) for a in finals]}  mean {means[method]:.4f}"
              f"  sd {spread:.4f}  explored rate {statistics.mean(explored):.4f}")
    if "rigl" in means and "set" in means:
        verdict = "holds" if means["rigl"] >= means["set"] else "does NOT hold"
        print(f"  RigL >= SET at equal epochs (the RigL paper's ordering): {verdict} "
              f"({means['rigl']:.4f} vs {means['set']:.4f})")


def timing(epochs: int, repeats: int, train_samples: int | None) -> None:
    print(f"epoch time: SET and RigL, {epochs} epochs per process (first dropped), {repeats} interleaved rounds, "
          f"1 thread, train_samples={train_samples}")
    cases = [(m, b) for m in ("set", "rigl") for b in ("masked", "sparse")]
    times: dict[tuple[str, str], list[float]] = {c: [] for c in cases}
    rss: dict[tuple[str, str], float] = {c: 0.0 for c in cases}
    for _ in range(repeats):
        for method, backend in cases:
            out = _run({**SHAPE, **METHODS[method], "method": method, "epochs": epochs, "seed": 0, "backend": backend,
                        "train_samples": train_samples})
            times[(method, backend)] += out["train_times"][1:]
            rss[(method, backend)] = max(rss[(method, backend)], out["peak_rss_mb"])
    print(f"  {'method':6s} {'backend':7s} {'min s':>7s} {'median s':>9s} {'max s':>7s} {'peak RSS MB':>12s}")
    for method, backend in cases:
        t = times[(method, backend)]
        print(f"  {method:6s} {backend:7s} {min(t):7.3f} {statistics.median(t):9.3f} {max(t):7.3f} {rss[(method, backend)]:12.0f}")
    for backend in ("masked", "sparse"):
        ratio = statistics.median(times[("rigl", backend)]) / statistics.median(times[("set", backend)])
        print(f"  RigL / SET median epoch time, {backend}: {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accuracy", action="store_true", help="only the accuracy comparison")
    parser.add_argument("--timing", action="store_true", help="only the epoch times")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default: 20 for accuracy, 3 for timing)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--train-samples", type=int, default=15_000, help="training subset (0: the whole split)")
    parser.add_argument("--backend", choices=("masked", "sparse"), default="sparse", help="backend of the accuracy runs")
    parser.add_argument("--methods", nargs="+", choices=sorted(METHODS), default=["static", "set", "rigl"],
                        help="methods of the accuracy runs (snip and gmp train dense layers first: slow on CSR)")
    args = parser.parse_args()
    both = not (args.accuracy or args.timing)
    samples = args.train_samples or None
    if args.accuracy or both:
        accuracy(args.epochs or 20, args.seeds, samples, args.backend, args.methods)
    if args.timing or both:
        timing(args.epochs or 3, args.repeats, samples)


if __name__ == "__main__":
    main()
