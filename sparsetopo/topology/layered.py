"""Topologies of chains of linear and 2-D convolutional layers.

A *layered topology* is an ordered list of boolean masks, one per layer, each
either

* 2-D ``(n_out, n_in)``, like ``torch.nn.Linear.weight``, or
* 4-D ``(out_channels, in_channels, kh, kw)``, like ``torch.nn.Conv2d.weight``.

A topology of 2-D masks only is an ordinary MLP topology
(:func:`sparsetopo.topology.masks.as_topology`).

Neurons, units and blocks
-------------------------
A layer's *neurons* are its rows: the output features of a linear layer, the
output channels of a convolution. What NNSTD compares is each neuron's
*input set*, the positions of its non-zero weights in the row flattened in C
order: ``in_channel * kh * kw + kernel_row * kw + kernel_col`` for a
convolution, the input feature for a linear layer.

The inputs of layer ``k > 0`` come from the neurons (*units*) of layer
``k - 1``, each owning a contiguous *block* of the flattened row:

=====================  ======================================  ================
layer k                follows                                 block size
=====================  ======================================  ================
Conv2d ``(O, I, h, w)``  anything with ``I`` neurons             ``h * w``
Linear ``(O, N)``        Linear with ``N`` neurons               1
Linear ``(O, N)``        Conv2d with ``C`` channels, flattened   ``N / C`` (the
                                                                 feature map's
                                                                 ``H * W``)
=====================  ======================================  ================

The last row is ``torch.flatten``'s channel-major order: feature
``c * H * W + s`` comes from channel ``c``. Renumbering the neurons of layer
``k - 1`` therefore moves whole blocks of layer ``k``'s columns
(:func:`renumber_units`). Layer 0's units are the data's input features (a
linear layer) or input channels (a convolution); they are never renumbered.

Only chains are represented: every layer reads the output of the layer before
it and nothing else (no skip connections).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

from .masks import as_topology, layer_mask

__all__ = [
    "as_layers",
    "is_mlp",
    "input_blocks",
    "flat_layer",
    "layer_kind",
    "describe_layer",
    "summarize_layer",
    "renumber_units",
    "random_like",
    "permute_hidden_units",
]


def is_mlp(layers: Sequence[np.ndarray]) -> bool:
    """True when every layer is a 2-D (linear) mask."""
    return all(np.ndim(m) == 2 for m in layers)


def layer_kind(mask: np.ndarray) -> str:
    """``"linear"`` for a 2-D mask, ``"conv2d"`` for a 4-D one."""
    return "conv2d" if np.ndim(mask) == 4 else "linear"


def describe_layer(mask: np.ndarray) -> str:
    """Short text such as ``linear 32x256`` or ``conv2d 16x8x3x3``."""
    return f"{layer_kind(mask)} {'x'.join(str(s) for s in np.shape(mask))}"


def summarize_layer(mask: np.ndarray) -> str:
    """Kind, shape, edges and density in a few words, e.g. ``linear 32x256 819 edges (10.0%)``.

    ``mask`` is a 2-D ``(n_out, n_in)`` or 4-D ``(out_channels, in_channels, kh, kw)``
    array; any non-zero entry is an edge. Used by the reprs of topologies and results.
    """
    size = int(np.size(mask))
    edges = int(np.count_nonzero(mask))
    density = edges / size if size else 0.0
    return f"{describe_layer(mask)} {edges} edges ({100 * density:.3g}%)"


def _to_bool_array(m: Any, name: str, k: int) -> np.ndarray:
    return layer_mask(m, name, k, ndims=(2, 4))


def as_layers(masks: Sequence[Any], *, name: str = "masks") -> list[np.ndarray]:
    """Validate and convert masks or weights of a chain of linear/conv layers.

    Parameters
    ----------
    masks : sequence of array-like, torch tensors or scipy sparse matrices
        One per layer: 2-D ``(n_out, n_in)`` or 4-D ``(out_channels,
        in_channels, kh, kw)``. Any non-zero entry is an edge. An object
        with a ``masks`` attribute (a
        :class:`sparsetopo.topology.modules.ModelTopology`) stands for its
        masks.
    name : str
        Name of the argument, used in error messages.

    Returns
    -------
    list of np.ndarray
        Boolean masks of the same shapes. A list of 2-D masks only is
        converted by :func:`sparsetopo.topology.masks.as_topology` (same checks and
        messages as for MLPs).

    Raises
    ------
    ValueError
        If a layer is neither 2-D nor 4-D, contains NaN, or the layers do not
        chain (see the module docstring for the rules).
    """
    masks = getattr(masks, "masks", masks)
    if isinstance(masks, np.ndarray) and masks.ndim in (2, 4):
        masks = [masks]
    masks = list(masks)
    if all(np.ndim(m.toarray() if sp.issparse(m) else m) == 2 for m in masks):
        return as_topology(masks, name=name)
    out = [_to_bool_array(m, name, k) for k, m in enumerate(masks)]
    input_blocks(out, name=name)  # raises when the layers do not chain
    return out


def input_blocks(layers: Sequence[np.ndarray], *, name: str = "masks") -> list[int]:
    """Columns of each layer's flattened row that one unit below it owns.

    Parameters
    ----------
    layers : layered topology (2-D and 4-D masks).
    name : str
        Used in error messages.

    Returns
    -------
    list of int
        Per layer, the block size (module docstring): ``kh * kw`` for a
        convolution, 1 for a linear layer that follows a linear layer (or
        reads the data), ``n_in / channels`` for a linear layer after a
        convolution.

    Raises
    ------
    ValueError
        When layer ``k`` cannot read the output of layer ``k - 1``.
    """
    blocks = []
    for k, m in enumerate(layers):
        shape = np.shape(m)
        if len(shape) == 4:
            blocks.append(int(shape[2] * shape[3]))
            if k > 0 and shape[1] != np.shape(layers[k - 1])[0]:
                raise ValueError(
                    f"{name}: layer {k} ({describe_layer(m)}) has {shape[1]} input channels but layer {k - 1} "
                    f"({describe_layer(layers[k - 1])}) has {np.shape(layers[k - 1])[0]} outputs; the layers "
                    "must form a chain, each reading the output of the one before it"
                )
            continue
        if k == 0:
            blocks.append(1)
            continue
        previous = np.shape(layers[k - 1])
        n_in, units = shape[1], previous[0]
        if len(previous) == 2 and n_in != units:
            raise ValueError(
                f"{name}: layer {k} has {n_in} inputs but layer {k - 1} has {units} outputs; masks must be "
                "(n_out, n_in) and chain from one layer to the next (transpose them if they are (n_in, n_out))"
            )
        if len(previous) == 4 and (n_in == 0 or n_in % units):
            raise ValueError(
                f"{name}: layer {k} ({describe_layer(m)}) has {n_in} input features, not a multiple of the "
                f"{units} channels of layer {k - 1} ({describe_layer(layers[k - 1])}); a linear layer after a "
                "convolution must read its flattened (channels, height, width) output"
            )
        blocks.append(int(n_in // units))
    return blocks


def flat_layer(mask: np.ndarray) -> np.ndarray:
    """``(n_out, n_in)`` view of a layer: a 4-D mask's rows flattened in C order."""
    mask = np.asarray(mask)
    return mask if mask.ndim == 2 else mask.reshape(mask.shape[0], -1)


def renumber_units(layer: sp.csr_matrix, matching: np.ndarray, block: int) -> sp.csr_matrix:
    """The second network's layer with its input units renumbered by a matching.

    Parameters
    ----------
    layer : scipy CSR ``(n_out, n_units * block)``
        The second network's flattened layer ``k``.
    matching : int array ``(n_first,)``
        Of layer ``k - 1``: ``matching[a]`` is the second network's unit
        matched to the first network's unit ``a``, or -1 when ``a`` is
        unmatched.
    block : int
        Columns per unit.

    Returns
    -------
    scipy CSR ``(n_out, max(n_first, n_units) * block)``
        Unit ``matching[a]`` becomes unit ``a``; the second network's
        unmatched units, in their own order, become units ``n_first,
        n_first + 1, ...``, which no unit of the first network has. Offsets
        inside a block (kernel positions, spatial positions) are kept.
    """
    n_first = matching.size
    n_units = layer.shape[1] // block
    matched = matching >= 0
    new_index = np.empty(n_units, dtype=np.int64)
    new_index[matching[matched]] = np.flatnonzero(matched)
    unmatched = np.ones(n_units, dtype=bool)
    unmatched[matching[matched]] = False
    new_index[unmatched] = n_first + np.arange(int(unmatched.sum()))
    cols = layer.indices.astype(np.int64)
    new_cols = new_index[cols // block] * block + cols % block
    n_cols = max(n_first, n_units) * block
    index_dtype = np.int32 if n_cols < 2**31 else np.int64
    out = sp.csr_matrix((layer.data, new_cols.astype(index_dtype), layer.indptr), shape=(layer.shape[0], n_cols))
    out.sort_indices()
    return out


def random_like(layers: Sequence[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Random masks with the shapes and exact per-layer edge counts of ``layers``.

    Positions are uniform within each layer. A full layer stays full. For a
    topology of 2-D masks this draws exactly what
    ``random_topology(widths_of(layers), layer_edges=edge_counts(layers),
    seed=rng)`` draws (same calls on ``rng``).
    """
    out = []
    for m in layers:
        shape = np.shape(m)
        total = int(np.prod(shape))
        n_edges = int(np.count_nonzero(m))
        if n_edges == total:
            out.append(np.ones(shape, dtype=bool))
            continue
        flat = np.zeros(total, dtype=bool)
        flat[rng.choice(total, size=n_edges, replace=False)] = True
        out.append(flat.reshape(shape))
    return out


def permute_hidden_units(layers: Sequence[np.ndarray], seed: int | np.random.Generator = 0) -> list[np.ndarray]:
    """The same network with the neurons of every layer but the last renumbered.

    The output neurons and layer 0's inputs keep their indices; the next
    layer's input channels (or flattened blocks) move with their neuron, so
    the network computes the same function up to the order of hidden units
    and its NNSTD to ``layers`` is 0 (with ``tie_break="structure"``).
    """
    layers = as_layers(layers)
    blocks = input_blocks(layers)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    out = [m.copy() for m in layers]
    for k in range(len(out) - 1):
        perm = rng.permutation(out[k].shape[0])
        out[k] = out[k][perm]
        nxt = out[k + 1]
        if nxt.ndim == 4:
            out[k + 1] = nxt[:, perm]
        else:
            b = blocks[k + 1]
            cols = (perm[:, None] * b + np.arange(b)[None, :]).ravel()
            out[k + 1] = nxt[:, cols]
    return out
