"""Degree statistics and disconnected neurons of a topology.

Degrees count *weights* (non-zero entries of the flattened layer,
:mod:`sparsetopo.metrics.graph`): the in-degree of a neuron is the number of
weights into it (a convolution's output channel: over all input channels and
kernel positions), the out-degree of an input unit is the number of weights
leaving it in that layer (a channel's over all kernel positions and output
channels). For linear layers these are the numbers of connected neurons.

Every function takes a :class:`~sparsetopo.metrics.graph.LayeredGraph` and
returns a :class:`~sparsetopo.metrics.base.MetricValue`: per layer, and for the
network the same statistic over the pooled neurons of all layers.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .base import MetricValue
from .graph import LayeredGraph

__all__ = [
    "gini",
    "in_degree_mean",
    "in_degree_std",
    "in_degree_gini",
    "out_degree_mean",
    "out_degree_std",
    "out_degree_gini",
    "dead_neurons",
    "unconnected_inputs",
]


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values: ``sum_ij |x_i - x_j| / (2 n^2 mean)``.

    0 when all values are equal (also when all are 0, by convention),
    ``(n - 1) / n`` when one value holds everything.
    """
    x = np.sort(np.asarray(values, dtype=np.float64).ravel())
    n, total = x.size, x.sum()
    if n == 0 or total == 0:
        return 0.0
    ranks = np.arange(1, n + 1, dtype=np.float64)
    return float(2.0 * np.dot(ranks, x) / (n * total) - (n + 1.0) / n)


def _per_layer(graph: LayeredGraph, degrees: Callable[[int], np.ndarray], statistic: Callable[[np.ndarray], float]):
    per_layer = [degrees(k) for k in range(graph.n_layers)]
    layers = np.array([statistic(d) for d in per_layer], dtype=np.float64)
    return MetricValue(layers, float(statistic(np.concatenate(per_layer))))


def _mean(d: np.ndarray) -> float:
    return float(np.mean(d))


def _std(d: np.ndarray) -> float:
    return float(np.std(d))


def in_degree_mean(graph: LayeredGraph) -> MetricValue:
    """Mean number of weights into a neuron (layer: its neurons; network: all neurons)."""
    return _per_layer(graph, graph.in_degrees, _mean)


def in_degree_std(graph: LayeredGraph) -> MetricValue:
    """Standard deviation (population, ``ddof=0``) of the in-degrees."""
    return _per_layer(graph, graph.in_degrees, _std)


def in_degree_gini(graph: LayeredGraph) -> MetricValue:
    """Gini coefficient of the in-degrees (0: every neuron has as many inputs)."""
    return _per_layer(graph, graph.in_degrees, gini)


def out_degree_mean(graph: LayeredGraph) -> MetricValue:
    """Mean number of weights leaving an input unit (layer: its input units; network: all)."""
    return _per_layer(graph, graph.out_degrees, _mean)


def out_degree_std(graph: LayeredGraph) -> MetricValue:
    """Standard deviation (population, ``ddof=0``) of the out-degrees of the input units."""
    return _per_layer(graph, graph.out_degrees, _std)


def out_degree_gini(graph: LayeredGraph) -> MetricValue:
    """Gini coefficient of the out-degrees of the input units."""
    return _per_layer(graph, graph.out_degrees, gini)


def dead_neurons(graph: LayeredGraph) -> MetricValue:
    """Fraction of a layer's neurons with no input or no output.

    Neuron ``j`` of layer ``k`` is dead when no weight enters it, or when
    ``k`` is not the last layer and no weight of layer ``k + 1`` leaves it.
    The output layer's neurons are dead only without inputs. Network: dead
    neurons of all layers over all neurons (input features not counted; see
    :func:`unconnected_inputs`).
    """
    dead, sizes = [], []
    for k in range(graph.n_layers):
        no_input = graph.in_degrees(k) == 0
        if k + 1 < graph.n_layers:
            no_input |= graph.out_degrees(k + 1) == 0
        dead.append(int(no_input.sum()))
        sizes.append(no_input.size)
    layers = np.array(dead, dtype=np.float64) / np.array(sizes, dtype=np.float64)
    return MetricValue(layers, float(sum(dead) / sum(sizes)))


def unconnected_inputs(graph: LayeredGraph) -> MetricValue:
    """Fraction of a layer's input units from which no weight of that layer leaves.

    Network: the value of layer 0, the fraction of the data's input features
    (or input channels) the network never reads.
    """
    layers = np.array([float(np.mean(graph.out_degrees(k) == 0)) for k in range(graph.n_layers)])
    return MetricValue(layers, float(layers[0]))
