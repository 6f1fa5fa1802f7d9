"""What a metric returns, and the error for topologies it does not support."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import UnsupportedTopologyError

__all__ = ["MetricValue", "UnsupportedTopologyError", "unsupported"]


class MetricValue(NamedTuple):
    """One metric of one topology.

    Attributes
    ----------
    layers : np.ndarray
        ``(n_layers,)`` float64, the value of every layer; NaN for a metric
        that has no per-layer value (documented by the metric).
    network : float
        One value for the whole network, NaN for a metric that has none.
    """

    layers: np.ndarray
    network: float


def unsupported(metric: str, why: str) -> UnsupportedTopologyError:
    """The error a metric raises for a topology it is not defined on: ``metric: why``."""
    return UnsupportedTopologyError(f"{metric}: {why}")
