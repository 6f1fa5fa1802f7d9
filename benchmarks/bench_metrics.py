"""How long does the metric panel take, with its null model?

Prints the wall time of the whole single-topology panel
(:data:`sparsetopo.metrics.registry.PANEL`) plus ``draws`` null draws
(:func:`sparsetopo.metrics.compare.null_panel`), for both null models, on

1. one published 784-784-784-784-10 network (e5_s0_w0 at epoch 190, from
   ``$SPARSETOPO_DATA``; random masks of the same edge counts when the data
   root lacks it);
2. one 10,000 x 10,000 layer at ε = 20 (``20 * (n_in + n_out)`` = 400,000
   edges, density 0.4%), held as a scipy CSR matrix: the panel never makes it
   dense (``second_singular_value`` uses ``scipy.sparse.linalg.svds``).

Run: ``python benchmarks/bench_metrics.py [--draws 16]`` (a few minutes on two cores).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp

from sparsetopo.metrics.compare import null_panel
from sparsetopo.metrics.graph import as_graph
from sparsetopo.metrics.registry import METRICS, PANEL
from sparsetopo.topology.masks import edges_for_epsilon, load_published, random_topology


def published_network() -> tuple[list, str]:
    from sparsetopo.study.published import published_root

    root = published_root()
    if root is not None:
        return load_published(root / "e5_s0_w0", 190), "published e5_s0_w0, epoch 190"
    counts = [3660, 3300, 3066, 7840]
    return random_topology((784, 784, 784, 784, 10), layer_edges=counts, seed=0), "random stand-in (no data root)"


def wide_layer(n: int = 10_000, epsilon: float = 20, seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    n_edges = edges_for_epsilon(epsilon, n, n)
    index = rng.choice(n * n, size=n_edges, replace=False)
    rows, cols = np.divmod(index, n)
    return sp.csr_matrix((np.ones(n_edges, dtype=bool), (rows, cols)), shape=(n, n))


def time_panel(topology, draws: int, null: str) -> tuple[float, float]:
    start = time.perf_counter()
    graph = as_graph(topology)
    for name in PANEL:
        METRICS[name].func(graph)
    alone = time.perf_counter() - start
    start = time.perf_counter()
    null_panel(topology, null=null, draws=draws, seed=0)
    return alone, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=16)
    args = parser.parse_args()
    network, source = published_network()
    cases = [(f"784-784-784-784-10 ({source})", network), ("one 10,000 x 10,000 layer, eps=20 (400,000 edges)", [wide_layer()])]
    print(f"panel: {len(PANEL)} metrics ({', '.join(PANEL)})")
    print(f"{'network':<62} {'null':<7} {'panel alone':>12} {'panel + ' + str(args.draws) + ' null draws':>24}")
    for label, topology in cases:
        for null in ("er", "degree"):
            alone, with_null = time_panel(topology, args.draws, null)
            print(f"{label:<62} {null:<7} {alone:>11.2f}s {with_null:>23.1f}s", flush=True)


if __name__ == "__main__":
    main()
