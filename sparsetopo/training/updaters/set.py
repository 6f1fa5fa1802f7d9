"""SET as a mask updater: :func:`sparsetopo.training.set_rewiring.prune_and_regrow` after every epoch but the last.

The rule itself (which weights leave, where new ones arrive) is
:func:`~sparsetopo.training.set_rewiring.prune_and_regrow`; this module decides when it runs, on which layers,
with which random generator, and what values regrown weights start from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...model import SparseLinear, weight_state_tensors
from ...topology.sparse import SparseLayer
from ..set_rewiring import REGROW_INITS, REGROW_SAMPLERS, prune_and_regrow, prune_and_regrow_sparse
from .base import MaskUpdater, Plan, UpdateContext, layer_mask, layer_positions, layer_weight, updated_layers

__all__ = ["SetOptions", "SetUpdater", "regrow_bounds", "DEFAULT_ZETA", "SET_SEED_TAG"]

DEFAULT_ZETA = 0.3
"""SET's rewired fraction ζ when unset."""
SET_SEED_TAG = 0x5E7
"""SET's generator is ``numpy.random.default_rng([seed, SET_SEED_TAG])``: apart from every other draw of a run."""


@dataclass(frozen=True)
class SetOptions:
    """SET's options (the ``RunConfig`` fields of the same names).

    Attributes
    ----------
    zeta : float in (0, 1)
        Fraction of the positive and of the negative weights of every rewired layer removed after an epoch.
    regrow_init : {"zero", "random"}
        Regrown weights start at zero, or uniform at the scale of the run's initialisation (:func:`regrow_bounds`).
    regrow_sampler : {"choice", "rejection"}
        How regrown positions are drawn (see :func:`~sparsetopo.training.set_rewiring.prune_and_regrow`).
    rewire_output : bool
        Rewire a sparse output layer too (never by default).
    """

    zeta: float = DEFAULT_ZETA
    regrow_init: str = "zero"
    regrow_sampler: str = "choice"
    rewire_output: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.zeta, bool) or not isinstance(self.zeta, (int, float)) or not 0 < self.zeta < 1:
            raise ValueError(f"zeta must be in (0, 1) for SET, got {self.zeta!r}; use e.g. 0.3")
        if self.regrow_init not in REGROW_INITS:
            raise ValueError(f"regrow_init={self.regrow_init!r}; choose one of {REGROW_INITS}")
        if self.regrow_sampler not in REGROW_SAMPLERS:
            raise ValueError(f"regrow_sampler={self.regrow_sampler!r}; choose one of {REGROW_SAMPLERS}")


def regrow_bounds(weight_init: str, mask: np.ndarray | SparseLayer, rows: np.ndarray) -> float | np.ndarray:
    """Half-width of the uniform draw of regrown weights: the scale of the run's initialisation.

    ``mask`` is the layer's topology after rewiring, a bool array
    ``(n_out, n_in)`` or a :class:`~sparsetopo.topology.sparse.SparseLayer`
    (linear in edges), and ``rows`` the row of every regrown weight.
    ``dense``: ``1/sqrt(n_in)``; ``he_uniform``: ``sqrt(6/n_in)``; ``sparse``:
    ``1/sqrt(fan_in)`` of each regrown weight's neuron (an array, one bound
    per row in ``rows``).
    """
    n_in = mask.shape[1]
    if weight_init == "he_uniform":
        return math.sqrt(6.0 / n_in)
    if weight_init == "dense":
        return 1.0 / math.sqrt(n_in)
    fan_in = np.maximum(mask.fan_in() if isinstance(mask, SparseLayer) else mask.sum(axis=1), 1)
    return 1.0 / np.sqrt(fan_in[rows])


def _regrown_values(weight_init: str, new_mask: np.ndarray | SparseLayer, grown: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
    """Values of the regrown weights in row-major order (``regrow_init="random"``).

    ``new_mask``/``grown``: bool arrays ``(n_out, n_in)`` (masked layers), or
    the new index set and the sorted flat positions of the regrown edges
    (sparse layers; linear in edges). The same draws either way.
    """
    rows = grown // new_mask.shape[1] if isinstance(new_mask, SparseLayer) else np.nonzero(grown)[0]
    bound = regrow_bounds(weight_init, new_mask, rows)
    if np.isscalar(bound):
        return rng.uniform(-bound, bound, size=rows.size).astype(np.float32)
    return (rng.uniform(-1.0, 1.0, size=rows.size) * bound).astype(np.float32)


@torch.no_grad()
def _rewire_sparse(layer: SparseLinear, optimizer: torch.optim.Optimizer | None, new: SparseLayer, kept_from: np.ndarray,
                   regrown_from: np.ndarray, regrown: np.ndarray | None) -> None:
    """Rebuild a sparse layer's structure in CSR form, linear in edges: the numbers of the dense remap.

    ``kept_from``/``regrown_from`` as :func:`~sparsetopo.training.set_rewiring.prune_and_regrow_sparse`
    returns them. A kept edge keeps its value and optimizer state; a regrown
    edge starts from ``regrown`` (or zero) with zero state, where an edge
    that was pruned and regrown at once gets ``old * 0.0`` (a zero of the old
    value's sign), as multiplying the dense layout by the keep mask gave.
    """
    device = layer.values.device
    kept = kept_from >= 0
    grown_slots = np.flatnonzero(~kept)  # new edge ids of the regrown edges, in the order of grown
    again = regrown_from >= 0
    kept_t, from_kept = torch.from_numpy(kept).to(device), torch.from_numpy(kept_from[kept]).to(device)
    again_slots = torch.from_numpy(grown_slots[again]).to(device)
    from_again = torch.from_numpy(regrown_from[again]).to(device)
    grown_t = torch.from_numpy(grown_slots).to(device)

    def remap(stored: torch.Tensor, grown_values: torch.Tensor | None) -> torch.Tensor:
        out = torch.zeros(new.n_edges, dtype=stored.dtype, device=device)
        out[kept_t] = stored[from_kept]
        out[again_slots] = stored[from_again] * 0.0
        if grown_values is not None:
            out[grown_t] = grown_values
        return out

    values = remap(layer.values.detach(), None if regrown is None else torch.from_numpy(regrown).to(device))
    state = weight_state_tensors(optimizer, layer.values)
    crow, col = torch.from_numpy(new.crow()), torch.from_numpy(new.cols())
    layer.set_structure_csr(crow, col, values, state, [remap(s, None) for s in state])


class SetUpdater(MaskUpdater):
    """Sparse Evolutionary Training (Mocanu et al., 2018): prune and regrow after every epoch but the last.

    In every sparse layer (the output layer only with ``rewire_output``), in layer order, one draw of the
    run's SET generator after another: :func:`~sparsetopo.training.set_rewiring.prune_and_regrow` (a masked
    layer) or :func:`~sparsetopo.training.set_rewiring.prune_and_regrow_sparse` (a CSR layer: the same draws
    on its index set, linear in edges), then, with ``regrow_init="random"``, the values of the regrown weights. Removed and regrown positions start with
    zero weight (or the drawn value) and zero optimiser state. Edge counts never change.
    """

    name = "set"
    acts = "epoch"
    OPTIONS = SetOptions

    def __init__(self, options: SetOptions, plan: Plan) -> None:
        super().__init__(options, plan)
        self.rng = np.random.default_rng([plan.seed, SET_SEED_TAG])

    def at_epoch_end(self, ctx: UpdateContext, epoch: int) -> None:
        """Rewire after every epoch but the last (the last epoch's topology is the one trained)."""
        if epoch >= self.plan.epochs:
            return
        o = self.options
        layers = ctx.layers()
        for k in updated_layers(ctx, o.rewire_output):
            layer = layers[k]
            if isinstance(layer, SparseLinear):  # on the index set: linear in edges, never densified
                old = SparseLayer((layer.out_features, layer.in_features), layer_positions(layer))
                new_index, removed, grown, kept_from, regrown_from = prune_and_regrow_sparse(
                    old.index, layer.values.detach().cpu().numpy(), old.shape, o.zeta, self.rng,
                    sampler=o.regrow_sampler, with_sources=True)
                new = SparseLayer(old.shape, new_index)
                values = None
                if o.regrow_init == "random" and grown.size:
                    values = _regrown_values(self.plan.weight_init, new, grown, self.rng)
                _rewire_sparse(layer, ctx.optimizer, new, kept_from, regrown_from, values)
                ctx.note(k, removed.size, grown.size, grown)  # kept edges are in the record already
                continue
            # masked layers keep the dense reference step (they hold dense arrays anyway)
            weight, mask = layer_weight(layer), layer_mask(layer)
            new_mask, removed, grown, _ = prune_and_regrow(weight, mask, o.zeta, self.rng, sampler=o.regrow_sampler)
            values = None
            if o.regrow_init == "random" and grown.any():
                values = _regrown_values(self.plan.weight_init, new_mask, grown, self.rng)
            # a position removed and drawn again counts as regrown and starts afresh, as in the reference
            ctx.apply(k, new_mask, removed | grown, removed=removed, grown=grown, grown_values=values)
        ctx.finish()

    def state_dict(self) -> dict[str, Any]:
        """The SET generator's state."""
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the SET generator's state."""
        self.rng.bit_generator.state = state["rng"]
