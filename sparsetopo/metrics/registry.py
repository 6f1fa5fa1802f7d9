"""The metrics by name: one entry per metric, one place to add a new one.

A metric is a pure function of a :class:`~sparsetopo.metrics.graph.LayeredGraph`
(``kind="topology"``), of two of them (``kind="pair"``: the first and second
topology of a comparison) or of a sequence of them (``kind="sequence"``: the
snapshots of one run, in order). It returns a
:class:`~sparsetopo.metrics.base.MetricValue` (per-layer values and one
network value, NaN where a metric has none) and raises
:class:`~sparsetopo.errors.UnsupportedTopologyError` for a topology it is not
defined on, naming the layer and the reason.

Adding a metric: write the function in the module of its family (or a new
module), add one :class:`Metric` entry to :data:`METRICS`, and add a test on
graphs whose value is known; the contract test in
``tests/library/test_metrics.py`` then checks it with every other entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from . import degrees, overlap, paths, spectral
from .base import MetricValue
from .graph import as_graph

__all__ = ["Metric", "METRICS", "KINDS", "get_metric", "compute", "available_metrics", "PANEL"]

KINDS = ("topology", "pair", "sequence")
"""What a metric takes: one topology, a pair of topologies, or a sequence of snapshots."""


@dataclass(frozen=True)
class Metric:
    """A registered metric.

    Attributes
    ----------
    name : str
    func : callable
        ``func(graph)``, ``func(first, second)`` or ``func(snapshots)`` by ``kind``,
        returning a :class:`MetricValue`.
    kind : {"topology", "pair", "sequence"}
    layers : bool
        Whether the per-layer values are defined (False: always NaN).
    network : bool
        Whether the network value is defined (False: always NaN).
    version : int
        Raised when the numbers the metric returns change; part of cache keys.
    """

    name: str
    func: Callable[..., MetricValue]
    kind: str = "topology"
    layers: bool = True
    network: bool = True
    version: int = 1

    @property
    def description(self) -> str:
        """First line of the function's docstring."""
        return (self.func.__doc__ or "").strip().splitlines()[0]


def _entries(*metrics: Metric) -> dict[str, Metric]:
    return {m.name: m for m in metrics}


METRICS: dict[str, Metric] = _entries(
    Metric("in_degree_mean", degrees.in_degree_mean),
    Metric("in_degree_std", degrees.in_degree_std),
    Metric("in_degree_gini", degrees.in_degree_gini),
    Metric("out_degree_mean", degrees.out_degree_mean),
    Metric("out_degree_std", degrees.out_degree_std),
    Metric("out_degree_gini", degrees.out_degree_gini),
    Metric("dead_neurons", degrees.dead_neurons),
    Metric("unconnected_inputs", degrees.unconnected_inputs),
    Metric("effective_nodes", paths.effective_nodes),
    Metric("effective_paths", paths.effective_paths, layers=False),
    Metric("second_singular_value", spectral.second_singular_value, network=False),
    Metric("ramanujan_bound", spectral.ramanujan_bound, network=False),
    Metric("ramanujan_gap", spectral.ramanujan_gap, network=False),
    Metric("edge_jaccard", overlap.edge_jaccard, kind="pair"),
    Metric("edge_hamming", overlap.edge_hamming, kind="pair"),
    Metric("explored_rate", overlap.explored_rate, kind="sequence"),
)
"""Every metric, by name."""

PANEL: tuple[str, ...] = tuple(name for name, m in METRICS.items() if m.kind == "topology")
"""The single-topology metrics, in registry order: the default panel."""


def available_metrics(kind: str | None = None) -> list[str]:
    """Registered names (of one ``kind``, or all), in registry order."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind={kind!r} is not one of {', '.join(map(repr, KINDS))}")
    return [name for name, m in METRICS.items() if kind is None or m.kind == kind]


def get_metric(name: str | Metric) -> Metric:
    """The registered :class:`Metric` called ``name`` (a Metric is returned as it is)."""
    if isinstance(name, Metric):
        return name
    try:
        return METRICS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown metric {name!r}; available: {', '.join(METRICS)}") from None


def compute(name: str | Metric, *topologies: Any) -> MetricValue:
    """Evaluate a metric on topologies in any form :func:`~sparsetopo.metrics.graph.as_graph` takes.

    ``compute("in_degree_gini", masks)``, ``compute("edge_jaccard", a, b)``,
    ``compute("explored_rate", [s0, s1, s2])``.
    """
    metric = get_metric(name)
    if metric.kind == "topology":
        if len(topologies) != 1:
            raise TypeError(f"{metric.name} takes one topology, got {len(topologies)}")
        return metric.func(as_graph(topologies[0]))
    if metric.kind == "pair":
        if len(topologies) != 2:
            raise TypeError(f"{metric.name} compares two topologies, got {len(topologies)}")
        return metric.func(as_graph(topologies[0], name="first"), as_graph(topologies[1], name="second"))
    if len(topologies) != 1:
        raise TypeError(f"{metric.name} takes one sequence of snapshots, got {len(topologies)} arguments")
    return metric.func([as_graph(t, name=f"snapshots[{i}]") for i, t in enumerate(topologies[0])])
