"""Epoch time and peak memory of dense vs static sparse vs SET training on CPU.

784-1000-1000-1000-10 on Fashion-MNIST at ε = 20 (the SET paper's setting).
Each method trains in its own subprocess (so peak RSS is its own), for
``--epochs`` epochs, methods interleaved over ``--repeats`` rounds so load on
the machine hits them alike. Prints a table with ratios against dense.

    SPARSETOPO_DATA=../shared/data python benchmarks/bench_training.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

WORKER = r"""
import json, resource, sys, time, torch
from sparsetopo.store.config import RunConfig
from sparsetopo.training.loop import train_run
torch.set_num_threads(int(sys.argv[4]))
cfg = RunConfig(dataset=sys.argv[2], method=sys.argv[1], epsilon=20.0, hidden=(1000, 1000, 1000),
                epochs=int(sys.argv[3]), snapshot_every=1000)
t0 = time.perf_counter()
summary = train_run(cfg, sys.argv[5], progress=False)
records = json.load(open(sys.argv[5] + "/metrics.json"))
print(json.dumps({"epoch_times": [r["epoch_time"] for r in records],
                  "train_times": [r["train_time"] for r in records],
                  "test_acc": summary["final_test_acc"],
                  "edges": summary["edges"],
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    methods = ["dense", "static", "set"]
    results: dict[str, list[dict]] = {m: [] for m in methods}
    for r in range(args.repeats):
        for m in methods:
            with tempfile.TemporaryDirectory() as tmp:
                out = subprocess.run(
                    [sys.executable, "-c", WORKER, m, args.dataset, str(args.epochs), str(args.threads), tmp],
                    capture_output=True, text=True, env=os.environ.copy(),
                )
            if out.returncode != 0:
                print(out.stderr, file=sys.stderr)
                return 1
            results[m].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"  repeat {r + 1} {m}: {results[m][-1]['epoch_times']}", file=sys.stderr)

    def median(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2] if len(xs) % 2 else 0.5 * (xs[len(xs) // 2 - 1] + xs[len(xs) // 2])

    rows = {}
    for m in methods:
        # first epoch of a process includes warm-up; use the later ones when there are any
        times = [t for res in results[m] for t in (res["epoch_times"][1:] or res["epoch_times"])]
        rows[m] = {
            "epoch_s": median(times),
            "peak_mb": max(res["peak_rss_mb"] for res in results[m]),
            "edges": sum(results[m][0]["edges"]),
            "acc": results[m][0]["test_acc"],
        }
    print(f"\n784-1000-1000-1000-10 on {args.dataset}, eps=20, {args.threads} threads, "
          f"{args.epochs} epochs x {args.repeats} repeats (median epoch time)")
    print(f"{'method':8s} {'weights':>10s} {'epoch s':>9s} {'x dense':>8s} {'peak MB':>9s} {'x dense':>8s} {'test acc':>9s}")
    for m in methods:
        r = rows[m]
        print(f"{m:8s} {r['edges']:10d} {r['epoch_s']:9.2f} {r['epoch_s'] / rows['dense']['epoch_s']:8.2f} "
              f"{r['peak_mb']:9.0f} {r['peak_mb'] / rows['dense']['peak_mb']:8.2f} {r['acc']:9.4f}")
    print("Masked layers run as dense matmuls, so sparse epochs cost about what dense ones do on CPU;"
          " SET adds its rewiring step once per epoch.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
