"""Edge overlap between topologies, and the parameters a run explored.

These compare edge *positions*: they are blind to the numbering of hidden
neurons, which is what NNSTD (:mod:`sparsetopo.nnstd`) is not. Two networks
that differ only by renumbered hidden neurons are far apart here and at
NNSTD 0.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .base import MetricValue, unsupported
from .graph import LayeredGraph, as_graph

__all__ = ["edge_jaccard", "edge_hamming", "explored_rate", "mask_jaccard", "mask_hamming"]


def _same_shapes(metric: str, graphs: Sequence[LayeredGraph], what: str = "topology") -> None:
    for i, g in enumerate(graphs[1:], start=1):
        if g.shapes != graphs[0].shapes:
            raise unsupported(
                metric,
                f"{what} {i} has layer shapes {list(g.shapes)} but {what} 0 has {list(graphs[0].shapes)}; "
                "edge positions can only be compared between layers of the same shape",
            )


def _counts(first: LayeredGraph, second: LayeredGraph, metric: str):
    _same_shapes(metric, [first, second])
    for k in range(first.n_layers):
        a, b = first.flat[k], second.flat[k]
        shared = int(a.multiply(b).nnz)
        yield a.nnz, b.nnz, shared, a.shape[0] * a.shape[1]


def edge_jaccard(first: LayeredGraph, second: LayeredGraph) -> MetricValue:
    """Jaccard distance of the edge sets, ``1 - |E1 ∩ E2| / |E1 ∪ E2|``.

    Per layer; network: over the edges of all layers together. Two empty
    layers are at distance 0. Layer shapes must agree.
    """
    layers, differ_all, union_all = [], 0, 0
    for n1, n2, shared, _ in _counts(first, second, "edge_jaccard"):
        union, differ = n1 + n2 - shared, n1 + n2 - 2 * shared
        # differing edges over the union: the same float64 division as NNSTD's costs
        layers.append(0.0 if union == 0 else differ / union)
        differ_all += differ
        union_all += union
    return MetricValue(np.array(layers, dtype=np.float64), 0.0 if union_all == 0 else differ_all / union_all)


def edge_hamming(first: LayeredGraph, second: LayeredGraph) -> MetricValue:
    """Fraction of positions (possible edges) that are an edge in exactly one of the two.

    Per layer; network: over the positions of all layers together.
    """
    layers, differ_all, size_all = [], 0, 0
    for n1, n2, shared, size in _counts(first, second, "edge_hamming"):
        differ = n1 + n2 - 2 * shared
        layers.append(differ / size)
        differ_all += differ
        size_all += size
    return MetricValue(np.array(layers, dtype=np.float64), differ_all / size_all)


def explored_rate(snapshots: Sequence[LayeredGraph]) -> MetricValue:
    """Fraction of all possible parameters that are an edge in at least one snapshot (ITOP).

    Liu et al. (ICML 2021, "Do we actually need dense over-parameterization?
    In-time over-parameterization in sparse training") track the positions
    ever active during training. From stored snapshots this is the union of
    their edge sets: exact when every topology of the run was stored, and a
    lower bound on the rate over all rewiring steps otherwise. Per layer:
    positions of the layer; network: all positions. Snapshots must have the
    same layer shapes.
    """
    snapshots = list(snapshots)
    if not snapshots:
        raise unsupported("explored_rate", "no snapshots were given; the explored rate needs at least one topology")
    _same_shapes("explored_rate", snapshots, what="snapshot")
    layers, active_all, size_all = [], 0, 0
    for k in range(snapshots[0].n_layers):
        union = snapshots[0].flat[k]
        for s in snapshots[1:]:
            union = union + s.flat[k]
        size = union.shape[0] * union.shape[1]
        layers.append(union.nnz / size)
        active_all += union.nnz
        size_all += size
    return MetricValue(np.array(layers, dtype=np.float64), active_all / size_all)


def mask_jaccard(first: Any, second: Any) -> np.ndarray:
    """Per-layer :func:`edge_jaccard` of two topologies (any form :func:`as_graph` takes).

    Returns
    -------
    np.ndarray
        ``(n_layers,)`` float64 in [0, 1].
    """
    return edge_jaccard(as_graph(first, name="first"), as_graph(second, name="second")).layers


def mask_hamming(first: Any, second: Any) -> np.ndarray:
    """Per-layer :func:`edge_hamming` of two topologies (any form :func:`as_graph` takes).

    Returns
    -------
    np.ndarray
        ``(n_layers,)`` float64 in [0, 1].
    """
    return edge_hamming(as_graph(first, name="first"), as_graph(second, name="second")).layers
