"""A topology as a ``networkx`` graph, or a GraphML file, for graph analysis elsewhere.

networkx is an optional dependency: ``pip install sparsetopo[graph]``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path
from .graph import as_graph

__all__ = ["to_networkx", "write_graphml", "node_id"]


def _networkx():
    try:
        import networkx
    except ImportError:
        raise ImportError("exporting a topology needs networkx: pip install sparsetopo[graph]") from None
    return networkx


def node_id(level: int, index: int) -> str:
    """Node name ``"<level>:<index>"``: level 0 holds layer 0's input units, level ``k + 1`` layer ``k``'s neurons."""
    return f"{level}:{index}"


def to_networkx(topology: Any) -> Any:
    """The topology as a directed graph from the inputs to the outputs.

    Nodes are ``"<level>:<index>"`` (:func:`node_id`) with attributes
    ``level`` (0 = input units, ``k + 1`` = neurons of layer ``k``),
    ``index`` and ``role`` (``"input"``, ``"hidden"`` or ``"output"``). An
    edge runs from an input unit of layer ``k`` to a neuron of layer ``k``
    with attributes ``layer`` (``k``) and ``weights``, the number of weights
    between the two (1 for linear layers; a convolution's kernel positions,
    or a flattened feature map's positions, otherwise).

    Returns
    -------
    networkx.DiGraph

    Raises
    ------
    ImportError
        When networkx is not installed.
    """
    nx = _networkx()
    graph = as_graph(topology)
    g = nx.DiGraph()
    n_levels = graph.n_layers + 1
    sizes = [graph.n_units(0)] + [graph.flat[k].shape[0] for k in range(graph.n_layers)]
    for level, size in enumerate(sizes):
        role = "input" if level == 0 else "output" if level == n_levels - 1 else "hidden"
        g.add_nodes_from((node_id(level, i), {"level": level, "index": i, "role": role}) for i in range(size))
    for k, counts in enumerate(graph.unit_counts):
        coo = counts.tocoo()
        g.add_edges_from(
            (node_id(k, int(u)), node_id(k + 1, int(j)), {"layer": k, "weights": int(w)})
            for j, u, w in zip(coo.row, coo.col, np.rint(coo.data))
        )
    return g


def write_graphml(topology: Any, path: str | os.PathLike, *, force: bool = False) -> Path:
    """Write :func:`to_networkx`'s graph as GraphML, atomically.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``force`` is False.
    ImportError
        When networkx is not installed.
    """
    path = Path(path)
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; pass force=True to replace it")
    nx = _networkx()
    g = to_networkx(topology)
    with atomic_path(path, suffix=".graphml") as tmp:
        nx.write_graphml(g, tmp)
    return path
