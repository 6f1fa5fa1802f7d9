"""Building a run's model: initial weights drawn from its seed, sparse layers straight in CSR.

:func:`build_model` gives every backend bitwise the same initial numbers.
Layers of the masked backend are ``MaskedLinear`` (a dense weight and mask);
layers of the sparse backend are built as :class:`~sparsetopo.sparse_linear.SparseLinear`
from their edge index sets, never through a dense ``(n_out, n_in)`` tensor.

Two ways to draw the initial weights (``RunConfig.init_draws``):

``dense_stream`` (default; every stored run)
    PyTorch's ``nn.Linear`` initialisation of the dense ``(n_out, n_in)``
    weight under ``torch.manual_seed(config.seed)``, keeping the present
    entries. A sparse layer draws the same stream in chunks of rows
    (:data:`DRAW_CHUNK` values at a time; chunked ``uniform_`` consumes the
    generator exactly as one call does) and keeps the present entries:
    memory O(chunk + edges), time O(n_out n_in) draws (1.1e11 for a
    333,334-wide hidden layer: too slow there).
``edges``
    One draw per present edge: for each layer in order, its weights in
    row-major (CSR) order, ``U(±b)`` with the bound of ``weight_init``
    (PyTorch's ``1/sqrt(n_in)`` for ``sparse`` and ``dense``,
    ``sqrt(6/n_in)`` for ``he_uniform``), then its biases ``U(±1/sqrt(n_in))``
    (zero, not drawn, for ``he_uniform``); ``sparse`` then rescales each row
    by ``sqrt(n_in / fan_in)`` as before. Time and memory linear in edges;
    the masked backend scatters the same draws into its dense weight.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..model import MaskedLinear, SparseLinear, SparseMLP
from ..topology.sparse import SparseLayer, as_sparse_topology
from .config import RunConfig

__all__ = ["build_model", "layer_topology", "model_topology", "csr_of", "DRAW_CHUNK"]

DRAW_CHUNK = 1 << 22
"""Values drawn at a time when a sparse layer replays the dense initialisation stream (16 MiB of float32)."""


def csr_of(layer: SparseLayer) -> tuple[torch.Tensor, torch.Tensor]:
    """``(crow_indices, col_indices)`` int64 tensors of an index set."""
    return torch.from_numpy(layer.crow()), torch.from_numpy(layer.cols())


def layer_topology(layer: nn.Module) -> SparseLayer:
    """The edge index set of a model layer (a sparse layer's from its CSR arrays, without densifying)."""
    shape = (layer.out_features, layer.in_features)
    if isinstance(layer, SparseLinear):
        return SparseLayer(shape, layer.flat_indices().cpu().numpy())
    return SparseLayer(shape, np.flatnonzero(layer.mask.detach().cpu().numpy().ravel()))


def model_topology(model: nn.Module) -> list[SparseLayer]:
    """The topology of every layer that has one, as index sets (:func:`layer_topology`)."""
    from ..model import topology_layers

    return [layer_topology(layer) for layer in topology_layers(model)]


def _kaiming_bound(n_in: int) -> float:
    """The half-width ``nn.Linear.reset_parameters`` uses for its weight (``kaiming_uniform_`` with ``a = sqrt(5)``)."""
    gain = nn.init.calculate_gain("leaky_relu", math.sqrt(5))
    std = gain / math.sqrt(n_in)
    return math.sqrt(3.0) * std


def _stream_values(layer: SparseLayer, bound: float) -> torch.Tensor:
    """The present entries of ``empty(n_out, n_in).uniform_(-bound, bound)``, drawn ``DRAW_CHUNK`` values at a time."""
    n_out, n_in = layer.shape
    out = torch.empty(layer.n_edges, dtype=torch.float32)
    rows_per = max(1, DRAW_CHUNK // n_in)
    buffer = torch.empty(min(n_out, rows_per) * n_in, dtype=torch.float32)
    crow = layer.crow()
    index = torch.from_numpy(layer.index)
    for r0 in range(0, n_out, rows_per):
        r1 = min(n_out, r0 + rows_per)
        drawn = buffer[: (r1 - r0) * n_in].uniform_(-bound, bound)
        s, e = int(crow[r0]), int(crow[r1])
        if e > s:
            out[s:e] = drawn[index[s:e] - r0 * n_in]
    return out


def build_model(config: RunConfig, widths: Sequence[int], masks: Sequence[Any] | None = None, *,
                sparse_layers: Sequence[int] = ()) -> SparseMLP:
    """A model with weights drawn from ``config.seed`` (global RNG untouched).

    Parameters
    ----------
    config : RunConfig
        ``seed``, ``weight_init``, ``init_draws``, ``activation``, ``dropout``.
    widths : sequence of int
    masks : topology, optional
        One entry per layer: a bool mask ``(n_out, n_in)`` or a
        :class:`~sparsetopo.topology.sparse.SparseLayer`; None for dense.
    sparse_layers : layer indices built as :class:`SparseLinear`
        Straight from their index sets; the others are ``MaskedLinear``
        (which hold a dense mask). Every choice gives bitwise the same
        initial weights.

    Initialisation schemes (``config.weight_init``):

    ``sparse``
        PyTorch's ``U(±1/sqrt(n_in))``, each neuron's incoming weights rescaled
        by ``sqrt(n_in / fan_in)``, its real number of inputs, so a sparse layer
        starts with the activation scale of a dense one. Masking a dense
        initialisation instead shrinks the signal by ``sqrt(density)`` per
        layer, which stalls deep networks at ~5% density (e.g.
        784-1000-1000-1000 at ε = 20 stays at chance for several epochs of SGD
        at lr 0.01).
    ``dense``
        PyTorch's default, masked.
    ``he_uniform``
        ``U(±sqrt(6 / n_in))`` with the dense fan-in ``n_in``, masked, and zero
        biases (the SET reference implementation's scheme).

    How the values are drawn (``config.init_draws``) is described in this
    module's docstring.
    """
    widths = [int(w) for w in widths]
    sparse_layers = sorted(set(int(k) for k in sparse_layers))
    if sparse_layers and masks is None:
        raise ValueError("sparse_layers given for a dense model; a sparse layer needs a topology")
    if masks is not None:
        masks = list(masks)
    if config.init_draws == "dense_stream" and not sparse_layers:
        dense_masks = None if masks is None else [m.to_mask() if isinstance(m, SparseLayer) else m for m in masks]
        return _build_masked(config, widths, dense_masks)
    n_layers = len(widths) - 1
    topology = None if masks is None else as_sparse_topology(masks)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        layers = [_build_layer(config, widths[k], widths[k + 1], None if topology is None else topology[k], k in sparse_layers)
                  for k in range(n_layers)]
        if config.weight_init == "he_uniform" and config.init_draws == "dense_stream":
            with torch.no_grad():
                for k, layer in enumerate(layers):
                    bound = math.sqrt(6.0 / layer.in_features)
                    if isinstance(layer, SparseLinear):
                        layer.values.copy_(_stream_values(topology[k], bound))
                    else:
                        layer.weight.uniform_(-bound, bound).mul_(layer.mask)
                    layer.bias.zero_()
    if config.weight_init == "sparse":
        with torch.no_grad():
            for layer in layers:
                _rescale_to_fan_in(layer)
    return SparseMLP(widths, activation=config.activation, dropout=config.dropout, layers=layers)


def _build_masked(config: RunConfig, widths: list[int], masks: list[np.ndarray] | None) -> SparseMLP:
    """The masked model of ``dense_stream`` draws (the construction every stored run used)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = SparseMLP(widths, masks=masks, activation=config.activation, dropout=config.dropout)
        if config.weight_init == "he_uniform":
            with torch.no_grad():
                for layer in model.layers:
                    bound = math.sqrt(6.0 / layer.in_features)
                    layer.weight.uniform_(-bound, bound).mul_(layer.mask)
                    layer.bias.zero_()
    if config.weight_init == "sparse":
        with torch.no_grad():
            for layer in model.layers:
                _rescale_to_fan_in(layer)
    return model


@torch.no_grad()
def _rescale_to_fan_in(layer: nn.Module) -> None:
    """Multiply each neuron's incoming weights by ``sqrt(n_in / fan_in)`` (the ``sparse`` scheme), the same float32 ops on both backends."""
    if isinstance(layer, SparseLinear):
        counts = (layer.crow_indices[1:] - layer.crow_indices[:-1]).clamp(min=1).to(layer.values.dtype)
        factor = torch.sqrt(layer.in_features / counts)
        layer.values.mul_(torch.repeat_interleave(factor, layer.crow_indices[1:] - layer.crow_indices[:-1]))
    else:
        fan_in = layer.mask.sum(dim=1, keepdim=True).clamp(min=1).to(layer.weight.dtype)
        layer.weight.mul_(torch.sqrt(layer.in_features / fan_in))


@torch.no_grad()
def _build_layer(config: RunConfig, n_in: int, n_out: int, topology: SparseLayer | None, sparse: bool) -> nn.Module:
    """One layer, drawing from the (seeded) global generator in the order the module docstring states."""
    bias_bound = 1.0 / math.sqrt(n_in)
    if config.init_draws == "dense_stream":
        if not sparse:  # nn.Linear's own draws: weight, then bias
            return MaskedLinear(n_in, n_out, None if topology is None else topology.to_mask())
        values = _stream_values(topology, _kaiming_bound(n_in))
        bias = torch.empty(n_out).uniform_(-bias_bound, bias_bound)
    else:
        bound = math.sqrt(6.0 / n_in) if config.weight_init == "he_uniform" else _kaiming_bound(n_in)
        n_edges = n_in * n_out if topology is None else topology.n_edges
        values = torch.empty(n_edges).uniform_(-bound, bound)
        bias = torch.zeros(n_out) if config.weight_init == "he_uniform" else torch.empty(n_out).uniform_(-bias_bound, bias_bound)
        if not sparse:
            with torch.random.fork_rng(devices=[]):  # nn.Linear's own draws are overwritten: keep them off the stream
                layer = MaskedLinear(n_in, n_out, None if topology is None else topology.to_mask())
            weight = torch.zeros(n_out * n_in)
            weight[torch.from_numpy(topology.index) if topology is not None else slice(None)] = values
            layer.weight.copy_(weight.view(n_out, n_in))
            layer.bias.copy_(bias)
            return layer
    crow, col = csr_of(topology)
    return SparseLinear.from_csr((n_out, n_in), crow, col, values, bias)
