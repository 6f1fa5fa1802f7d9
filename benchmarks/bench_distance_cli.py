"""Wall time of ``sparsetopo distance --matrix`` as a whole process, two checkouts side by side.

Runs the command over the ten published networks at one epoch (``--no-cache``, so every pair is computed)
from two source trees, alternating A, B, A, B, ... so that both see the same machine load, and prints per
tree the min / median / max wall time, user and system CPU time, the peak resident memory of the largest
process (``os.wait4``: the command or one of its workers, whichever peaked highest; forked workers share
most of their pages with the command, so the pages are not added up), the ratio of the medians, and the
1-minute load average seen at the start of the runs. Every run's CSV files and printed table are compared
with the first run of tree A: the script fails if any differ.

    python benchmarks/bench_distance_cli.py --a /path/to/old/checkout --b . --rounds 6

On a shared machine, ``--wait-idle 3`` starts each run only once the CPUs have been at least 90% idle for 3 s
(read from ``/proc/stat``, Linux; at most ``--wait-max`` seconds per run, then it runs anyway and says so).

``--a``/``--b`` are put first on ``PYTHONPATH`` and the command runs as ``python -m sparsetopo``, so each run
is that tree's package and its own entry point. Needs the published topologies under ``$SPARSETOPO_DATA``. Extra arguments after ``--`` are added to
both commands (e.g. ``-- --n-jobs 1``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def command(runs: list[Path], epoch: int, out: Path, extra: list[str]) -> list[str]:
    # `python -m sparsetopo` in both trees: the installed script's entry point may not exist in the other one
    return [sys.executable, "-m", "sparsetopo", "distance", "--matrix", *map(str, runs), "--epoch", str(epoch), "--out", str(out),
            "--no-cache", *extra]


def _cpu_ticks() -> tuple[int, int]:
    """(busy, idle) jiffies of all CPUs since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle, idle


def wait_idle(window: float, limit: float) -> float:
    """Wait until the CPUs were >= 90% idle over ``window`` seconds; returns the seconds waited (-1: gave up)."""
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        busy0, idle0 = _cpu_ticks()
        time.sleep(window)
        busy1, idle1 = _cpu_ticks()
        if idle1 - idle0 >= 9 * (busy1 - busy0):
            return time.perf_counter() - start
    return -1.0


def run_once(tree: Path, argv: list[str], out: Path) -> dict:
    """One whole-process run; wall time, CPU times, peak RSS and what it wrote."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    shutil.rmtree(out, ignore_errors=True)
    load = os.getloadavg()[0]
    with tempfile.TemporaryFile() as stdout:
        start = time.perf_counter()
        # from the tree itself: `python -m` puts the working directory before PYTHONPATH
        proc = subprocess.Popen(argv, env=env, cwd=tree, stdout=stdout, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        printed = stdout.read().decode().replace(str(out), "OUT")
    if proc.returncode != 0:
        raise SystemExit(f"{tree}: exit code {proc.returncode} for {' '.join(argv)}")
    files = {p.name: p.read_bytes() for p in sorted(out.glob("*.csv"))}
    return {"wall": wall, "user": usage.ru_utime, "sys": usage.ru_stime, "rss_mib": usage.ru_maxrss / 1024,
            "load": load, "files": files, "printed": printed}


def summary(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", type=Path, required=True, help="source tree A (e.g. the checkout before a change)")
    parser.add_argument("--b", type=Path, default=Path(__file__).resolve().parents[1], help="source tree B")
    parser.add_argument("--rounds", type=int, default=6, help="runs of each tree (default 6)")
    parser.add_argument("--epoch", type=int, default=190)
    parser.add_argument("--data", type=Path, default=None, help="data root (default $SPARSETOPO_DATA)")
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                        help="start each run after the CPUs were >= 90%% idle for this long (default 0: at once)")
    parser.add_argument("--wait-max", type=float, default=120.0, help="give up waiting after this many seconds")
    parser.add_argument("extra", nargs="*", help="arguments added to both commands (after --)")
    args = parser.parse_args()
    data = args.data or Path(os.environ.get("SPARSETOPO_DATA", ""))
    topo = data / "official_nnstd_topo" / "topo"
    runs = [topo / f"e5_s0_w{i}" for i in range(10)]
    if not all(r.is_dir() for r in runs):
        raise SystemExit(f"the published runs are not under {topo}; set SPARSETOPO_DATA or --data")
    trees = {"A": args.a.resolve(), "B": args.b.resolve()}
    results: dict[str, list[dict]] = {"A": [], "B": []}
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "out"
        print(f"cores {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()}, "
              f"command: {' '.join(command(runs, args.epoch, Path('OUT'), args.extra))}")
        for r in range(args.rounds):
            for name, tree in trees.items():
                waited = wait_idle(args.wait_idle, args.wait_max) if args.wait_idle > 0 else 0.0
                if waited < 0:
                    print(f"round {r + 1} {name}: the CPUs were not idle within {args.wait_max:.0f} s; running anyway")
                res = run_once(tree, command(runs, args.epoch, out, args.extra), out)
                results[name].append(res)
                print(f"round {r + 1} {name}: wall {res['wall']:.2f} s, user {res['user']:.2f} s, "
                      f"sys {res['sys']:.2f} s, peak RSS {res['rss_mib']:.0f} MiB, load {res['load']:.2f}",
                      flush=True)
    reference = results["A"][0]
    identical = all(res["files"] == reference["files"] and res["printed"] == reference["printed"]
                    for name in results for res in results[name])
    print()
    print("tree | wall min / median / max (s) | user (s) | sys (s) | peak RSS (MiB) | load at start")
    for name, tree in trees.items():
        rs = results[name]
        print(f"{name} {tree} | {summary([r['wall'] for r in rs])} | {summary([r['user'] for r in rs])} | "
              f"{summary([r['sys'] for r in rs])} | {summary([r['rss_mib'] for r in rs])} | "
              f"{summary([r['load'] for r in rs])}")
    ratio = statistics.median(r["wall"] for r in results["B"]) / statistics.median(r["wall"] for r in results["A"])
    print(f"median wall B / A: {ratio:.3f}")
    print(f"CSV files ({len(reference['files'])}) and printed table identical in all runs: {identical}")
    if not identical:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
