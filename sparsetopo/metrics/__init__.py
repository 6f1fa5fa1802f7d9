"""Topology metrics: graph measures of sparse networks, each beside its chance level.

:mod:`.graph`     a topology as sparse layers (CSR), neurons and input units of linear and conv layers
:mod:`.base`      what a metric returns (per-layer values, one network value) and its error
:mod:`.degrees`   degree mean, spread and Gini; dead neurons; unconnected inputs
:mod:`.paths`     effective nodes and effective paths (Pham et al., NeurIPS 2023)
:mod:`.spectral`  second singular value of each layer against the Ramanujan bound
:mod:`.overlap`   edge overlap of two topologies (Jaccard, Hamming); explored-parameter rate of snapshots
:mod:`.registry`  the metrics by name (:data:`~.registry.METRICS`), :func:`~.registry.compute`
:mod:`.compare`   a metric against a null model (:func:`~.compare.with_null`, :func:`~.compare.null_panel`)
:mod:`.frame`     metrics of stored runs' snapshots, cached by content (:func:`~.frame.metrics_frame`)
:mod:`.export`    a topology as a networkx graph or a GraphML file

The main names are available from this package directly.
"""

from .base import MetricValue, UnsupportedTopologyError
from .compare import NullComparison, null_panel, with_null
from .export import to_networkx, write_graphml
from .frame import metrics_frame, resolve_metrics_cache_dir, topology_frame
from .graph import LayeredGraph, as_graph
from .registry import METRICS, PANEL, Metric, available_metrics, compute, get_metric

__all__ = ["MetricValue", "UnsupportedTopologyError", "LayeredGraph", "as_graph", "Metric", "METRICS", "PANEL",
           "available_metrics", "get_metric", "compute", "NullComparison", "with_null", "null_panel",
           "metrics_frame", "topology_frame", "resolve_metrics_cache_dir", "to_networkx", "write_graphml"]
