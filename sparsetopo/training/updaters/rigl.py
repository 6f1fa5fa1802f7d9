"""RigL (Evci et al., "Rigging the Lottery", ICML 2020): drop by weight magnitude, grow by gradient magnitude.

Every ``update_every`` steps ΔT until ``T_end = round(update_end * total_steps)``, each updated layer drops the
``floor(f_t * n_active)`` active weights of smallest magnitude and grows as many connections where the dense
gradient of the current batch is largest, with the cosine-decayed fraction
``f_t = drop_fraction * (1 + cos(pi * t / T_end)) / 2`` (α = 0.3, ΔT = 100, T_end at 75% of training: the
paper's defaults).

Choices, against the reference implementation (google-research/rigl, ``SparseRigLOptimizer`` in
``rigl/sparse_optimizers.py`` and ``rigl_tf2/mask_updaters.py``):

- Drop and grow are computed on the same step, from the same weights: the kept set is the ``n_active - n_drop``
  largest magnitudes; growth chooses among every position outside the kept set, so a weight just dropped may
  be chosen again (it then keeps its value and optimiser state: it never left), as in the reference.
- The growth score is ``|dL/dW|`` of the update step's batch at every position, computed by one extra dense
  forward and backward pass at update steps only (:func:`~sparsetopo.training.updaters.base.dense_gradients`;
  dropout off), whatever the backend. The reference differentiates the training batch's loss with respect
  to the masked weights, the same quantity.
- On an update step the mask update replaces that step's weight update (the reference's
  ``cond_mask_update_op`` applies gradients only on the other steps).
- New connections start at zero with zero optimiser state (the reference's ``grow_init='zeros'`` and
  ``reset_momentum``).
- Ties are broken by position: among equal magnitudes the later position (row-major) is dropped first, and
  among equal gradients the earlier position grows first. The reference adds Gaussian noise of std 1e-5 to
  the drop scores instead; a deterministic order keeps runs reproducible without a random generator.
- Counts are per layer, from each layer's own active count (the reference's ``n_prune`` per mask). The
  layer densities are the run's (its Erdős–Rényi topology), not redistributed.
- The output layer is left alone unless ``update_output`` (RigL leaves dense layers dense; the study's
  output layer is dense unless ``sparse_output``).
- Updates happen at steps ΔT, 2ΔT, ... up to and including T_end (steps counted from 1 over the run), never
  at step 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .base import (
    Batch,
    MaskUpdater,
    Plan,
    UpdateContext,
    dense_gradients,
    floor_count,
    layer_mask,
    layer_weight,
    top_positions,
    updated_layers,
)

__all__ = ["RiglOptions", "RiglUpdater", "rigl_drop_grow", "rigl_fraction"]


@dataclass(frozen=True)
class RiglOptions:
    """RigL's options.

    Attributes
    ----------
    drop_fraction : float in (0, 1)
        α: the fraction of each layer's active weights replaced at the first update.
    update_every : int >= 1
        ΔT: steps between mask updates.
    update_end : float in (0, 1]
        T_end as a fraction of the run's steps: no update after it.
    update_output : bool
        Update a sparse output layer too (left alone by default).
    """

    drop_fraction: float = field(default=0.3, metadata={"help": "RigL's α: fraction of each layer's active weights replaced at the first update, decayed on a cosine"})
    update_every: int = field(default=100, metadata={"help": "RigL's ΔT: steps between mask updates"})
    update_end: float = field(default=0.75, metadata={"help": "RigL's T_end as a fraction of the run's steps: no update after it"})
    update_output: bool = field(default=False, metadata={"help": "RigL: update a sparse output layer too"})

    def __post_init__(self) -> None:
        if isinstance(self.drop_fraction, bool) or not isinstance(self.drop_fraction, (int, float)) \
                or not 0 < self.drop_fraction < 1:
            raise ValueError(f"drop_fraction must be in (0, 1), got {self.drop_fraction!r}; use e.g. 0.3")
        if isinstance(self.update_every, bool) or not isinstance(self.update_every, int) or self.update_every < 1:
            raise ValueError(f"update_every must be a whole number of steps >= 1, got {self.update_every!r}; use e.g. 100")
        if isinstance(self.update_end, bool) or not isinstance(self.update_end, (int, float)) or not 0 < self.update_end <= 1:
            raise ValueError(f"update_end must be a fraction of the run's steps in (0, 1], got {self.update_end!r}; use e.g. 0.75")
        if not isinstance(self.update_output, bool):
            raise ValueError(f"update_output must be true or false, got {self.update_output!r}")


def rigl_fraction(step: int, drop_fraction: float, end_step: int) -> float:
    """The cosine-decayed update fraction ``drop_fraction * (1 + cos(pi * step / end_step)) / 2`` (0 after ``end_step``)."""
    if step > end_step or end_step <= 0:
        return 0.0
    return drop_fraction * 0.5 * (1.0 + math.cos(math.pi * step / end_step))


def rigl_drop_grow(weight: np.ndarray, mask: np.ndarray, grad: np.ndarray, fraction: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One RigL update of one layer.

    Parameters
    ----------
    weight : float array ``(n_out, n_in)``
        Current weights (absent positions are ignored).
    mask : bool array ``(n_out, n_in)``
        Current topology.
    grad : float array ``(n_out, n_in)``
        ``dL/dW`` at every position (:func:`~sparsetopo.training.updaters.base.dense_gradients`).
    fraction : float in [0, 1)
        ``n_drop = floor(fraction * n_active)`` weights leave and as many positions arrive.

    Returns
    -------
    new_mask : bool array ``(n_out, n_in)``
        Same edge count as ``mask``.
    removed : bool array
        Edges of ``mask`` absent from ``new_mask`` (a dropped weight that was grown again is not removed).
    grown : bool array
        Edges of ``new_mask`` absent from ``mask``: the new connections (they start at zero).
    """
    mask = np.asarray(mask, dtype=bool)
    flat_m = mask.ravel()
    active = np.flatnonzero(flat_m)
    n_drop = floor_count(fraction, active.size)
    kept = top_positions(np.abs(np.asarray(weight, dtype=np.float64).ravel()), active, active.size - n_drop)
    new = np.zeros_like(flat_m)
    new[kept] = True
    grow = top_positions(np.abs(np.asarray(grad, dtype=np.float64).ravel()), np.flatnonzero(~new), n_drop)
    new[grow] = True
    new = new.reshape(mask.shape)
    return new, mask & ~new, new & ~mask


class RiglUpdater(MaskUpdater):
    """RigL's schedule around :func:`rigl_drop_grow` (see the module docstring for its choices)."""

    name = "rigl"
    acts = "step"
    OPTIONS = RiglOptions

    def __init__(self, options: RiglOptions, plan: Plan) -> None:
        super().__init__(options, plan)
        self.end_step = int(round(options.update_end * plan.total_steps))

    def acts_at_step(self, step: int) -> bool:
        """Steps ΔT, 2ΔT, ... up to T_end."""
        return step % self.options.update_every == 0 and step <= self.end_step

    def before_step(self, ctx: UpdateContext, step: int, batch: Batch) -> bool:
        """Drop and grow in every updated layer; the step's weight update is replaced by the mask update."""
        fraction = rigl_fraction(step, self.options.drop_fraction, self.end_step)
        layers = ctx.layers()
        targets = updated_layers(ctx, self.options.update_output)
        if not targets:
            return False
        grads = dense_gradients(ctx.model, batch)
        for k in targets:
            new_mask, removed, grown = rigl_drop_grow(layer_weight(layers[k]), layer_mask(layers[k]), grads[k], fraction)
            ctx.apply(k, new_mask, removed | grown, removed=removed, grown=grown)
        ctx.finish()
        return True
