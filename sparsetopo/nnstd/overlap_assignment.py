"""NNSTD layer matching on the graph of neurons that share an input, certified optimal, memory linear in edges.

The minimum-cost assignment of one layer (``nnstd.distance``) pairs every
neuron ``a`` of the first network with a neuron ``b`` of the second at cost
``(|A ∪ B| - |A ∩ B|) / |A ∪ B|``. A pair without a shared input costs
exactly 1, so the optimum is ``n`` minus a maximum-weight matching of the
*overlap graph* (pairs with ``|A ∩ B| >= 1``), every neuron left out of it
paired at cost 1. At ε = 20 (about 40 inputs per neuron and 40 neurons per
input) that graph has about ``1,600 n`` pairs: 1.6e8 at 100,000 neurons,
too many to hold, and a shortest-augmenting-path solver on it grows as
``n**2`` because the problem is very degenerate (almost every pair shares
exactly one input and costs nearly the same).

This module solves it with memory linear in the layer's edges and a
certificate of optimality:

1. **Candidates.** One pass over the overlap graph (a sparse product row by
   row with a dense counter, never stored) keeps the pairs sharing at least
   two inputs and, per neuron, the ``single_kept`` cheapest pairs sharing
   one (cheapest: smallest partner, ties to the lower index); a neuron with
   at most :data:`ALL_KEPT` overlapping partners keeps them all.
2. **Square problem.** The matching problem on the candidates is written as
   a square assignment: rows are the first network's neurons and one dummy
   per second-network neuron, columns the second network's neurons and one
   dummy per first-network neuron; ``a -> dummy(a)`` costs 1 (``a`` left
   unmatched), ``dummy(b) -> b`` costs 0 and ``dummy(b) -> dummy(a)``
   costs 0 for every ``a`` and ``b``. Its perfect matchings give exactly
   the matchings of the candidate graph, at the NNSTD cost (a matched ``a``
   leaves ``dummy(a)`` to the dummy row of some matched ``b``).
3. **Auction.** A Gauss–Seidel auction with ε-scaling (Bertsekas) on the
   square problem. The dummy rows reach every dummy column at cost 0; they
   are not stored, a min-tree of the dummy columns' prices answers their
   bids. ε ends at :data:`EPSILONS`' last value.
4. **Certificate on the whole overlap graph.** A second pass over the
   overlap graph evaluates every pair left out in step 1 under the final
   prices. Pairs that would lower their row's dual by more than the last ε
   join the candidates and steps 2–4 repeat. Otherwise the row minima and
   prices form a feasible dual of the problem on *all* pairs (LP duality),
   so the assignment's cost is at most ``info["gap"] = primal - dual`` above
   the optimum of the full NNSTD layer: the dense solver's cost, within that
   certified gap (measured: 0 difference against ``linear_sum_assignment``
   up to 5,000 neurons; at 100,000 neurons a gap of 6e-10 in layer distance).

Tie rule (pinned; ``match_overlap`` is deterministic): rows are auctioned
from a stack, lowest index first, and a bid goes to the lowest column index
among equally cheap ones; neurons without inputs on both sides are paired in
index order (cost 0); every other neuron left unmatched is paired with the
remaining second-network neurons in ascending order (cost 1). Among tied
optimal matchings this may choose another one than the dense solver; the
layer cost is the same.

Costs are computed as ``edits / union`` in float64, the published order of
operations (``nnstd.distance``), so every pair costs the same bits as in the
dense cost matrix. The kernels are compiled with numba on first use (cached
on disk).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["ALL_KEPT", "EPSILONS", "SINGLE_KEPT", "match_overlap"]

SINGLE_KEPT = 4
"""Pairs that share exactly one input kept per neuron as candidates before the certificate (the cheapest)."""

ALL_KEPT = 32
"""A neuron with at most this many overlapping partners keeps them all as candidates (sparse layers: one round)."""

EPSILONS = tuple(1e-2 * 0.2**k for k in range(11))
"""The auction's ε-scaling phases (costs lie in [0, 1]), from 1e-2 down to 1.0e-9.

The assignment is then within ``2 n`` times the last ε of the optimum (ε-complementary slackness over the
``2 n`` rows of the square problem); the certificate (``info["gap"]``) is usually tighter: 6.2e-5 for a
100,000-neuron layer at ε = 20, i.e. 6.2e-10 of layer distance."""

_MAX_ROUNDS = 50
"""Certificate rounds before giving up (each adds every violating pair; one or two suffice in practice)."""

_KERNELS = None


def _kernels():
    """Compile (or load from numba's cache) the kernels once per process."""
    global _KERNELS
    if _KERNELS is None:
        from . import _overlap_kernels

        _KERNELS = _overlap_kernels
    return _KERNELS


def match_overlap(
    first: sp.csr_matrix, second: sp.csr_matrix, *, single_kept: int = SINGLE_KEPT
) -> tuple[float, np.ndarray, dict]:
    """Optimal one-to-one matching of two layers of the same shape by the overlap graph.

    Parameters
    ----------
    first, second : scipy.sparse.csr_matrix, ``(n, n_in)``
        Binary masks with sorted indices and no duplicates (any stored entry
        is an edge); the second one's inputs already renumbered.
    single_kept : int
        Pairs sharing one input kept per neuron in the first candidate set
        (a speed setting: the certificate adds whatever is missing).

    Returns
    -------
    total_cost : float
        Minimum total cost, the sum of the matched pairs' costs.
    matching : np.ndarray
        ``(n,)`` int64; ``matching[a]`` is the second network's neuron
        matched to the first network's neuron ``a``.
    info : dict
        ``candidates`` (pairs in the last solve), ``rounds`` (certificate
        passes), ``overlapping_pairs`` (pairs sharing an input), ``gap``
        (certified bound on ``total_cost`` minus the optimum).
    """
    if first.shape != second.shape:
        raise ValueError(f"match_overlap needs layers of the same shape, got {first.shape} and {second.shape}")
    if single_kept < 0:
        raise ValueError(f"single_kept must be >= 0, got {single_kept}")
    kernels = _kernels()
    n, n_in = first.shape
    a_ptr = first.indptr.astype(np.int64)
    a_idx = first.indices.astype(np.int64)
    second_t = second.T.tocsr()
    second_t.sort_indices()
    bt_ptr = second_t.indptr.astype(np.int64)
    bt_idx = second_t.indices.astype(np.int64)
    size_a = np.diff(a_ptr)
    size_b = np.diff(second.indptr.astype(np.int64))

    rows, cols, costs, overlapping = kernels.candidates(
        a_ptr, a_idx, bt_ptr, bt_idx, size_a, size_b, n, single_kept, ALL_KEPT
    )
    epsilons = np.asarray(EPSILONS, dtype=np.float64)
    final_eps = float(epsilons[-1])
    prices = np.zeros(2 * n, dtype=np.float64)
    phases = epsilons
    rounds = 0
    for _ in range(_MAX_ROUNDS):
        rounds += 1
        ptr, idx, cost = kernels.row_graph(n, rows, cols, costs)
        col_of_row = kernels.auction(n, ptr, idx, cost, prices, phases)
        # the first network's rows: their assigned costs (the dummy rows' cost 0) and dual values
        assigned, row_min = kernels.row_summary(ptr, idx, cost, prices, col_of_row[:n])
        minima, new_rows, new_cols, new_costs = kernels.full_minima(
            a_ptr, a_idx, bt_ptr, bt_idx, size_a, size_b, n, rows, cols, row_min, prices, final_eps
        )
        if new_rows.size == 0:
            break
        rows, cols, costs = _merge(n, rows, cols, costs, new_rows, new_cols, new_costs)
        # the prices stay; the next round's ε starts at the largest violation (ε-scaling from warm prices)
        violation = float(np.max(row_min[:n] - minima[:n]))
        phases = epsilons[np.searchsorted(-epsilons, -violation) - 1 if violation < epsilons[0] else 0:]
    else:  # pragma: no cover - the candidates have always been completed within two rounds
        raise RuntimeError(f"match_overlap: pairs still missing from the candidates after {_MAX_ROUNDS} rounds")
    # LP duality: row minima minus prices is a feasible dual of the square problem on *all* overlapping
    # pairs (the dummy row of b: the cheaper of column b and the cheapest dummy column), so the optimum
    # is at least `dual` and the assignment is within `primal - dual` of it
    dummy_minima = np.minimum(prices[:n], prices[n:].min()) if n else prices[:0]
    primal = float(assigned.sum())
    dual = float(minima.sum() + dummy_minima.sum() - prices.sum())
    info = {
        "overlapping_pairs": int(overlapping),
        "candidates": int(rows.size),
        "rounds": rounds,
        "gap": max(primal - dual, 0.0),
    }

    matching = col_of_row[:n].copy()
    matching[matching >= n] = -1  # matched to its dummy (cost 1): left unmatched, paired below
    pair_cost = assigned
    _pair_leftovers(matching, size_a, size_b, pair_cost)
    return float(pair_cost.sum()), matching, info


def _merge(n, rows, cols, costs, new_rows, new_cols, new_costs):
    """Candidates plus new pairs, sorted by (row, column)."""
    rows = np.concatenate([rows, new_rows])
    cols = np.concatenate([cols, new_cols])
    costs = np.concatenate([costs, new_costs])
    order = np.argsort(rows * n + cols, kind="stable")
    return rows[order], cols[order], costs[order]


def _pair_leftovers(matching: np.ndarray, size_a: np.ndarray, size_b: np.ndarray, pair_cost: np.ndarray) -> None:
    """Pair unmatched neurons: empty with empty (cost 0) in index order, then the rest in ascending order (cost 1)."""
    n = matching.size
    taken = np.zeros(n, dtype=bool)
    taken[matching[matching >= 0]] = True
    free_rows = np.flatnonzero(matching < 0)
    free_cols = np.flatnonzero(~taken)
    empty_rows = free_rows[size_a[free_rows] == 0]
    empty_cols = free_cols[size_b[free_cols] == 0]
    couples = min(empty_rows.size, empty_cols.size)
    matching[empty_rows[:couples]] = empty_cols[:couples]
    pair_cost[empty_rows[:couples]] = 0.0
    rest_rows = np.setdiff1d(free_rows, empty_rows[:couples], assume_unique=True)
    rest_cols = np.setdiff1d(free_cols, empty_cols[:couples], assume_unique=True)
    matching[rest_rows] = rest_cols
    pair_cost[rest_rows] = 1.0
