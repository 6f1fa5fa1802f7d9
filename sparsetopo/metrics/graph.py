"""A topology as sparse layers: what every metric reads.

:func:`as_graph` turns any topology the package accepts (numpy masks or
weights, torch tensors, scipy sparse matrices, a
:class:`~sparsetopo.topology.modules.ModelTopology`) into a
:class:`LayeredGraph`: per layer a CSR ``(n_out, n_in_flat)`` boolean matrix
and the number of flattened columns one input unit owns (its *block*,
:func:`sparsetopo.topology.layered.input_blocks`). Sparse input stays sparse,
so metrics of a 10,000-neuron layer never build a dense ``(n_out, n_in)``
array.

Neurons and units
-----------------
A layer's *neurons* are its rows: a linear layer's output features, a
convolution's output channels (as in NNSTD). Its *input units* are the
neurons of the layer below (layer 0: the data's features or input channels);
unit ``u`` owns the flattened columns ``u * block ... (u + 1) * block - 1``
(a convolution's kernel positions, or a feature map's spatial positions
when a linear layer follows a convolution). A *weight* is one non-zero entry
of the flattened layer. For linear layers after linear layers units and
columns coincide.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

from ..topology.layered import input_blocks
from ..topology.masks import layer_mask

__all__ = ["LayeredGraph", "as_graph"]


@dataclass(frozen=True, eq=False)
class LayeredGraph:
    """A chain of sparse layers.

    Attributes
    ----------
    flat : tuple of scipy CSR bool matrices
        Layer ``k`` flattened, ``(n_out_k, n_in_flat_k)``; canonical (sorted
        indices, no explicit zeros).
    shapes : tuple of tuple of int
        Each layer's shape as given: ``(n_out, n_in)`` or ``(out_channels,
        in_channels, kh, kw)``.
    blocks : tuple of int
        Flattened columns per input unit of each layer.
    """

    flat: tuple
    shapes: tuple
    blocks: tuple

    @property
    def n_layers(self) -> int:
        return len(self.flat)

    def kind(self, k: int) -> str:
        """``"conv2d"`` or ``"linear"``."""
        return "conv2d" if len(self.shapes[k]) == 4 else "linear"

    def n_units(self, k: int) -> int:
        """Input units of layer ``k``."""
        return self.flat[k].shape[1] // self.blocks[k]

    def n_edges(self, k: int) -> int:
        """Edges (non-zero weights) of layer ``k``."""
        return int(self.flat[k].nnz)

    def in_degrees(self, k: int) -> np.ndarray:
        """``(n_out,)`` weights into each neuron of layer ``k``."""
        return np.diff(self.flat[k].indptr).astype(np.int64)

    def column_degrees(self, k: int) -> np.ndarray:
        """``(n_in_flat,)`` weights leaving each flattened column of layer ``k``."""
        return np.bincount(self.flat[k].indices, minlength=self.flat[k].shape[1]).astype(np.int64)

    def out_degrees(self, k: int) -> np.ndarray:
        """``(n_units,)`` weights leaving each input unit of layer ``k`` (its block's columns together)."""
        return self.column_degrees(k).reshape(self.n_units(k), self.blocks[k]).sum(axis=1)

    @cached_property
    def unit_counts(self) -> tuple:
        """Per layer, CSR float64 ``(n_out, n_units)``: weights between each unit and each neuron."""
        out = []
        for flat, block in zip(self.flat, self.blocks):
            if block == 1:
                out.append(flat.astype(np.float64))
                continue
            n_cols = flat.shape[1]
            to_unit = sp.csr_matrix(
                (np.ones(n_cols), (np.arange(n_cols), np.arange(n_cols) // block)), shape=(n_cols, n_cols // block)
            )
            out.append((flat.astype(np.float64) @ to_unit).tocsr())
        return tuple(out)

    def dense(self, k: int) -> np.ndarray:
        """Layer ``k`` as a bool array of its original shape (small layers only)."""
        return self.flat[k].toarray().reshape(self.shapes[k])


def _layer_csr(m: Any, name: str, k: int) -> tuple[sp.csr_matrix, tuple[int, ...]]:
    if sp.issparse(m):
        if m.ndim != 2:
            raise ValueError(f"{name}[{k}] is a sparse array of {m.ndim} dimensions; a layer is 2-D (n_out, n_in)")
        data = m.data if hasattr(m, "data") else m.tocoo().data
        if data.dtype != bool and not (np.issubdtype(data.dtype, np.number) and not np.iscomplexobj(data)):
            raise ValueError(f"{name}[{k}] has dtype {data.dtype}; a layer must be a bool mask or numeric weights")
        if np.issubdtype(data.dtype, np.floating) and np.isnan(data).any():
            raise ValueError(f"{name}[{k}] contains NaN weights; a topology needs finite values (replace NaN by 0)")
        flat = sp.csr_matrix(m != 0, dtype=bool)
        return flat, tuple(int(s) for s in m.shape)
    mask = layer_mask(m, name, k, ndims=(2, 4))
    return sp.csr_matrix(mask.reshape(mask.shape[0], -1)), tuple(int(s) for s in mask.shape)


def as_graph(topology: Any, *, name: str = "topology") -> LayeredGraph:
    """Validate a topology and hold it as sparse layers.

    Parameters
    ----------
    topology : sequence of layers, a single 2-D layer, a LayeredGraph, or an
        object with a ``masks`` attribute
        Each layer a 2-D ``(n_out, n_in)`` or 4-D ``(out_channels,
        in_channels, kh, kw)`` numpy array, torch tensor, or a 2-D scipy
        sparse matrix; non-zero entries are edges.
    name : str
        Name used in error messages.

    Returns
    -------
    LayeredGraph

    Raises
    ------
    ValueError
        A layer of another dimension, NaN weights, strings, or layers that do
        not chain (:func:`sparsetopo.topology.layered.input_blocks`).
    """
    if isinstance(topology, LayeredGraph):
        return topology
    topology = getattr(topology, "masks", topology)
    if (isinstance(topology, np.ndarray) and topology.ndim == 2) or sp.issparse(topology):
        topology = [topology]
    layers = list(topology)
    if not layers:
        raise ValueError(f"{name} is empty; a topology needs at least one layer")
    converted = [_layer_csr(m, name, k) for k, m in enumerate(layers)]
    shapes = tuple(shape for _, shape in converted)
    blocks = tuple(input_blocks([_Shape(s) for s in shapes], name=name))
    flat = []
    for csr, _ in converted:
        csr.sum_duplicates()
        csr.sort_indices()
        flat.append(csr)
    return LayeredGraph(flat=tuple(flat), shapes=shapes, blocks=blocks)


class _Shape:
    """Stands for a layer in :func:`input_blocks`, which reads only shapes."""

    def __init__(self, shape: Sequence[int]):
        self.shape = tuple(shape)
        self.ndim = len(self.shape)
