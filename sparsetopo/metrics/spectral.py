"""Spectral expansion of each layer: its second singular value against the Ramanujan bound.

A layer is a bipartite graph with biadjacency ``B``, the 0/1 flattened layer
``(n_out, n_in_flat)`` (a convolution as ``(out_channels, in_channels * kh *
kw)``, as in the code of Hoang et al.). Its adjacency matrix has eigenvalues
``±σ_i(B)``, so the largest non-trivial eigenvalue of the graph is the second
largest singular value ``σ_2`` of ``B`` (no normalisation: raw 0/1 entries).

Bound
    A ``(c, d)``-biregular bipartite graph (every output neuron has ``c``
    inputs, every input ``d`` outputs) has ``σ_1 = sqrt(c d)`` and is
    Ramanujan when ``σ_2 <= sqrt(c - 1) + sqrt(d - 1)``. For irregular
    layers we use the generalisation of Pal et al. (ICML 2022) and Hoang et
    al. (ICLR 2023, their ``Δr``): the same formula with the *average*
    degrees ``c̄ = E / r`` and ``d̄ = E / s`` of the ``r`` output neurons and
    ``s`` inputs that have at least one edge (isolated nodes removed, as
    Hoang et al. do; they add no eigenvalue), ``E`` the number of edges.
    For a biregular layer this is the exact bound.
Gap
    ``ramanujan_gap = bound - σ_2``: positive for a layer whose spectrum is
    as expanding as a Ramanujan graph of its average degrees.

``σ_2`` is computed with ``scipy.sparse.linalg.svds`` (ARPACK, a fixed start
vector) for layers whose smaller side has more than 64 nodes, and with a dense
SVD for smaller ones, so a 10,000-neuron layer is never made dense.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from .base import MetricValue, unsupported
from .graph import LayeredGraph

__all__ = ["second_singular_value", "ramanujan_bound", "ramanujan_gap", "top_singular_values", "DENSE_SVD_LIMIT"]

DENSE_SVD_LIMIT = 64
"""Layers whose smaller side has at most this many nodes use a dense SVD."""


def top_singular_values(matrix: sp.spmatrix) -> tuple[float, float]:
    """``(σ_1, σ_2)`` of a sparse matrix with at least two rows and two columns."""
    m, n = matrix.shape
    if matrix.nnz == 0:
        return 0.0, 0.0
    a = sp.csr_matrix(matrix, dtype=np.float64)
    if min(m, n) <= DENSE_SVD_LIMIT:
        s = np.linalg.svd(a.toarray(), compute_uv=False)
        return float(s[0]), _clean(float(s[1]), float(s[0]))
    v0 = np.random.default_rng(0).uniform(0.5, 1.5, size=min(m, n))
    s = svds(a, k=2, v0=v0, return_singular_vectors=False, solver="arpack")
    s = np.sort(s)[::-1]
    return float(s[0]), _clean(float(s[1]), float(s[0]))


def _clean(second: float, first: float) -> float:
    # a rank-one layer (full, or a complete bipartite block) has sigma_2 = 0, which floating point leaves at ~1e-15
    return 0.0 if second <= 1e-12 * max(first, 1.0) else second


def _sigma2(graph: LayeredGraph, k: int, metric: str) -> float:
    cache = graph.__dict__.setdefault("_top_singular_values", {})
    if k not in cache:
        m, n = graph.flat[k].shape
        if min(m, n) < 2:
            raise unsupported(
                metric,
                f"layer {k} is {graph.kind(k)} {'x'.join(map(str, graph.shapes[k]))}, a bipartite graph with one node "
                "on a side, which has a single singular value and no second one",
            )
        cache[k] = top_singular_values(graph.flat[k])
    return cache[k][1]


def _bound(graph: LayeredGraph, k: int, metric: str) -> float:
    flat = graph.flat[k]
    edges = flat.nnz
    if edges == 0:
        raise unsupported(metric, f"layer {k} has no edges, so its average degrees (and the Ramanujan bound) are undefined")
    c = edges / int(np.count_nonzero(graph.in_degrees(k)))
    d = edges / int(np.count_nonzero(graph.column_degrees(k)))
    return float(np.sqrt(c - 1.0) + np.sqrt(d - 1.0))


def second_singular_value(graph: LayeredGraph) -> MetricValue:
    """``σ_2`` of each layer's biadjacency (module docstring); no network value."""
    layers = np.array([_sigma2(graph, k, "second_singular_value") for k in range(graph.n_layers)])
    return MetricValue(layers, float("nan"))


def ramanujan_bound(graph: LayeredGraph) -> MetricValue:
    """``sqrt(c̄ - 1) + sqrt(d̄ - 1)`` of each layer, average degrees of its non-isolated nodes; no network value."""
    layers = np.array([_bound(graph, k, "ramanujan_bound") for k in range(graph.n_layers)])
    return MetricValue(layers, float("nan"))


def ramanujan_gap(graph: LayeredGraph) -> MetricValue:
    """``ramanujan_bound - σ_2`` of each layer (positive: Ramanujan-like); no network value."""
    layers = np.array([
        _bound(graph, k, "ramanujan_gap") - _sigma2(graph, k, "ramanujan_gap") for k in range(graph.n_layers)
    ])
    return MetricValue(layers, float("nan"))
