"""Overhead of the Dask executor: notebook 02's sweep on the local pool and on a LocalCluster of the same size.

The default profile's sweep of notebook 02 (``notebooks/params/default/
02_sparse_vs_dense.yaml``: Fashion-MNIST, 784-256-256-10, dense plus static at
six ε, three seeds = 21 runs), built by ``sparse_vs_dense.density_grid``, is
trained twice in fresh run stores: by the local executor (joblib pool of
``--workers`` processes, one torch thread each) and by a loopback
``LocalCluster`` of ``--workers`` single-threaded worker processes. The
profile's 30 epochs take hours on a small machine, so ``--epochs`` (default 2)
shortens every run; fewer epochs make the fixed per-task costs weigh more, so
the overhead measured is an upper bound for the full sweep. With
``--repeats`` > 1 the two executors alternate which goes first. On a shared
machine the sweep times vary with the load by more than the executors differ,
so the script also times a map of a trivial function over as many tasks as the
sweep has runs: the executor's own cost, independent of the training.

Times are wall-clock seconds of ``store.sweep`` from call to return. The
cluster is started before its sweep (its start-up is printed apart: a real
cluster is started once for many sweeps); the local pool's process start-up
is inside its sweep, as it is in every notebook. The script checks that both
sweeps gave the same numbers.

    SPARSETOPO_DATA=../shared/data python benchmarks/bench_cluster.py --epochs 2
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TIMING_COLUMNS = ["train_time", "epoch_time"]


def sweep_configs(epochs: int | None, profile: str):
    from sparsetopo.study.sparse_vs_dense import density_grid

    params = yaml.safe_load((ROOT / "notebooks" / "params" / profile / "02_sparse_vs_dense.yaml").read_text())
    return density_grid(params["dataset"], params["hidden"], params["epsilons"], params["seeds"],
                        epochs=epochs or params["epochs"], lr=params["lr"], batch_size=params["batch_size"]), params


def timed_sweep(configs, workers: int, scheduler: str):
    from sparsetopo import store
    from sparsetopo.parallel import use_scheduler

    with tempfile.TemporaryDirectory() as tmp, use_scheduler(scheduler):
        t0 = time.perf_counter()
        frame = store.sweep(configs, n_jobs=workers, root=tmp, progress=False, threads_per_job=1)
        return time.perf_counter() - t0, frame


def dispatch_seconds(n_tasks: int, workers: int, scheduler: str, rounds: int = 5) -> float:
    """Median wall time of mapping a trivial function over ``n_tasks`` items: the executor's own cost."""
    from sparsetopo.parallel import parallel_map

    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        parallel_map(abs, list(range(-n_tasks, 0)), n_jobs=workers, progress=False, scheduler=scheduler)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2, help="epochs per run (default 2; 0 = the profile's)")
    parser.add_argument("--workers", type=int, default=2, help="pool processes = cluster worker processes (default 2)")
    parser.add_argument("--repeats", type=int, default=1, help="sweeps per executor, alternating the order")
    parser.add_argument("--profile", default="default")
    args = parser.parse_args()

    from distributed import LocalCluster

    from sparsetopo.executor import close_clients, get_client

    configs, params = sweep_configs(args.epochs or None, args.profile)
    epochs = configs[0].epochs
    print(f"notebook 02 sweep, profile {args.profile}: {len(configs)} runs of {params['dataset']} "
          f"784-{'-'.join(map(str, params['hidden']))}-10, {epochs} epochs each (profile: {params['epochs']}); "
          f"{args.workers} workers x 1 thread", flush=True)
    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=logging.ERROR)
    get_client(cluster.scheduler_address).wait_for_workers(args.workers)
    startup = time.perf_counter() - t0
    print(f"LocalCluster start-up: {startup:.1f} s (not counted below)", flush=True)
    dispatch = {name: dispatch_seconds(len(configs), args.workers, sched)
                for name, sched in [("local", "local"), ("cluster", cluster.scheduler_address)]}
    print(f"dispatch of {len(configs)} trivial tasks (median of 5, warm pool/cluster): "
          f"local {1000 * dispatch['local']:.0f} ms, cluster {1000 * dispatch['cluster']:.0f} ms", flush=True)
    times: dict[str, list[float]] = {"local": [], "cluster": []}
    frames = {}
    try:
        for r in range(args.repeats):
            order = ["local", "cluster"] if r % 2 == 0 else ["cluster", "local"]
            for name in order:
                scheduler = "local" if name == "local" else cluster.scheduler_address
                seconds, frames[name] = timed_sweep(configs, args.workers, scheduler)
                times[name].append(seconds)
                print(f"  repeat {r + 1} {name:7s}: {seconds:7.1f} s", flush=True)
    finally:
        close_clients()
        cluster.close()
    same = frames["local"].drop(columns=TIMING_COLUMNS).equals(frames["cluster"].drop(columns=TIMING_COLUMNS))
    inside = {name: float(frames[name]["epoch_time"].sum()) for name in frames}
    local, remote = statistics.median(times["local"]), statistics.median(times["cluster"])
    print()
    print(f"{'executor':10s} {'sweep s (median)':>17s} {'ratio':>7s}")
    print(f"{'local':10s} {local:17.1f} {1.0:7.3f}")
    print(f"{'cluster':10s} {remote:17.1f} {remote / local:7.3f}")
    print(f"cluster overhead: {100 * (remote / local - 1):+.1f}% of the local sweep's time (target < 10%)")
    print(f"executor's own cost for the sweep's {len(configs)} tasks: local {dispatch['local']:.2f} s, cluster "
          f"{dispatch['cluster']:.2f} s = {100 * dispatch['cluster'] / local:.2f}% of the local sweep")
    print(f"time inside the runs' epochs (sum of epoch_time; last sweep of each): local {inside['local']:.1f} s, "
          f"cluster {inside['cluster']:.1f} s (ratio {inside['cluster'] / inside['local']:.3f}: "
          "a ratio near the sweep ratio means machine load, not the executor, made the difference)")
    print(f"same metrics on both executors: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
