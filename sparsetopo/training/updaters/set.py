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

from ..set_rewiring import REGROW_INITS, REGROW_SAMPLERS, prune_and_regrow
from .base import MaskUpdater, Plan, UpdateContext, layer_mask, layer_weight, updated_layers

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


def regrow_bounds(weight_init: str, mask: np.ndarray, rows: np.ndarray) -> float | np.ndarray:
    """Half-width of the uniform draw of regrown weights: the scale of the run's initialisation.

    ``mask`` is the layer's topology ``(n_out, n_in)`` after rewiring and
    ``rows`` the row of every regrown weight. ``dense``: ``1/sqrt(n_in)``;
    ``he_uniform``: ``sqrt(6/n_in)``; ``sparse``: ``1/sqrt(fan_in)`` of each
    regrown weight's neuron (an array, one bound per row in ``rows``).
    """
    n_in = mask.shape[1]
    if weight_init == "he_uniform":
        return math.sqrt(6.0 / n_in)
    if weight_init == "dense":
        return 1.0 / math.sqrt(n_in)
    fan_in = np.maximum(mask.sum(axis=1), 1)
    return 1.0 / np.sqrt(fan_in[rows])


def _regrown_values(weight_init: str, new_mask: np.ndarray, grown: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Values of the regrown weights in row-major order (``regrow_init="random"``)."""
    rows = np.nonzero(grown)[0]
    bound = regrow_bounds(weight_init, new_mask, rows)
    if np.isscalar(bound):
        return rng.uniform(-bound, bound, size=rows.size).astype(np.float32)
    return (rng.uniform(-1.0, 1.0, size=rows.size) * bound).astype(np.float32)


class SetUpdater(MaskUpdater):
    """Sparse Evolutionary Training (Mocanu et al., 2018): prune and regrow after every epoch but the last.

    In every sparse layer (the output layer only with ``rewire_output``), in layer order, one draw of the
    run's SET generator after another: :func:`~sparsetopo.training.set_rewiring.prune_and_regrow`, then, with
    ``regrow_init="random"``, the values of the regrown weights. Removed and regrown positions start with
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
            weight, mask = layer_weight(layers[k]), layer_mask(layers[k])
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
