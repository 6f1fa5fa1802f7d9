"""Null models: random topologies that keep chosen properties of a network.

The chance level of a statement about a network ("as far apart as random",
"more skewed than random") depends on which random networks it is compared
with. Two null models are shared by NNSTD's random baseline
(:func:`sparsetopo.nnstd.pairwise.random_baseline`) and the topology metrics
(:mod:`sparsetopo.metrics`):

``"er"`` (:func:`erdos_renyi`)
    Erdős–Rényi with exact counts: every layer keeps its shape and its number
    of edges; the positions are uniform. A full layer stays full.
``"degree"`` (:func:`degree_preserving`)
    Every layer keeps its shape and *both* degree sequences: each output
    neuron keeps its number of inputs and each input column its number of
    outputs. Drawn by double-edge swaps started from the network itself.

Both return the topology in the form they were given: boolean numpy masks
(2-D ``(n_out, n_in)`` or 4-D ``(out_channels, in_channels, kh, kw)``) stay
numpy masks, scipy sparse layers come back as CSR matrices, so a layer of
10,000 neurons never becomes a dense array. A convolution is treated as its
flattened ``(out_channels, in_channels * kh * kw)`` layer (the view NNSTD
uses), so the degree-preserving null keeps the number of weights of every
output channel and of every (input channel, kernel position).

Randomness comes only from ``seed`` (an int or a ``numpy.random.Generator``);
the same seed gives the same draw.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import scipy.sparse as sp

__all__ = [
    "NULLS",
    "DEFAULT_SWAPS_PER_EDGE",
    "erdos_renyi",
    "degree_preserving",
    "draw_null",
    "double_edge_swaps",
    "degree_sequences",
]

DEFAULT_SWAPS_PER_EDGE = 10.0
"""Attempted double-edge swaps per edge of a layer in :func:`degree_preserving`. Ten is past the point where the
NNSTD of a draw to its start stops growing (``tests/library/test_nulls.py`` pins the saturation on a small
network)."""


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _layer_list(topology: Any) -> list:
    topology = getattr(topology, "masks", topology)
    if isinstance(topology, np.ndarray) and topology.ndim in (2, 4) or sp.issparse(topology):
        return [topology]
    layers = list(topology)
    if not layers:
        raise ValueError("topology is empty; a null model needs at least one layer")
    return layers


def _as_flat(layer: Any, k: int) -> tuple[Any, tuple[int, ...], bool]:
    """``(flat layer, original shape, is_sparse)``; flat is CSR bool or a 2-D bool array."""
    if sp.issparse(layer):
        if layer.ndim != 2:
            raise ValueError(f"topology[{k}] is a sparse array of {layer.ndim} dimensions; a layer is 2-D (n_out, n_in)")
        flat = sp.csr_matrix(layer, copy=True)
        flat.eliminate_zeros()
        return (flat != 0).tocsr(), tuple(flat.shape), True
    if hasattr(layer, "detach"):
        layer = layer.detach().cpu().numpy()
    mask = np.asarray(layer)
    if mask.ndim not in (2, 4):
        raise ValueError(
            f"topology[{k}] has shape {mask.shape}; a layer is a 2-D (n_out, n_in) or a 4-D "
            "(out_channels, in_channels, kh, kw) mask"
        )
    if mask.dtype != bool:
        if not np.issubdtype(mask.dtype, np.number) or np.iscomplexobj(mask):
            raise ValueError(f"topology[{k}] has dtype {mask.dtype}; a layer must be a bool mask or numeric weights")
        if np.issubdtype(mask.dtype, np.floating) and np.isnan(mask).any():
            raise ValueError(f"topology[{k}] contains NaN weights; replace NaN by 0 to mark absent edges")
        mask = mask != 0
    return mask.reshape(mask.shape[0], -1), tuple(mask.shape), False


def _from_flat_index(index: np.ndarray, flat_shape: tuple[int, int], shape: tuple[int, ...], sparse: bool):
    n_out, n_in = flat_shape
    if sparse:
        rows, cols = np.divmod(np.sort(index.astype(np.int64)), n_in)
        data = np.ones(rows.size, dtype=bool)
        return sp.csr_matrix((data, (rows, cols)), shape=flat_shape)
    flat = np.zeros(n_out * n_in, dtype=bool)
    flat[index] = True
    return flat.reshape(shape)


def erdos_renyi(topology: Sequence[Any], seed: int | np.random.Generator = 0) -> list:
    """Random layers with the shapes and exact per-layer edge counts of ``topology``.

    Positions are uniform within each layer (a convolution's over all
    ``(out_channel, in_channel, row, col)`` positions). A full layer stays full
    and draws nothing. For numpy masks this draws exactly what
    :func:`sparsetopo.topology.masks.random_topology` with
    ``layer_edges=edge_counts(topology)`` and
    :func:`sparsetopo.topology.layered.random_like` draw from the same
    generator (the same calls, in the same order), so NNSTD's random baseline
    keeps its numbers and cache entries.

    Parameters
    ----------
    topology : sequence of layers
        numpy masks or weights (2-D or 4-D), torch tensors, or scipy sparse
        2-D matrices; non-zero entries are edges.
    seed : int or np.random.Generator

    Returns
    -------
    list
        One layer per input layer: bool arrays of the same shapes, or CSR
        bool matrices for sparse input.
    """
    rng = _rng(seed)
    out = []
    for k, layer in enumerate(_layer_list(topology)):
        flat, shape, sparse = _as_flat(layer, k)
        total = flat.shape[0] * flat.shape[1]
        n_edges = int(flat.nnz if sparse else np.count_nonzero(flat))
        if n_edges == total:
            out.append(sp.csr_matrix(np.ones(flat.shape, dtype=bool)) if sparse else np.ones(shape, dtype=bool))
            continue
        index = rng.choice(total, size=n_edges, replace=False)
        out.append(_from_flat_index(index, flat.shape, shape, sparse))
    return out


def double_edge_swaps(
    rows: np.ndarray,
    cols: np.ndarray,
    shape: tuple[int, int],
    n_swaps: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Randomise a bipartite graph by double-edge swaps, keeping both degree sequences.

    A swap takes two edges ``(a, b)`` and ``(c, d)`` with ``a != c`` and
    ``b != d`` and replaces them by ``(a, d)`` and ``(c, b)`` unless either
    already exists, so every row and every column keeps its number of edges
    and the graph stays simple. Swaps are attempted in rounds: each round
    pairs up disjoint edges at random (at most ``n_edges // 2`` pairs) and
    applies, all at once, the swaps whose two new edges are absent from the
    graph and proposed by no other swap of the round.

    Parameters
    ----------
    rows, cols : int arrays ``(n_edges,)``
        Edge list (row = output neuron, column = input), no duplicates.
    shape : ``(n_rows, n_cols)``
    n_swaps : int
        Attempted swaps in all (accepted or not).
    rng : np.random.Generator

    Returns
    -------
    rows, cols : int64 arrays ``(n_edges,)``
        The new edge list; edge ``i`` keeps its row, the columns move.
    accepted : int
        Swaps carried out.
    """
    rows = np.asarray(rows, dtype=np.int64).copy()
    cols = np.asarray(cols, dtype=np.int64).copy()
    n_cols = int(shape[1])
    m = rows.size
    accepted = 0
    if m < 2 or n_swaps <= 0:
        return rows, cols, 0
    keys = np.sort(rows * n_cols + cols)
    remaining = int(n_swaps)
    while remaining > 0:
        k = min(remaining, m // 2)
        remaining -= k
        order = rng.permutation(m)
        a, b = order[:k], order[k:2 * k]
        r1, c1, r2, c2 = rows[a], cols[a], rows[b], cols[b]
        new1, new2 = r1 * n_cols + c2, r2 * n_cols + c1
        ok = (r1 != r2) & (c1 != c2) & ~_contains(keys, new1) & ~_contains(keys, new2)
        proposed = np.concatenate([new1[ok], new2[ok]])
        values, counts = np.unique(proposed, return_counts=True)
        clashes = values[counts > 1]
        if clashes.size:
            ok &= ~(np.isin(new1, clashes) | np.isin(new2, clashes))
        if not ok.any():
            continue
        cols[a[ok]], cols[b[ok]] = c2[ok], c1[ok]
        accepted += int(ok.sum())
        keys = np.sort(rows * n_cols + cols)
    return rows, cols, accepted


def _contains(sorted_keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    # sorted queries walk the keys in order: several times faster than random look-ups on large layers
    order = np.argsort(values, kind="stable")
    at = np.minimum(np.searchsorted(sorted_keys, values[order]), sorted_keys.size - 1)
    found = np.empty(values.size, dtype=bool)
    found[order] = sorted_keys[at] == values[order]
    return found


def degree_preserving(
    topology: Sequence[Any],
    seed: int | np.random.Generator = 0,
    *,
    swaps_per_edge: float = DEFAULT_SWAPS_PER_EDGE,
) -> list:
    """Random layers with the shapes and both degree sequences of every layer of ``topology``.

    Each layer (a convolution flattened to ``(out_channels, in_channels * kh
    * kw)``) is randomised on its own by :func:`double_edge_swaps` started
    from the layer itself, ``round(swaps_per_edge * n_edges)`` attempted
    swaps. The number of edges, every row's number of edges (in-degree of an
    output neuron) and every column's (out-degree of an input) are exactly
    those of ``topology``. Layers where no swap is possible (full, empty,
    one edge) come back unchanged, and draw nothing from ``seed``.

    Parameters
    ----------
    topology : sequence of layers
        As in :func:`erdos_renyi`.
    seed : int or np.random.Generator
    swaps_per_edge : float
        Attempted swaps per edge (default :data:`DEFAULT_SWAPS_PER_EDGE`);
        0 returns a copy of ``topology``.

    Returns
    -------
    list
        bool arrays of the input shapes, or CSR bool matrices for sparse input.
    """
    if not np.isfinite(swaps_per_edge) or swaps_per_edge < 0:
        raise ValueError(f"swaps_per_edge must be a finite number >= 0, got {swaps_per_edge}")
    rng = _rng(seed)
    out = []
    for k, layer in enumerate(_layer_list(topology)):
        flat, shape, sparse = _as_flat(layer, k)
        n_out, n_in = flat.shape
        if sparse:
            coo = flat.tocoo()
            rows, cols = coo.row.astype(np.int64), coo.col.astype(np.int64)
        else:
            rows, cols = np.nonzero(flat)
        n_edges = rows.size
        if n_edges < 2 or n_edges == n_out * n_in:
            out.append(flat.copy() if sparse else flat.reshape(shape).copy())
            continue
        rows, cols, _ = double_edge_swaps(rows, cols, (n_out, n_in), int(round(swaps_per_edge * n_edges)), rng)
        out.append(_from_flat_index(rows * n_in + cols, (n_out, n_in), shape, sparse))
    return out


def degree_sequences(layer: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(in_degrees (n_out,), out_degrees (n_in_flat,))`` of one layer (a convolution flattened)."""
    flat, _, sparse = _as_flat(layer, 0)
    if sparse:
        return np.diff(flat.indptr).astype(np.int64), np.bincount(flat.indices, minlength=flat.shape[1]).astype(np.int64)
    return flat.sum(axis=1, dtype=np.int64), flat.sum(axis=0, dtype=np.int64)


NULLS: dict[str, Callable[..., list]] = {"er": erdos_renyi, "degree": degree_preserving}
"""The null models by name: ``draw(topology, seed) -> topology``."""


def draw_null(topology: Sequence[Any], null: str, seed: int | np.random.Generator = 0) -> list:
    """One draw of the null model named ``null`` (``"er"`` or ``"degree"``), see :data:`NULLS`."""
    try:
        draw = NULLS[null]
    except (KeyError, TypeError):
        raise ValueError(f"null={null!r} is not one of {', '.join(map(repr, NULLS))}") from None
    return draw(topology, seed)
