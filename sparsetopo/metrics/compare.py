"""Each metric beside its chance level: the value, a null model's mean and spread, and where the value falls.

The null models are those of :mod:`sparsetopo.topology.nulls`, applied to the
flattened layers (a convolution keeps its shape and blocks):

* a topology metric is compared with the metric of ``draws`` null draws of
  the topology;
* a pair metric ``m(first, second)`` with ``m(first, null draw of second)``:
  how far ``second`` would be from ``first`` if it were random with the same
  counts (``"er"``) or degrees (``"degree"``);
* a sequence metric with the metric of snapshots each replaced by its own
  independent null draw.

Draw ``i`` is seeded by ``(seed, i)`` (and the snapshot index for
sequences), so more draws keep the earlier ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..topology.nulls import NULLS, draw_null
from .base import MetricValue
from .graph import LayeredGraph, as_graph
from .registry import PANEL, Metric, get_metric

__all__ = ["NullComparison", "null_graph", "with_null", "null_panel", "layer_labels"]


# values this close are the same number computed in another order
_TIE = 1e-9


def layer_labels(n_layers: int) -> list[str]:
    """Row labels of a metric's values: ``layer_0 ... layer_{L-1}, network``."""
    return [f"layer_{k}" for k in range(n_layers)] + ["network"]


@dataclass(frozen=True, eq=False)
class NullComparison:
    """A metric's value against ``draws`` draws of a null model.

    Attributes
    ----------
    metric : str
    null : str
        ``"er"`` or ``"degree"``.
    value : MetricValue
    samples : np.ndarray
        ``(draws, n_layers + 1)``: the metric of every null draw, per layer
        then the network value.
    seed : int
    """

    metric: str
    null: str
    value: MetricValue
    samples: np.ndarray
    seed: int

    @property
    def values(self) -> np.ndarray:
        """``(n_layers + 1,)``: per-layer values, then the network value."""
        return np.append(self.value.layers, self.value.network)

    @property
    def null_mean(self) -> np.ndarray:
        """``(n_layers + 1,)`` mean over draws."""
        with np.errstate(invalid="ignore"):
            return self.samples.mean(axis=0)

    @property
    def null_std(self) -> np.ndarray:
        """``(n_layers + 1,)`` standard deviation over draws (``ddof=1``)."""
        with np.errstate(invalid="ignore"):
            return self.samples.std(axis=0, ddof=1)

    @property
    def z(self) -> np.ndarray:
        """``(value - null_mean) / null_std``; NaN where the null does not vary (e.g. degrees under ``"degree"``).

        A spread within rounding of the mean (``<= 1e-9 |mean|``) counts as none.
        """
        std, mean = self.null_std, self.null_mean
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (self.values - mean) / std
            varies = std > _TIE * np.maximum(np.abs(mean), 1.0)
        return np.where(varies, z, np.nan)

    @property
    def percentile(self) -> np.ndarray:
        """Percent of draws below the value, ties (equal within ``1e-9`` relative) counted half."""
        v = self.values[None, :]
        with np.errstate(invalid="ignore"):
            tie = np.isclose(self.samples, v, rtol=_TIE, atol=_TIE) | (self.samples == v)
            below = ((self.samples < v) & ~tie).sum(axis=0) + 0.5 * tie.sum(axis=0)
        out = 100.0 * below / self.samples.shape[0]
        return np.where(np.isnan(self.values), np.nan, out)

    def frame(self) -> pd.DataFrame:
        """One row per layer plus ``network``: value, null_mean, null_std, z, percentile."""
        return pd.DataFrame(
            {"value": self.values, "null_mean": self.null_mean, "null_std": self.null_std,
             "z": self.z, "percentile": self.percentile},
            index=pd.Index(layer_labels(len(self.value.layers)), name="layer"),
        )


def null_graph(graph: LayeredGraph, null: str, seed: int | np.random.Generator) -> LayeredGraph:
    """One draw of the null model ``null`` of a layered graph (shapes and blocks kept)."""
    layers = draw_null(list(graph.flat), null, seed)
    flat = []
    for m in layers:
        m = sp.csr_matrix(m, dtype=bool)
        m.sort_indices()
        flat.append(m)
    return LayeredGraph(flat=tuple(flat), shapes=graph.shapes, blocks=graph.blocks)


def _check(null: str, draws: int) -> None:
    if null not in NULLS:
        raise ValueError(f"null={null!r} is not one of {', '.join(map(repr, NULLS))}")
    if not isinstance(draws, (int, np.integer)) or draws < 2:
        raise ValueError(f"draws must be an integer >= 2 (a spread needs two draws), got {draws!r}")


def _row(value: MetricValue) -> np.ndarray:
    return np.append(np.asarray(value.layers, dtype=np.float64), value.network)


def null_panel(
    topology: Any,
    metrics: Sequence[str | Metric] | None = None,
    *,
    null: str = "er",
    draws: int = 16,
    seed: int = 0,
) -> dict[str, NullComparison]:
    """Topology metrics of one network against one set of null draws.

    Every draw is made once and all ``metrics`` are evaluated on it.

    Parameters
    ----------
    topology : any form :func:`~sparsetopo.metrics.graph.as_graph` takes
    metrics : names of ``kind="topology"`` metrics (default: :data:`~sparsetopo.metrics.registry.PANEL`)
    null : {"er", "degree"}
    draws : int >= 2
    seed : int

    Returns
    -------
    dict
        Metric name -> :class:`NullComparison`, in the order asked.
    """
    _check(null, draws)
    chosen = [get_metric(m) for m in (PANEL if metrics is None else metrics)]
    for m in chosen:
        if m.kind != "topology":
            raise ValueError(f"{m.name} is a {m.kind} metric; null_panel takes metrics of one topology (use with_null)")
    graph = as_graph(topology)
    values = {m.name: m.func(graph) for m in chosen}
    samples = {m.name: np.empty((draws, graph.n_layers + 1)) for m in chosen}
    for i in range(draws):
        drawn = null_graph(graph, null, np.random.default_rng([int(seed), i]))
        for m in chosen:
            samples[m.name][i] = _row(m.func(drawn))
    return {m.name: NullComparison(m.name, null, values[m.name], samples[m.name], int(seed)) for m in chosen}


def with_null(
    metric: str | Metric,
    topology: Any,
    *,
    other: Any = None,
    null: str = "er",
    draws: int = 16,
    seed: int = 0,
) -> NullComparison:
    """A metric's value beside its value on ``draws`` null draws (module docstring).

    Parameters
    ----------
    metric : name or :class:`~sparsetopo.metrics.registry.Metric`
    topology : topology (a sequence of snapshots for a sequence metric)
    other : topology, for a pair metric only: the second network; the null draws replace it
    null : {"er", "degree"}
    draws : int >= 2
    seed : int

    Returns
    -------
    NullComparison
    """
    _check(null, draws)
    m = get_metric(metric)
    if (other is not None) != (m.kind == "pair"):
        raise ValueError(f"{m.name} is a {m.kind} metric: " + (
            "give the second topology as other=" if m.kind == "pair" else "other= is only for pair metrics"))
    if m.kind == "topology":
        return null_panel(topology, [m], null=null, draws=draws, seed=seed)[m.name]
    if m.kind == "pair":
        first, second = as_graph(topology, name="topology"), as_graph(other, name="other")
        value = m.func(first, second)
        samples = np.array([
            _row(m.func(first, null_graph(second, null, np.random.default_rng([int(seed), i])))) for i in range(draws)
        ])
        return NullComparison(m.name, null, value, samples, int(seed))
    snapshots = [as_graph(t, name=f"snapshots[{i}]") for i, t in enumerate(topology)]
    value = m.func(snapshots)
    samples = np.array([
        _row(m.func([null_graph(s, null, np.random.default_rng([int(seed), i, t])) for t, s in enumerate(snapshots)]))
        for i in range(draws)
    ])
    return NullComparison(m.name, null, value, samples, int(seed))
