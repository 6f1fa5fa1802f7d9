"""Effective nodes and effective paths (Pham et al., NeurIPS 2023).

Pham, Ta, Liu, Xiang, Le, Wen and Tran-Thanh, "Towards Data-Agnostic Pruning
at Initialization: What Makes a Good Sparse Mask?" (NeurIPS 2023) describe a
sparse network by two numbers, defined here on the layered graph
(:mod:`sparsetopo.metrics.graph`):

Path
    A sequence of weights ``w_1, ..., w_L``, one in every layer, where
    ``w_1`` leaves an input unit (a feature of the data, or an input
    channel), ``w_{k+1}`` leaves the neuron that ``w_k`` enters, and ``w_L``
    enters an output neuron. With ``C_k`` the ``(n_out, n_units)`` matrix of
    the number of weights of layer ``k`` between each input unit and each
    neuron, the number of paths is ``1^T C_L ... C_1 1``. For linear layers
    this is the number of directed input-to-output paths of the network's
    graph. For a convolution every kernel weight is one edge between its
    input and output channel (paths counted at the channel level, as if
    every feature map had one position; the spatial sizes are not part of a
    topology), and a linear layer after a convolution connects a channel to
    a neuron by as many edges as weights of the channel's flattened block.
Effective path
    Every input-to-output path (all of them end at an output by definition).
Effective node
    An input unit or neuron that lies on at least one effective path: it is
    reachable from some input unit and reaches some output neuron. Dead
    neurons, and live neurons cut off upstream or downstream, are not
    effective.
"""

from __future__ import annotations

import numpy as np

from .base import MetricValue
from .graph import LayeredGraph

__all__ = ["effective_nodes", "effective_paths", "effective_node_masks"]


def effective_node_masks(graph: LayeredGraph) -> list[np.ndarray]:
    """``L + 1`` bool arrays: the effective input units of layer 0, then each layer's effective neurons."""
    counts = graph.unit_counts
    forward = [np.ones(graph.n_units(0), dtype=bool)]
    for c in counts:
        forward.append(c @ forward[-1].astype(np.float64) > 0)
    backward = [np.ones(counts[-1].shape[0], dtype=bool)]
    for c in reversed(counts):
        backward.insert(0, c.T @ backward[0].astype(np.float64) > 0)
    return [f & b for f, b in zip(forward, backward)]


def effective_nodes(graph: LayeredGraph) -> MetricValue:
    """Number of effective nodes (module docstring).

    Layer ``k``: its neurons on an effective path. Network: all effective
    nodes, the input units of layer 0 included.
    """
    masks = effective_node_masks(graph)
    layers = np.array([m.sum() for m in masks[1:]], dtype=np.float64)
    return MetricValue(layers, float(sum(int(m.sum()) for m in masks)))


def effective_paths(graph: LayeredGraph) -> MetricValue:
    """``log10`` of the number of effective paths (module docstring); network value only.

    The count is propagated layer by layer with a running scale, so it does
    not overflow for deep networks. ``-inf`` when no path exists. The
    per-layer values are NaN: a path crosses every layer.
    """
    v = np.ones(graph.n_units(0), dtype=np.float64)
    log_scale = 0.0
    for c in graph.unit_counts:
        v = c @ v
        peak = float(v.max()) if v.size else 0.0
        if peak == 0.0:
            return MetricValue(np.full(graph.n_layers, np.nan), float("-inf"))
        v /= peak
        log_scale += np.log10(peak)
    return MetricValue(np.full(graph.n_layers, np.nan), float(log_scale + np.log10(v.sum())))
