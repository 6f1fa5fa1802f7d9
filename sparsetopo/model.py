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

from .sparse_linear import SparseLinear, sparse_relu_stack

__all__ = [
    "MaskedLinear", "SparseLinear", "SparseMLP", "enforce_masks", "masked_layers", "topology_layers",
    "weight_state_tensors", "to_sparse_backend", "ACTIVATIONS",
]

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
}
"""Hidden activations by name (``RunConfig.activation``)."""


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
        if x.dim() == 2 and x.shape[0] > 1 and x.stride() == (1, x.shape[0]):
            # a feature-major input (the transposed view a sparse layer returns):
            # W @ x.T runs on BLAS's fast path, while x @ W.T on such a view
            # does not (about 6x slower for a 784 -> 10 layer, batch 128)
            x_fm = x.t()
            y_fm = torch.mm(self.weight, x_fm) if self.bias is None else torch.addmm(self.bias.unsqueeze(1), self.weight, x_fm)
            return y_fm.t()
        return super().forward(x)

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
    activation : str
        Hidden activation, a key of :data:`ACTIVATIONS`.
    dropout : float in [0, 1)
        Inverted dropout on every hidden activation while training. Its
        random draws come from ``self.dropout_generator`` (a
        ``torch.Generator`` the training loop seeds), never the global RNG.
    """

    def __init__(self, widths: Sequence[int], masks: Sequence[np.ndarray | torch.Tensor] | None = None,
                 activation: str = "relu", dropout: float = 0.0) -> None:
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
        """The topology as bool numpy arrays ``(n_out, n_in)``."""
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
