"""How fast is sparsetopo's NNSTD, and how much memory does it take?

Compares, in one run, :mod:`sparsetopo.nnstd.distance` with straightforward reference
implementations of the published algorithm written here, and prints a table:

1. one 784-wide layer pair (the real published layer-1 pair e5_s0_w1 vs
   e5_s0_w0 at epoch 190 when ``$SPARSETOPO_DATA`` has it, else random masks
   of the same shape and density ~0.6%): speedup over
   a. the published code's per-pair routine (``np.intersect1d``,
      ``np.delete``, ``np.unique`` for every pair of neurons), and
   b. a Python loop over neuron pairs on Python sets,
   both followed by a dense ``linear_sum_assignment`` (target >= 500x);
2. the full 10 x 10 NNSTD matrix over all four layers at one epoch, in one
   and in two processes, no cache (target < 10 s);
3. one 10,000-neuron layer pair at 1% density, in a fresh process so that
   its peak RSS is its own (target < 60 s and < 4 GB), with the automatic
   choice of solver and with the sparse solver forced; plus the same width
   at 0.1% density, where ``auto`` takes the sparse path.

4. ``--epsilon20 W [W ...]``: two independent Erdős–Rényi layers of W
   neurons and W inputs at SET's ε = 20 (``round(20 (W + W))`` edges, about
   40 inputs per neuron), drawn as index sets, each width in a fresh
   process: the overlap-graph solver (``method="sparse"``, numba compiled
   and warmed on a small pair first, its compile time printed apart), its
   time, peak RSS, the certified gap and the pairs it looked at; up to
   5,000 neurons also the dense solver's time and the difference of the two
   optima (target: 100,000 neurons within 60 s and 4 GB, equal to the dense
   solver wherever both run).

Run: ``python benchmarks/bench_nnstd.py`` (a few minutes on two cores);
``python benchmarks/bench_nnstd.py --epsilon20 5000 20000 100000`` (about 2 minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from sparsetopo.nnstd.distance import match_layer
from sparsetopo.nnstd.pairwise import pairwise_nnstd
from sparsetopo.topology.masks import load_published, random_mask, random_topology

EPOCH = 190
WIDTHS = (784, 784, 784, 784, 10)
DENSITY = 0.006


# ---------------------------------------------------------------------------
# reference implementations of the published algorithm
# ---------------------------------------------------------------------------


def published_pair_cost(a: np.ndarray, b: np.ndarray) -> float:
    """The published ``getNormalizedEditDistance`` of two sorted index arrays."""
    if len(a) == 0 and len(b) == 0:
        return 0
    intersect, ind_a, ind_b = np.intersect1d(a, b, return_indices=True)
    if intersect.shape[0] > 0:
        edit = np.delete(a, ind_a).shape[0] + np.delete(b, ind_b).shape[0]
        return edit / np.unique(np.concatenate((a, b), axis=0)).shape[0]
    return 1


def set_pair_cost(a: set, b: set) -> float:
    """Edits over union with Python sets, the same float64 order."""
    union = len(a | b)
    return 0.0 if union == 0 else len(a ^ b) / union


def reference_layer(first: np.ndarray, second: np.ndarray, *, use_sets: bool) -> tuple[float, np.ndarray]:
    """Python loop over all neuron pairs, then dense ``linear_sum_assignment``.

    ``first``, ``second``: ``(n_out, n_in)`` bool masks.
    """
    n = first.shape[0]
    inputs_first = [np.flatnonzero(row) for row in first]
    inputs_second = [np.flatnonzero(row) for row in second]
    if use_sets:
        inputs_first = [set(x.tolist()) for x in inputs_first]
        inputs_second = [set(x.tolist()) for x in inputs_second]
    pair_cost = set_pair_cost if use_sets else published_pair_cost
    costs = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            costs[i, j] = pair_cost(inputs_first[i], inputs_second[j])
    rows, cols = linear_sum_assignment(costs)
    return float(costs[rows, cols].sum()), cols


# ---------------------------------------------------------------------------
# cases
# ---------------------------------------------------------------------------


def published_root() -> Path | None:
    data = os.environ.get("SPARSETOPO_DATA")
    root = Path(data) / "official_nnstd_topo" / "topo" if data else None
    return root if root is not None and root.is_dir() else None


def load_networks(root: Path | None) -> tuple[list, str]:
    if root is not None:
        return [load_published(root / f"e5_s0_w{w}", EPOCH) for w in range(10)], f"published, epoch {EPOCH}"
    return [random_topology(WIDTHS, density=DENSITY, seed=s) for s in range(10)], f"random, density {DENSITY}"


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_layer_pair(networks: list) -> list[dict]:
    first, second = networks[1][1], networks[0][1]
    ours_cost, ours_matching = match_layer(first, second, method="auto")
    ours = best_time(lambda: match_layer(first, second, method="auto"), repeats=7)
    rows = []
    for label, use_sets in (("published per-pair numpy", False), ("Python sets", True)):
        start = time.perf_counter()
        ref_cost, ref_matching = reference_layer(first, second, use_sets=use_sets)
        reference = time.perf_counter() - start
        assert abs(ref_cost - ours_cost) < 1e-9, (ref_cost, ours_cost)
        same = bool(np.array_equal(ref_matching, ours_matching))
        rows.append({
            "case": f"784-wide layer pair vs {label}",
            "reference_s": reference, "sparsetopo_s": ours,
            "result": f"{reference / ours:,.0f}x faster (target >= 500x); same matching: {same}",
        })
    return rows


def bench_matrix(networks: list, source: str) -> list[dict]:
    rows = []
    for n_jobs in (1, 2):
        start = time.perf_counter()
        matrix = pairwise_nnstd(networks, n_jobs=n_jobs, use_cache=False, progress=False)
        elapsed = time.perf_counter() - start
        off_diagonal = matrix.mean[~np.eye(len(networks), dtype=bool)].mean()
        rows.append({
            "case": f"10x10 matrix, 4 layers ({source}), n_jobs={n_jobs}",
            "reference_s": None, "sparsetopo_s": elapsed,
            "result": (f"target < 10 s{' (incl. cold start of the workers)' if n_jobs > 1 else ''}; "
                       f"mean off-diagonal NNSTD {off_diagonal:.4f}"),
        })
    return rows


def child_layer(width: int, density: float, method: str) -> None:
    """Run in a fresh process: one random layer pair; print time and peak RSS."""
    rng = np.random.default_rng(0)
    n_edges = int(round(density * width * width))
    first, second = random_mask(width, width, n_edges, rng), random_mask(width, width, n_edges, rng)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    cost, _ = match_layer(first, second, method=method)
    elapsed = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"seconds": elapsed, "peak_gb": peak_kib * 1024 / 1e9,
                      "inputs_gb": before * 1024 / 1e9, "distance": cost / width}))


def bench_wide(width: int, density: float, method: str) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child-layer", str(width), str(density), method],
        check=True, capture_output=True, text=True,
    ).stdout
    measured = json.loads(output.strip().splitlines()[-1])
    return {
        "case": f"{width:,}-neuron layer pair, density {density:.1%}, method={method}",
        "reference_s": None, "sparsetopo_s": measured["seconds"],
        "result": (f"peak RSS {measured['peak_gb']:.2f} GB (process incl. masks {measured['inputs_gb']:.2f} GB before); "
                   f"distance {measured['distance']:.4f}; target < 60 s, < 4 GB"),
    }


def _epsilon20_layer(width: int, seed: int):
    import scipy.sparse as sp

    from sparsetopo.nnstd.distance import _sparse_as_csr
    from sparsetopo.topology.sparse import random_sparse_layer

    layer = random_sparse_layer(width, width, int(round(20 * (width + width))), np.random.default_rng(seed))
    rows, cols = np.divmod(np.asarray(layer.index, dtype=np.int64), width)
    return _sparse_as_csr(sp.csr_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(width, width)), "layer")


def child_epsilon20(width: int) -> None:
    """Run in a fresh process: one ε = 20 layer pair on the overlap-graph solver; print a JSON line."""
    from sparsetopo.nnstd.overlap_assignment import match_overlap

    start = time.perf_counter()
    match_overlap(_epsilon20_layer(300, 0), _epsilon20_layer(300, 1))  # numba: compile or load the cache
    compile_s = time.perf_counter() - start
    first, second = _epsilon20_layer(width, 1), _epsilon20_layer(width, 2)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    total, _, info = match_overlap(first, second)
    elapsed = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    out = {"width": width, "edges": int(first.nnz), "seconds": elapsed, "compile_s": compile_s,
           "peak_gb": peak_kib * 1024 / 1e9, "before_gb": before * 1024 / 1e9, "distance": total / width, **info}
    if width <= 5_000:
        from sparsetopo.nnstd.distance import match_layer

        start = time.perf_counter()
        dense_total, _ = match_layer(first, second, method="exact")
        out["dense_seconds"] = time.perf_counter() - start
        out["difference"] = total - dense_total
    print(json.dumps(out))


def bench_epsilon20(widths: list[int]) -> None:
    print(f"{'neurons':>8} {'edges/layer':>11} {'overlapping pairs':>17} {'candidates':>10} {'rounds':>6} "
          f"{'sparse s':>8} {'peak RSS GB':>11} {'distance':>10} {'certified gap':>13} {'dense s':>7} "
          f"{'sparse - dense':>14}", flush=True)
    for width in widths:
        output = subprocess.run([sys.executable, __file__, "--child-epsilon20", str(width)],
                                check=True, capture_output=True, text=True).stdout
        m = json.loads(output.strip().splitlines()[-1])
        dense = f"{m['dense_seconds']:7.2f}" if "dense_seconds" in m else f"{'-':>7}"
        diff = f"{m['difference']:14.1e}" if "difference" in m else f"{'-':>14}"
        print(f"{width:>8,} {m['edges']:>11,} {m['overlapping_pairs']:>17,} {m['candidates']:>10,} {m['rounds']:>6} "
              f"{m['seconds']:8.2f} {m['peak_gb']:11.2f} {m['distance']:10.6f} {m['gap']:13.1e} {dense} {diff}"
              f"   (compile/cache load {m['compile_s']:.1f} s)", flush=True)


def print_table(rows: list[dict]) -> None:
    width = max(len(r["case"]) for r in rows)
    print(f"{'case':<{width}}  {'reference':>10}  {'sparsetopo':>10}  result")
    print("-" * (width + 40))
    for r in rows:
        ref = f"{r['reference_s']:.2f} s" if r["reference_s"] is not None else "-"
        print(f"{r['case']:<{width}}  {ref:>10}  {r['sparsetopo_s']:>8.3f} s  {r['result']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child-layer", nargs=3, metavar=("WIDTH", "DENSITY", "METHOD"), help=argparse.SUPPRESS)
    parser.add_argument("--skip-wide", action="store_true", help="skip the 10,000-neuron cases")
    parser.add_argument("--child-epsilon20", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--epsilon20", type=int, nargs="+", metavar="W",
                        help="only the ε = 20 overlap-graph solver at these widths (section 4)")
    args = parser.parse_args()
    if args.child_epsilon20:
        child_epsilon20(args.child_epsilon20)
        return
    if args.epsilon20:
        print(f"cpu cores: {os.cpu_count()}; load average {os.getloadavg()[0]:.2f}", flush=True)
        bench_epsilon20(args.epsilon20)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        return
    if args.child_layer:
        child_layer(int(args.child_layer[0]), float(args.child_layer[1]), args.child_layer[2])
        return
    networks, source = load_networks(published_root())
    print(f"networks: {source}; cpu cores: {os.cpu_count()}", flush=True)
    rows = bench_layer_pair(networks)
    rows.extend(bench_matrix(networks, source))
    if not args.skip_wide:
        rows.append(bench_wide(10_000, 0.01, "auto"))
        rows.append(bench_wide(10_000, 0.01, "sparse"))
        rows.append(bench_wide(10_000, 0.001, "auto"))
    print()
    print_table(rows)


if __name__ == "__main__":
    main()
