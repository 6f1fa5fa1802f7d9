"""SET: Sparse Evolutionary Training's prune-and-regrow step.

After every epoch but the last, in every sparse layer, SET removes the
fraction ζ of the *positive* weights closest to zero and the fraction ζ of the
*negative* weights closest to zero, then regrows exactly as many connections at
uniformly random empty positions (Mocanu et al., 2018). Counts are exact, so
the edge count of a layer never drifts. Active weights that are exactly zero
(e.g. regrown at zero and never updated) sit inside the pruning band of the
reference implementation and are removed as well.

Which layers are rewired is the training loop's decision: every sparse hidden
layer, and the output layer only when the run asks for it
(``RunConfig.rewire_output``; both reference implementations never touch it).
"""

from __future__ import annotations

import numpy as np

__all__ = ["prune_and_regrow", "prune_and_regrow_sparse", "REGROW_INITS", "REGROW_SAMPLERS"]

REGROW_INITS = ("zero", "random")
"""Initial values of regrown weights: ``zero`` or ``random`` (the run's initialisation scale)."""
REGROW_SAMPLERS = ("choice", "rejection")
"""How regrown positions are drawn (see :func:`prune_and_regrow`)."""


def prune_and_regrow(
    weight: np.ndarray,
    mask: np.ndarray,
    zeta: float,
    rng: np.random.Generator,
    sampler: str = "choice",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """One SET rewiring of one layer.

    Parameters
    ----------
    weight : float array ``(n_out, n_in)``
        Current weights (absent edges are zero).
    mask : bool array ``(n_out, n_in)``
        Current topology.
    zeta : float in [0, 1)
        Fraction of the positive and of the negative weights removed.
    rng : np.random.Generator
        Chooses the regrown positions.
    sampler : {"choice", "rejection"}
        ``"choice"``: a uniform sample without replacement of the empty
        positions (``Generator.choice``); two layers whose empty positions
        differ at all get unrelated samples from the same generator state.
        ``"rejection"``: uniform flat positions over the whole layer, drawn in
        blocks, each kept when empty and not drawn before, until enough are
        kept (the loop of the SET reference implementations); two layers that
        differ in a few positions and share the generator state regrow mostly
        at the same positions. Both give every set of empty positions of the
        right size the same probability.

    Returns
    -------
    new_mask : bool array ``(n_out, n_in)``
        Topology after pruning and regrowth; same edge count as ``mask``.
    removed : bool array ``(n_out, n_in)``
        Edges that were pruned.
    grown : bool array ``(n_out, n_in)``
        Edges that were added (may include some just removed: regrowth draws
        from every position empty after pruning, as the reference does).
    n_changed : int
        Number of edges removed (= number regrown).
    """
    if not 0 <= zeta < 1:
        raise ValueError(f"zeta must be in [0, 1), got {zeta}")
    if sampler not in REGROW_SAMPLERS:
        raise ValueError(f"sampler must be one of {REGROW_SAMPLERS}, got {sampler!r}")
    flat_w = np.asarray(weight).ravel()
    flat_m = np.asarray(mask, dtype=bool).ravel()
    active = np.flatnonzero(flat_m)
    values = flat_w[active]
    pos = active[values > 0]
    neg = active[values < 0]
    zero = active[values == 0]
    n_pos = int(round(zeta * pos.size))
    n_neg = int(round(zeta * neg.size))
    # stable sorts: ties broken by position, so the result is deterministic
    drop_pos = pos[np.argsort(flat_w[pos], kind="stable")[:n_pos]]
    drop_neg = neg[np.argsort(-flat_w[neg], kind="stable")[:n_neg]]
    drop = np.concatenate([drop_pos, drop_neg, zero])
    new = flat_m.copy()
    new[drop] = False
    empty = np.flatnonzero(~new)
    n_grow = min(drop.size, empty.size)
    if not n_grow:
        grow = np.empty(0, dtype=np.int64)
    elif sampler == "choice":
        grow = rng.choice(empty, size=n_grow, replace=False)
    else:
        grow = _rejection_sample(new, n_grow, rng)
    new[grow] = True
    removed = np.zeros_like(flat_m)
    removed[drop] = True
    grown = np.zeros_like(flat_m)
    grown[grow] = True
    shape = np.shape(mask)
    return new.reshape(shape), removed.reshape(shape), grown.reshape(shape), int(drop.size)


def _rejection_sample(occupied: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct flat positions where ``occupied`` is False, by uniform draws over all positions.

    Draws come in blocks of ``2 n`` (at least 64) from ``rng.integers``; a draw is
    kept when its position is empty and new, in the order drawn. The caller
    guarantees at least ``n`` empty positions.
    """
    taken = occupied.copy()
    out = np.empty(n, dtype=np.int64)
    filled = 0
    while filled < n:
        draws = rng.integers(0, taken.size, size=max(2 * (n - filled), 64))
        for position in draws:
            if not taken[position]:
                taken[position] = True
                out[filled] = position
                filled += 1
                if filled == n:
                    break
    return out


def prune_and_regrow_sparse(
    index: np.ndarray,
    values: np.ndarray,
    shape: tuple[int, int],
    zeta: float,
    rng: np.random.Generator,
    sampler: str = "choice",
    with_sources: bool = False,
) -> tuple[np.ndarray, ...]:
    """:func:`prune_and_regrow` on a layer's edge index set: time and memory linear in its edges.

    The same draws from ``rng`` and the same result as ``prune_and_regrow``
    on the dense ``weight``/``mask`` of the same layer, without building any
    ``(n_out, n_in)`` array:

    - pruning selects the ``n`` smallest positive values (and the ``n``
      negative values closest to zero) with ``np.partition`` and the same tie
      rule as the stable sort (equal values: the lower position first);
    - the ``choice`` sampler draws ``rng.choice(n_empty, n_grow)`` on the
      number of empty positions (numpy draws the same sample indices for an
      integer as for an array of that length) and maps the k-th empty
      position to its flat index by a binary search over the occupied ones;
    - the ``rejection`` sampler draws the same blocks and keeps the same
      draws in the same order, with membership tests by binary search.

    Parameters
    ----------
    index : int64 array ``(n_edges,)``
        The layer's edges as strictly increasing flat row-major positions in
        ``(n_out, n_in)`` (:class:`sparsetopo.topology.sparse.SparseLayer`).
    values : float array ``(n_edges,)``
        The weight of every edge, in the order of ``index`` (CSR order).
    shape : (n_out, n_in)
    zeta, rng, sampler
        As in :func:`prune_and_regrow`.

    Returns
    -------
    new_index : int64 array ``(n_edges,)``
        The edges after pruning and regrowth, sorted; same count as ``index``.
    removed : int64 array
        Pruned positions, sorted (``removed.size`` is the ``n_changed`` of ``prune_and_regrow``).
    grown : int64 array
        Regrown positions, sorted (may include some just removed).
    kept_from : int64 array ``(n_edges,)``, only with ``with_sources``
        For every edge of ``new_index``: the edge id (position in ``index``)
        it was kept from, or -1 for a regrown edge.
    regrown_from : int64 array like ``grown``, only with ``with_sources``
        For every regrown position: its edge id in ``index`` when it was
        pruned at this step and regrown, else -1.

    Sorting is done on the (smaller) sets of regrown positions; the merges
    of sorted runs are linear, so the step is O(n_edges) plus
    O(n_grow log n_grow) for the sample.
    """
    if not 0 <= zeta < 1:
        raise ValueError(f"zeta must be in [0, 1), got {zeta}")
    if sampler not in REGROW_SAMPLERS:
        raise ValueError(f"sampler must be one of {REGROW_SAMPLERS}, got {sampler!r}")
    index = np.asarray(index, dtype=np.int64)
    values = np.asarray(values)
    if values.shape != index.shape:
        raise ValueError(f"values has shape {values.shape} but index {index.shape}; give one value per edge, in index order")
    total = int(shape[0]) * int(shape[1])
    # everything below works on edge ids (positions in ``index``), so no search over the layer is needed
    pos_ids, neg_ids = np.flatnonzero(values > 0), np.flatnonzero(values < 0)
    n_pos = int(round(zeta * pos_ids.size))
    n_neg = int(round(zeta * neg_ids.size))
    drop = values == 0  # present zeros are pruned too
    drop[pos_ids[_smallest(values[pos_ids], n_pos)]] = True
    drop[neg_ids[_smallest(-values[neg_ids], n_neg)]] = True
    removed_ids, kept_ids = np.flatnonzero(drop), np.flatnonzero(~drop)
    removed, kept = index[removed_ids], index[kept_ids]
    n_empty = total - kept.size
    n_grow = min(removed.size, n_empty)
    if not n_grow:
        grown = np.empty(0, dtype=np.int64)
    elif sampler == "choice":
        k = rng.choice(n_empty, size=n_grow, replace=False)
        k.sort()
        grown = _kth_empty(kept, k)
    else:
        grown = np.sort(_rejection_sample_sparse(kept, total, n_grow, rng))
    # merge the two sorted runs (a stable sort finds the runs: linear time)
    both = np.concatenate([kept, grown])
    order = np.argsort(both, kind="stable")
    new_index = both[order]
    if not with_sources:
        return new_index, removed, grown
    from_kept = order < kept.size
    kept_from = np.full(new_index.size, -1, dtype=np.int64)
    kept_from[from_kept] = kept_ids[order[from_kept]]
    at = np.searchsorted(removed, grown)
    hit = removed[np.minimum(at, max(removed.size - 1, 0))] == grown if removed.size else np.zeros(grown.size, bool)
    regrown_from = np.where(hit, removed_ids[np.minimum(at, max(removed.size - 1, 0))] if removed.size else -1, -1)
    return new_index, removed, grown, kept_from, regrown_from.astype(np.int64, copy=False)


def _smallest(keys: np.ndarray, n: int) -> np.ndarray:
    """Positions (into ``keys``) of the ``n`` smallest keys, ties to the lower position: the first ``n`` of a stable argsort, as a set."""
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    if n >= keys.size:
        return np.arange(keys.size, dtype=np.int64)
    threshold = np.partition(keys, n - 1)[n - 1]
    below = np.flatnonzero(keys < threshold)
    tied = np.flatnonzero(keys == threshold)[: n - below.size]
    return np.concatenate([below, tied])


def _member(a: np.ndarray, sorted_b: np.ndarray) -> np.ndarray:
    """Bool array: whether each entry of ``a`` is in the sorted array ``sorted_b``."""
    if sorted_b.size == 0:
        return np.zeros(a.shape, dtype=bool)
    at = np.searchsorted(sorted_b, a)
    return sorted_b[np.minimum(at, sorted_b.size - 1)] == a


def _kth_empty(occupied: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Flat position of the ``k``-th empty position (0-based, in position order) given the sorted occupied ones."""
    # occupied[j] - j empty positions precede occupied[j]; the k-th empty one is k plus the occupied ones it passes
    gaps = occupied - np.arange(occupied.size, dtype=np.int64)
    return np.asarray(k, dtype=np.int64) + np.searchsorted(gaps, k, side="right")


def _first_occurrences(a: np.ndarray) -> np.ndarray:
    """Bool array: True where ``a``'s value appears for the first time (in order)."""
    order = np.argsort(a, kind="stable")
    ordered = a[order]
    first_sorted = np.ones(a.size, dtype=bool)
    first_sorted[1:] = ordered[1:] != ordered[:-1]
    out = np.zeros(a.size, dtype=bool)
    out[order[first_sorted]] = True
    return out


def _rejection_sample_sparse(occupied: np.ndarray, total: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """:func:`_rejection_sample` on the sorted occupied positions: the same blocks, the same kept draws in order."""
    kept = np.empty(0, dtype=np.int64)  # sorted
    out = []
    filled = 0
    while filled < n:
        draws = rng.integers(0, total, size=max(2 * (n - filled), 64))
        first = _first_occurrences(draws)  # a position drawn twice in a block counts once
        new = draws[first & ~_member(draws, occupied) & ~_member(draws, kept)][: n - filled]
        out.append(new)
        kept = np.sort(np.concatenate([kept, new]))  # disjoint: new draws are not in kept
        filled += new.size
    return np.concatenate(out) if out else np.empty(0, dtype=np.int64)
