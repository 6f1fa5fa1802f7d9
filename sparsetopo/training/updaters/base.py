"""The mask-updater protocol: when a sparse-training method changes a network's topology, and how.

A mask updater is the part of a sparse-training method that decides the topology; the trainer owns
everything else (weights, optimiser, data, records). It is called at fixed points, each a no-op unless the
method overrides it:

1. :meth:`MaskUpdater.initial_topology`: the topology the model is built with, given the Erdős–Rényi topology of
   the run's sparsity (which fixes each layer's final edge count). Static, SET and RigL keep it; gradual
   magnitude pruning and SNIP start from dense layers.
2. :meth:`MaskUpdater.at_initialisation`: once, after the model's weights are drawn and before the optimiser
   exists (SNIP prunes here, on one batch).
3. :meth:`MaskUpdater.before_step`: on every step for which :meth:`MaskUpdater.acts_at_step` is true, after
   the batch's backward pass and before the optimiser step; returning ``True`` replaces that step's weight
   update (RigL updates its masks instead of the weights, as the reference does).
4. :meth:`MaskUpdater.after_step`: on the same steps, after the optimiser step (gradual magnitude pruning).
5. :meth:`MaskUpdater.at_epoch_end`: after each epoch's evaluation (SET, between epochs).

``acts`` names the schedule (``"never"``, ``"once"``, ``"epoch"``, ``"step"``) so that the trainer calls
the per-step hooks only for methods that need them. Every change of topology goes through
:meth:`UpdateContext.apply`, which zeroes the weights and optimiser state of changed positions on either
backend, counts what left and what arrived, and keeps the explored-parameter record. An updater's own state
(random generators, counters) is :meth:`MaskUpdater.state_dict`; the trainer stores it in every checkpoint,
so a resumed run repeats the same updates bit for bit.

Steps are counted from 1 over the whole run (``step = (epoch - 1) * steps_per_epoch + batch``); epochs from 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

import numpy as np
import torch
from torch import nn

from ...model import SparseLinear, enforce_masks, topology_layers, weight_state_tensors
from ...sparse_linear import csr_from_mask
from ...topology.sparse import SparseLayer, union_indices

__all__ = ["MaskUpdater", "UpdateContext", "Plan", "Batch", "ACTS", "top_positions", "dense_gradients",
           "layer_weight", "layer_mask", "layer_positions", "floor_count", "updated_layers", "dense_start"]

ACTS = ("never", "once", "epoch", "step")
"""When an updater changes the topology: never (static), once at initialisation, between epochs, between steps."""


@dataclass(frozen=True)
class Plan:
    """What an updater knows of the run ahead.

    Attributes
    ----------
    epochs : int
        Epochs of the run.
    steps_per_epoch : int
        Optimiser steps (batches) per epoch.
    seed : int
        The run's seed (updaters that draw random numbers seed their own generators from it).
    weight_init : str
        The run's weight initialisation (``RunConfig.weight_init``), for methods that draw new weights.
    """

    epochs: int
    steps_per_epoch: int
    seed: int = 0
    weight_init: str = "sparse"

    @property
    def total_steps(self) -> int:
        """Optimiser steps of the whole run."""
        return self.epochs * self.steps_per_epoch


@dataclass(frozen=True)
class Batch:
    """One minibatch: inputs ``x`` ``(batch, n_in)`` and class labels ``y`` ``(batch,)``, on the model's device."""

    x: torch.Tensor
    y: torch.Tensor


@dataclass
class UpdateContext:
    """The model and optimiser an updater acts on, and the record of what it changed.

    Attributes
    ----------
    model : nn.Module
        The network (its topology layers: :func:`sparsetopo.model.topology_layers`).
    optimizer : torch.optim.Optimizer or None
        Its optimiser; None before it exists (at initialisation).
    plan : Plan
    ever_active : list of int64 arrays
        Per layer, the sorted flat (row-major) positions of every edge it has held so far: the
        explored-parameter record, linear in edges; :meth:`apply` and :meth:`note` extend it.
    removed, grown : list of int
        Edges removed and added per layer since the trainer last reset them (once per epoch).
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer | None
    plan: Plan
    ever_active: list[np.ndarray] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    grown: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.layers())
        if not self.ever_active:
            self.ever_active = [layer_positions(layer) for layer in self.layers()]
        self.removed = self.removed or [0] * n
        self.grown = self.grown or [0] * n

    def layers(self) -> list[nn.Module]:
        """The topology layers, input to output."""
        return topology_layers(self.model)

    def reset_counts(self) -> None:
        """Start counting removed and grown edges afresh (the trainer calls it at the start of each epoch)."""
        n = len(self.layers())
        self.removed, self.grown = [0] * n, [0] * n

    @torch.no_grad()
    def apply(self, k: int, new_mask: np.ndarray, changed: np.ndarray, *, removed: np.ndarray | None = None,
              grown: np.ndarray | None = None, grown_values: np.ndarray | None = None) -> None:
        """Give layer ``k`` the topology ``new_mask``; the one place an updater writes weights.

        Parameters
        ----------
        k : int
            Layer index (into :meth:`layers`).
        new_mask : bool array ``(n_out, n_in)``
            The layer's new topology; its edge count may differ from the old one's (pruning).
        changed : bool array ``(n_out, n_in)``
            Positions whose weight and optimiser state are set to zero: at least every removed edge, and every
            new one that starts afresh.
        removed : bool array ``(n_out, n_in)``, optional
            Positions counted as removed (default: present before and absent from ``new_mask``).
        grown : bool array ``(n_out, n_in)``, optional
            Positions counted as grown (default: present in ``new_mask`` and absent before).
        grown_values : float array, optional
            Initial values of the positions in ``grown``, in row-major order (default: zero).

        Call :meth:`finish` after the last layer of an update.
        """
        layer = self.layers()[k]
        old = layer_mask(layer)
        new_mask = np.asarray(new_mask, dtype=bool)
        if grown is None:
            grown = new_mask & ~old
        if removed is None:
            removed = old & ~new_mask
        if isinstance(layer, SparseLinear):
            _apply_sparse(layer, self.optimizer, new_mask, changed, grown, grown_values)
        else:
            w = layer.weight
            changed_t = torch.from_numpy(np.asarray(changed, dtype=bool)).to(w.device)
            w[changed_t] = 0.0
            if grown_values is not None:
                w[torch.from_numpy(grown).to(w.device)] = torch.from_numpy(np.asarray(grown_values)).to(w.device, w.dtype)
            for value in weight_state_tensors(self.optimizer, w):
                value[changed_t] = 0.0
            layer.set_mask(new_mask)
        self.note(k, int(removed.sum()), int(grown.sum()), np.flatnonzero(new_mask.ravel()))

    def note(self, k: int, n_removed: int, n_grown: int, arrived: np.ndarray) -> None:
        """Record a change of layer ``k`` made without :meth:`apply` (e.g. on CSR index sets, linear in edges):
        ``n_removed`` and ``n_grown`` edges, ``arrived`` the sorted flat positions that now hold an edge (a
        superset of the new ones is fine: the record is a union)."""
        self.ever_active[k] = union_indices(self.ever_active[k], np.asarray(arrived, dtype=np.int64))
        self.removed[k] += int(n_removed)
        self.grown[k] += int(n_grown)

    def finish(self) -> None:
        """Zero every absent weight and its optimiser state (:func:`sparsetopo.model.enforce_masks`)."""
        enforce_masks(self.model, self.optimizer)


def _apply_sparse(layer: SparseLinear, optimizer: torch.optim.Optimizer | None, new_mask: np.ndarray,
                  changed: np.ndarray, grown: np.ndarray, grown_values: np.ndarray | None) -> None:
    """A sparse layer's new structure: the same numbers as the masked path, in CSR form."""
    device = layer.values.device
    rows, cols = layer.row_indices(), layer.col_indices
    new_mask_t = torch.from_numpy(new_mask).to(device)
    keep = ~torch.from_numpy(np.asarray(changed, dtype=bool)).to(device)
    grown_t = torch.from_numpy(np.asarray(grown, dtype=bool)).to(device)

    def remap(stored: torch.Tensor, values: torch.Tensor | None) -> torch.Tensor:
        dense = torch.zeros(layer.out_features, layer.in_features, dtype=stored.dtype, device=device)
        dense[rows, cols] = stored
        dense *= keep
        if values is not None:
            dense[grown_t] = values
        return dense[new_mask_t]

    given = None if grown_values is None else torch.from_numpy(np.asarray(grown_values)).to(device, layer.values.dtype)
    values = remap(layer.values.detach(), given)
    state = weight_state_tensors(optimizer, layer.values)
    new_state = [remap(s, None) for s in state]
    if int(new_mask.sum()) == layer.nnz:
        layer.set_structure(new_mask_t, values, state, new_state)
        return
    # the edge count changes (pruning): a new parameter of the new size takes the old one's place in the layer
    # and in the optimiser (autograd keeps the size of a leaf it has seen, so the old one cannot be resized)
    old = layer.values
    layer.values = nn.Parameter(values, requires_grad=old.requires_grad)
    layer.crow_indices, layer.col_indices = csr_from_mask(new_mask_t)
    if optimizer is not None:
        for group in optimizer.param_groups:
            group["params"] = [layer.values if p is old else p for p in group["params"]]
        if old in optimizer.state:
            param_state = optimizer.state.pop(old)
            for key, value in list(param_state.items()):
                for before, after in zip(state, new_state):
                    if value is before:
                        param_state[key] = after
            optimizer.state[layer.values] = param_state
    layer._refresh_transpose()


def layer_positions(layer: nn.Module) -> np.ndarray:
    """The sorted flat (row-major) positions of a layer's edges, int64 (a sparse layer's without densifying)."""
    if isinstance(layer, SparseLinear):
        return layer.flat_indices().cpu().numpy().astype(np.int64)
    return np.flatnonzero(layer.mask.detach().cpu().numpy().ravel()).astype(np.int64)


def layer_mask(layer: nn.Module) -> np.ndarray:
    """A layer's topology as a bool array ``(n_out, n_in)`` (a copy, on CPU)."""
    return layer.mask.detach().cpu().numpy().copy()


def layer_weight(layer: nn.Module) -> np.ndarray:
    """A layer's weight as a dense float array ``(n_out, n_in)``, zero off its topology (a copy, on CPU)."""
    w = layer.weight_dense if isinstance(layer, SparseLinear) else layer.weight.detach()
    return w.cpu().numpy().copy()


def top_positions(scores: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` flat positions among ``candidates`` with the largest ``scores``; ties go to the earlier position.

    ``scores`` is flat; ``candidates`` an increasing array of flat positions. The order is a stable sort, so the
    choice is deterministic and does not depend on the platform.
    """
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    order = np.argsort(-scores[candidates], kind="stable")
    return candidates[order[:k]]


def dense_gradients(model: nn.Module, batch: Batch) -> list[np.ndarray]:
    """``dL/dW`` of every topology layer at every position, present or not, on one batch.

    The loss is the mean cross-entropy of ``batch`` through the network with each layer's current weights
    (zero off its topology), dropout off. The gradient of an absent position is the gradient the weight would
    get if it were present at zero, which neither backend computes during training (a sparse layer has no
    storage there): this recomputes the batch through dense copies of the weights, one forward and one
    backward pass, whatever the backend.

    Returns
    -------
    list of float arrays ``(n_out, n_in)``, one per topology layer.
    """
    layers = topology_layers(model)
    activation = getattr(model, "activation", nn.ReLU())
    weights = [torch.tensor(layer_weight(layer), device=batch.x.device, requires_grad=True) for layer in layers]
    h = batch.x
    for k, (layer, w) in enumerate(zip(layers, weights)):
        bias = None if layer.bias is None else layer.bias.detach()
        h = torch.nn.functional.linear(h, w, bias)
        if k < len(layers) - 1:
            h = activation(h)
    loss = torch.nn.functional.cross_entropy(h, batch.y)
    grads = torch.autograd.grad(loss, weights)
    return [g.detach().cpu().numpy() for g in grads]


class MaskUpdater:
    """One sparse-training method's topology decisions (see the module docstring for when each hook runs).

    A method subclasses this, names itself in ``name``, states its schedule in ``acts`` and overrides the
    hooks it needs; the defaults change nothing. ``exact_counts`` is its promise about edge counts, which the
    shared contract test holds it to: ``"always"`` (every layer keeps the run's Erdős–Rényi counts from the
    first step on) or ``"end"`` (fewer edges never come back, and the counts are exact once the method's
    schedule ends). Constructed with ``(options, plan)``: ``options`` is the
    method's frozen options dataclass (``OPTIONS``, the tagged sub-configuration of the run's config), ``plan``
    the run ahead.
    """

    name: ClassVar[str] = ""
    acts: ClassVar[str] = "never"
    exact_counts: ClassVar[str] = "always"
    OPTIONS: ClassVar[type] = type(None)

    def __init__(self, options: Any, plan: Plan) -> None:
        self.options = options
        self.plan = plan

    def initial_topology(self, layers: Sequence[SparseLayer]) -> list[SparseLayer]:
        """The topology the model is built with, given the run's Erdős–Rényi topology ``layers`` (kept by default)."""
        return list(layers)

    def at_initialisation(self, ctx: UpdateContext, batch: Batch) -> None:
        """Once, after the weights are drawn, before the optimiser exists (``ctx.optimizer`` is None)."""

    def acts_at_step(self, step: int) -> bool:
        """Whether :meth:`before_step` / :meth:`after_step` have work at ``step`` (1-based over the run)."""
        return False

    def before_step(self, ctx: UpdateContext, step: int, batch: Batch) -> bool:
        """After the batch's backward pass, before the optimiser step; True replaces that step's weight update."""
        return False

    def after_step(self, ctx: UpdateContext, step: int) -> None:
        """After the optimiser step of ``step``."""

    def at_epoch_end(self, ctx: UpdateContext, epoch: int) -> None:
        """After epoch ``epoch`` (1-based) was trained and evaluated."""

    def state_dict(self) -> dict[str, Any]:
        """The updater's own state (random generators, counters): plain Python values, saved in checkpoints."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (a resumed run continues from it)."""


def floor_count(fraction: float, n: int) -> int:
    """``floor(fraction * n)``, robust to the float error of a product that should be whole."""
    return int(math.floor(fraction * n + 1e-9))


def updated_layers(ctx: UpdateContext, include_output: bool) -> list[int]:
    """Indices of the sparse layers an updater may change: every layer that is not dense, the output layer
    only with ``include_output`` (both SET reference implementations and RigL's leave it alone)."""
    layers = ctx.layers()
    last = len(layers) - 1
    return [k for k, layer in enumerate(layers) if not layer.is_dense and (k != last or include_output)]


def dense_start(layers: Sequence[SparseLayer]) -> tuple[list[SparseLayer], list[int | None]]:
    """Every sparse layer of ``layers`` made dense, and each layer's edge count (None where it was dense already):
    the start of the methods that prune from dense (SNIP, gradual magnitude pruning)."""
    targets = [None if layer.n_edges == layer.shape[0] * layer.shape[1] else int(layer.n_edges) for layer in layers]
    full = [SparseLayer(layer.shape, np.arange(layer.shape[0] * layer.shape[1], dtype=np.int64)) for layer in layers]
    return full, targets
