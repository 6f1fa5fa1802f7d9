"""Masked MLPs: linear layers that carry their topology as a buffer.

A :class:`MaskedLinear` is a ``torch.nn.Linear`` with a boolean buffer
``mask`` of the same shape as ``weight`` ``(n_out, n_in)``. Because the mask is
a buffer it travels with ``state_dict``, ``copy.deepcopy``, ``torch.save`` and
``.to(device)``.

Masks are enforced in exactly one place, :func:`enforce_masks`, which the
training loop calls after every optimizer step: it zeroes the absent weights
*and* their optimizer state (momentum buffers), so a pruned weight stays
exactly zero and a regrown one starts without stale momentum. Layers of the
sparse backend (:class:`~sparsetopo.sparse_linear.SparseLinear`) store only
their present weights, so their structure is their mask and there is nothing
to zero; :func:`to_sparse_backend` swaps masked layers for them.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from .sparse_linear import SparseLinear, dense_products, sparse_relu_stack

__all__ = [
    "MaskedLinear", "SparseLinear", "SparseMLP", "enforce_masks", "masked_layers", "topology_layers",
    "weight_state_tensors", "to_sparse_backend", "ACTIVATIONS", "DENSE_WEIGHT_FILE_MAX_ENTRIES", "model_from_state_dict",
]

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
}
"""Hidden activations by name (``RunConfig.activation``)."""


def _linear_products(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``x @ weight.T + bias``, the products of a :class:`MaskedLinear`."""
    if x.dim() == 2 and x.shape[0] > 1 and x.stride() == (1, x.shape[0]):
        # a feature-major input (the transposed view a sparse layer returns):
        # W @ x.T runs on BLAS's fast path, while x @ W.T on such a view
        # does not (about 6x slower for a 784 -> 10 layer, batch 128)
        x_fm = x.t()
        y_fm = torch.mm(weight, x_fm) if bias is None else torch.addmm(bias.unsqueeze(1), weight, x_fm)
        return y_fm.t()
    return nn.functional.linear(x, weight, bias)


class MaskedLinear(nn.Linear):
    """``nn.Linear`` whose ``weight`` is restricted to the edges of ``mask``.

    Parameters
    ----------
    in_features, out_features : int
    mask : array-like of bool, ``(out_features, in_features)``, optional
        Present edges; default all ones (dense).
    """

    def __init__(self, in_features: int, out_features: int, mask: np.ndarray | torch.Tensor | None = None,
                 bias: bool = True) -> None:
        super().__init__(in_features, out_features, bias=bias)
        if mask is None:
            mask_t = torch.ones(out_features, in_features, dtype=torch.bool)
        else:
            mask_t = torch.as_tensor(np.asarray(mask), dtype=torch.bool)
            if tuple(mask_t.shape) != (out_features, in_features):
                raise ValueError(
                    f"mask has shape {tuple(mask_t.shape)} but the layer weight is "
                    f"({out_features}, {in_features}); masks are (n_out, n_in)"
                )
        self.register_buffer("mask", mask_t)
        with torch.no_grad():
            self.weight.mul_(self.mask)

    @property
    def n_edges(self) -> int:
        return int(self.mask.sum())

    @property
    def is_dense(self) -> bool:
        # asked after every optimizer step (enforce_masks): cached until the mask changes,
        # which any in-place write (set_mask, load_state_dict, .to) makes visible in its version
        key = (id(self.mask), self.mask.data_ptr(), self.mask._version)
        if getattr(self, "_dense_key", None) != key:
            self._dense_key, self._dense = key, bool(self.mask.all())
        return self._dense

    def set_mask(self, mask: np.ndarray | torch.Tensor) -> None:
        """Replace the topology (weights outside it are zeroed at once)."""
        mask_t = torch.as_tensor(np.asarray(mask) if not torch.is_tensor(mask) else mask, dtype=torch.bool)
        if mask_t.shape != self.mask.shape:
            raise ValueError(f"new mask shape {tuple(mask_t.shape)} != layer mask shape {tuple(self.mask.shape)}")
        self.mask.copy_(mask_t.to(self.mask.device))
        with torch.no_grad():
            self.weight.mul_(self.mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # at the caller's thread count inside a step whose short operations run on one thread (their sums
        # round by thread count)
        return dense_products(_linear_products, x, self.weight, self.bias)

    def extra_repr(self) -> str:
        total = self.mask.numel()
        return f"{super().extra_repr()}, edges={self.n_edges}/{total} ({self.n_edges / total:.2%})"


class SparseMLP(nn.Module):
    """Multilayer perceptron of masked linear layers.

    Parameters
    ----------
    widths : sequence of int
        Input, hidden and output sizes, e.g. ``(784, 1000, 1000, 10)``.
    masks : list of bool arrays ``(n_out, n_in)``, optional
        One per layer; default dense.
    layers : list of modules, optional
        Prebuilt layers (:class:`MaskedLinear` or :class:`SparseLinear`) instead of ``masks``.
    activation : str
        Hidden activation, a key of :data:`ACTIVATIONS`.
    dropout : float in [0, 1)
        Inverted dropout on every hidden activation while training. Its
        random draws come from ``self.dropout_generator`` (a
        ``torch.Generator`` the training loop seeds), never the global RNG.
    """

    def __init__(self, widths: Sequence[int], masks: Sequence[np.ndarray | torch.Tensor] | None = None,
                 activation: str = "relu", dropout: float = 0.0, layers: Sequence[nn.Module] | None = None) -> None:
        super().__init__()
        widths = [int(w) for w in widths]
        if len(widths) < 2:
            raise ValueError(f"widths needs input and output sizes, got {widths}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
        n_layers = len(widths) - 1
        if masks is not None and len(masks) != n_layers:
            raise ValueError(f"{len(masks)} masks given for {n_layers} layers (widths {widths})")
        self.widths = widths
        if layers is not None:  # built elsewhere (e.g. sparse layers straight from CSR arrays)
            if masks is not None or len(layers) != n_layers:
                raise ValueError(f"give either masks or {n_layers} prebuilt layers (widths {widths}), not both")
            for k, layer in enumerate(layers):
                if (layer.in_features, layer.out_features) != (widths[k], widths[k + 1]):
                    raise ValueError(f"layer {k} is {layer.in_features} -> {layer.out_features}, widths say {widths[k]} -> {widths[k + 1]}")
            self.layers = nn.ModuleList(layers)
        else:
            self.layers = nn.ModuleList(
                MaskedLinear(widths[k], widths[k + 1], None if masks is None else masks[k]) for k in range(n_layers)
            )
        self.activation = ACTIVATIONS[activation]()
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.dropout = float(dropout)
        self.dropout_generator: torch.Generator | None = None

    def _drop(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.dropout == 0:
            return x
        keep = torch.rand(x.shape, generator=self.dropout_generator, device=x.device, dtype=x.dtype) >= self.dropout
        if x.dim() == 2 and x.shape[0] > 1 and x.stride() == (1, x.shape[0]):
            # x is feature-major (a sparse layer's output): the keep mask laid out the same way (the same draws,
            # as 1.0/0.0, which is what x * keep promotes it to) keeps the products below and their gradients
            # contiguous and the next sparse layer copy-free; the same numbers
            keep = torch.empty_like(x).copy_(keep)
        return x * keep / (1.0 - self.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        last = len(self.layers) - 1
        for indices, fused in self._segments():
            if fused:  # the same numbers as layer by layer with ReLU, in one autograd node
                x = self._drop(sparse_relu_stack(x, [self.layers[k] for k in indices]))
                continue
            k = indices[0]
            x = self.layers[k](x)
            if k < last:
                x = self._drop(self.activation(x))
        return x

    def _segments(self) -> list[tuple[list[int], bool]]:
        """Layer indices in forward order as ``(indices, fused)``: hidden sparse layers with a ReLU are
        fused, consecutive ones into one segment unless dropout acts between them; other layers stand alone."""
        fusable = type(self.activation) is nn.ReLU
        joinable = not (self.training and self.dropout > 0)
        last = len(self.layers) - 1
        segments: list[tuple[list[int], bool]] = []
        for k, layer in enumerate(self.layers):
            fused = fusable and k < last and isinstance(layer, SparseLinear) and layer.bias is not None
            if fused and joinable and segments and segments[-1][1]:
                segments[-1][0].append(k)
            else:
                segments.append(([k], fused))
        return segments

    def masks(self) -> list[np.ndarray]:
        """The topology as bool numpy arrays ``(n_out, n_in)`` (dense: for small networks; training uses index sets)."""
        return [layer.mask.detach().cpu().numpy().copy() for layer in self.layers]

    def weights(self) -> list[np.ndarray]:
        """Copies of the layers' weights, dense ``(n_out, n_in)`` float arrays with zeros outside the masks."""
        return [_dense_weight(layer).cpu().numpy().copy() for layer in self.layers]

    def biases(self) -> list[np.ndarray]:
        """Copies of the layers' biases, ``(n_out,)`` float arrays."""
        return [layer.bias.detach().cpu().numpy().copy() for layer in self.layers]


    def dense_state_dict(self) -> dict[str, torch.Tensor]:
        """State dict in the masked layout (``layers.k.weight``/``bias``/``mask``) whatever the backend, on CPU.

        Saved weight files use it, so they load into a plain masked
        :class:`SparseMLP` on any machine.
        """
        out = {}
        for k, layer in enumerate(self.layers):
            out[f"layers.{k}.weight"] = _dense_weight(layer).cpu().clone()
            out[f"layers.{k}.bias"] = layer.bias.detach().cpu().clone()
            out[f"layers.{k}.mask"] = layer.mask.detach().cpu().clone()
        return out


    def weight_file_state_dict(self, max_dense_entries: int | None = None) -> dict[str, torch.Tensor]:
        """What saved weight files (``weights/*.pt``) hold, on CPU.

        The masked layout of :meth:`dense_state_dict` for every layer, except
        that a :class:`SparseLinear` layer with more than ``max_dense_entries``
        possible edges (default :data:`DENSE_WEIGHT_FILE_MAX_ENTRIES`) is
        written in the sparse layout: ``layers.k.values`` (float ``(nnz,)``),
        ``layers.k.index`` (int64 flat row-major positions ``(nnz,)``),
        ``layers.k.shape`` (int64 ``(n_out, n_in)``) and ``layers.k.bias``, so
        memory and file size stay linear in edges. :func:`model_from_state_dict`
        and :func:`sparsetopo.topology.masks.masks_from_state_dict` read both.
        """
        limit = DENSE_WEIGHT_FILE_MAX_ENTRIES if max_dense_entries is None else int(max_dense_entries)
        out = {}
        for k, layer in enumerate(self.layers):
            if isinstance(layer, SparseLinear) and layer.out_features * layer.in_features > limit:
                out[f"layers.{k}.values"] = layer.values.detach().cpu().clone()
                out[f"layers.{k}.index"] = layer.flat_indices().cpu()
                out[f"layers.{k}.shape"] = torch.tensor([layer.out_features, layer.in_features], dtype=torch.int64)
            else:
                out[f"layers.{k}.weight"] = _dense_weight(layer).cpu().clone()
                out[f"layers.{k}.mask"] = layer.mask.detach().cpu().clone()
            out[f"layers.{k}.bias"] = layer.bias.detach().cpu().clone()
        return {key: out[key] for key in sorted(out, key=_layer_key_order)}


DENSE_WEIGHT_FILE_MAX_ENTRIES = 2**24
"""Largest sparse-backend layer (``n_out * n_in`` positions; 4096 x 4096) whose weight files keep the masked (dense) layout.

Every run of the study is below it, so their files are unchanged; a larger
sparse layer is saved as values and flat indices (:meth:`SparseMLP.weight_file_state_dict`):
its dense form would cost ``5 n_out n_in`` bytes (weight and mask), 1.3 GB at 16,000 x 16,000.
"""

_LAYOUT_ORDER = {"weight": 0, "values": 0, "index": 1, "shape": 2, "bias": 3, "mask": 4}


def _layer_key_order(key: str) -> tuple[int, int]:
    """``layers.k.<entry>`` in layer order, then weight/values, index, shape, bias, mask (the order of ``state_dict``)."""
    _, k, leaf = key.split(".")
    return int(k), _LAYOUT_ORDER[leaf]


def model_from_state_dict(widths: Sequence[int], state: dict[str, torch.Tensor], activation: str = "relu") -> SparseMLP:
    """A model with the weights of a weight file of either layout (:meth:`SparseMLP.weight_file_state_dict`).

    Layers in the masked layout become :class:`MaskedLinear`, layers in the
    sparse layout :class:`SparseLinear` (built from CSR, never densified).

    Raises
    ------
    ValueError
        A layer's entries are missing or do not fit ``widths``.
    """
    widths = [int(w) for w in widths]
    layers: list[nn.Module] = []
    for k in range(len(widths) - 1):
        n_in, n_out = widths[k], widths[k + 1]
        prefix = f"layers.{k}."
        if prefix + "index" in state:
            shape = tuple(int(s) for s in state[prefix + "shape"])
            if shape != (n_out, n_in):
                raise ValueError(f"{prefix}shape is {shape}, but widths {widths} make layer {k} ({n_out}, {n_in})")
            index = state[prefix + "index"].to(torch.int64)
            rows = torch.div(index, n_in, rounding_mode="floor")
            crow = torch.zeros(n_out + 1, dtype=torch.int64)
            crow[1:] = torch.cumsum(torch.bincount(rows, minlength=n_out), 0)
            layers.append(SparseLinear.from_csr((n_out, n_in), crow, index - rows * n_in, state[prefix + "values"], state[prefix + "bias"]))
        elif prefix + "weight" in state:
            layer = MaskedLinear(n_in, n_out, state.get(prefix + "mask"))
            layer.load_state_dict({key[len(prefix):]: v for key, v in state.items() if key.startswith(prefix)})
            layers.append(layer)
        else:
            raise ValueError(f"the state dict has no {prefix}weight or {prefix}index entry for layer {k} (widths {widths})")
    return SparseMLP(widths, activation=activation, layers=layers)


def _dense_weight(layer: nn.Module) -> torch.Tensor:
    return layer.weight_dense if isinstance(layer, SparseLinear) else layer.weight.detach()


def masked_layers(model: nn.Module) -> list[MaskedLinear]:
    """All masked linear layers of a model, in order (layers of the sparse backend excluded)."""
    return [m for m in model.modules() if isinstance(m, MaskedLinear)]


def topology_layers(model: nn.Module) -> list[nn.Module]:
    """All layers that carry a topology (masked or sparse backend), in order.

    Each has ``mask`` (bool ``(n_out, n_in)``), ``n_edges``, ``is_dense``,
    ``in_features`` and ``out_features``.
    """
    return [m for m in model.modules() if isinstance(m, (MaskedLinear, SparseLinear))]


def to_sparse_backend(model: SparseMLP, layers: Sequence[int]) -> SparseMLP:
    """Swap the masked layers at ``layers`` for :class:`SparseLinear` ones, in place.

    The new layers hold exactly the present weights of the old ones (same
    values, bitwise), so a model built once and converted starts from the
    same numbers as the masked model. Build the optimizer after converting.
    """
    for k in layers:
        old = model.layers[k]
        if not isinstance(old, MaskedLinear):
            raise TypeError(f"layer {k} is {type(old).__name__}, not MaskedLinear")
        model.layers[k] = SparseLinear(old.weight.detach(), old.mask, None if old.bias is None else old.bias.detach())
    return model


def weight_state_tensors(optimizer: torch.optim.Optimizer | None, weight: torch.Tensor) -> list[torch.Tensor]:
    """Optimizer state of ``weight`` shaped like it (SGD momentum, Adam moments)."""
    state = optimizer.state.get(weight) if optimizer is not None else None
    if not state:
        return []
    return [v for v in state.values() if torch.is_tensor(v) and v.shape == weight.shape]


@torch.no_grad()
def enforce_masks(model: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> None:
    """Zero every absent weight and its optimizer state. The one place masks act.

    Call after every ``optimizer.step()`` and after every topology change.
    Every tensor in the optimizer state of a masked weight that has the
    weight's shape (SGD momentum, Adam moments) is masked too.
    """
    for layer in masked_layers(model):
        if layer.is_dense:
            continue
        layer.weight.mul_(layer.mask)
        for value in weight_state_tensors(optimizer, layer.weight):
            value.mul_(layer.mask)
