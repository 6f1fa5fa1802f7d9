"""Gradual magnitude pruning (Zhu & Gupta, "To prune, or not to prune", 2017): from dense to the target density.

The layers the run makes sparse start dense. Every ``prune_every`` steps Δt between the start step
``t0 = prune_start_epoch * steps_per_epoch`` and the end step ``t_end = prune_end_epoch * steps_per_epoch``
(and at ``t_end`` itself), after the optimiser step, each such layer keeps its largest-magnitude weights, as
many as the cubic schedule allows:

    s_t = s_f + (s_i - s_f) (1 - (t - t0) / (t_end - t0))^3,

with initial sparsity ``s_i = 0`` and final sparsity ``s_f = 1 - E / N`` (``E`` the layer's edge count in the
run's Erdős–Rényi topology, ``N`` its size), i.e. ``E + round((N - E) (1 - p)^3)`` edges at progress
``p = (t - t0) / (t_end - t0)``. From ``t_end`` on the layer has exactly ``E`` edges and the topology stays.
A pruned weight never returns. Ties go to the earlier position (row-major). The paper's ``n Δt`` is
``t_end - t0``; its ``t`` counts optimiser steps, here from 1 over the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ...topology.sparse import SparseLayer
from .base import MaskUpdater, Plan, UpdateContext, dense_start, layer_mask, layer_weight, top_positions

__all__ = ["GmpOptions", "GmpUpdater", "gmp_edges", "magnitude_prune", "default_prune_end"]


def default_prune_end(epochs: int) -> int:
    """The end epoch of pruning when none is given: ``ceil(0.75 * epochs)`` (the last quarter trains the final topology)."""
    return max(1, math.ceil(0.75 * epochs))


@dataclass(frozen=True)
class GmpOptions:
    """Gradual magnitude pruning's options.

    Attributes
    ----------
    prune_start_epoch : int >= 0
        Pruning starts after this many epochs (0: from the first step).
    prune_end_epoch : int or None
        The layers reach their final edge counts after this many epochs (``> prune_start_epoch``, at most the
        run's epochs); None: :func:`default_prune_end` of the run's epochs (``RunConfig`` fills it in).
    prune_every : int >= 1
        Δt: steps between pruning steps.
    """

    prune_start_epoch: int = field(default=0, metadata={"help": "gradual pruning starts after this many epochs"})
    prune_end_epoch: int | None = field(default=None, metadata={"help": "gradual pruning reaches the target edge counts after this many epochs (default: ceil(0.75 epochs))"})
    prune_every: int = field(default=100, metadata={"help": "gradual pruning's Δt: steps between pruning steps"})

    def __post_init__(self) -> None:
        for name in ("prune_start_epoch", "prune_every"):
            value = getattr(self, name)
            low = 1 if name == "prune_every" else 0
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
        end = self.prune_end_epoch
        if end is not None and (isinstance(end, bool) or not isinstance(end, int) or end <= self.prune_start_epoch):
            raise ValueError(f"prune_end_epoch must be a whole number of epochs after prune_start_epoch="
                             f"{self.prune_start_epoch}, got {end!r}")

    def resolved(self, epochs: int) -> "GmpOptions":
        """These options for a run of ``epochs`` epochs: the end filled in; raises ``ValueError`` when it does not fit."""
        end = default_prune_end(epochs) if self.prune_end_epoch is None else self.prune_end_epoch
        if end > epochs or self.prune_start_epoch >= end:
            raise ValueError(f"gradual pruning from epoch {self.prune_start_epoch} to {end} does not fit a run of "
                             f"{epochs} epochs; give prune_start_epoch < prune_end_epoch <= epochs")
        return GmpOptions(self.prune_start_epoch, end, self.prune_every)


def gmp_edges(step: int, n_total: int, n_final: int, start_step: int, end_step: int) -> int:
    """Edges a layer of ``n_total`` positions keeps after ``step`` steps on the cubic schedule to ``n_final``."""
    if step <= start_step:
        return n_total
    if step >= end_step:
        return n_final
    remaining = (1.0 - (step - start_step) / (end_step - start_step)) ** 3
    return n_final + int(round((n_total - n_final) * remaining))


def magnitude_prune(weight: np.ndarray, mask: np.ndarray, n_keep: int) -> np.ndarray:
    """The ``n_keep`` active positions of largest ``|weight|`` (ties: the earlier position), a bool ``(n_out, n_in)``.

    ``n_keep`` at least the active count keeps ``mask`` as it is.
    """
    mask = np.asarray(mask, dtype=bool)
    active = np.flatnonzero(mask.ravel())
    if n_keep >= active.size:
        return mask.copy()
    keep = top_positions(np.abs(np.asarray(weight, dtype=np.float64).ravel()), active, int(n_keep))
    new = np.zeros(mask.size, dtype=bool)
    new[keep] = True
    return new.reshape(mask.shape)


class GmpUpdater(MaskUpdater):
    """Zhu & Gupta's schedule around :func:`magnitude_prune` (see the module docstring)."""

    name = "gmp"
    acts = "step"
    exact_counts = "end"
    OPTIONS = GmpOptions

    def __init__(self, options: GmpOptions, plan: Plan) -> None:
        options = options.resolved(plan.epochs)
        super().__init__(options, plan)
        self.start_step = options.prune_start_epoch * plan.steps_per_epoch
        self.end_step = options.prune_end_epoch * plan.steps_per_epoch
        self.targets: list[int | None] = []

    def initial_topology(self, layers: Sequence[SparseLayer]) -> list[SparseLayer]:
        """Dense layers where the run's topology is sparse; each such layer's edge count is remembered as its target."""
        full, self.targets = dense_start(layers)
        return full

    def acts_at_step(self, step: int) -> bool:
        """Every Δt steps after the start step, and the end step."""
        if step <= self.start_step or step > self.end_step:
            return False
        return (step - self.start_step) % self.options.prune_every == 0 or step == self.end_step

    def after_step(self, ctx: UpdateContext, step: int) -> None:
        """Prune every target layer to its edge count on the schedule."""
        layers = ctx.layers()
        for k, target in enumerate(self.targets):
            if target is None:
                continue
            mask = layer_mask(layers[k])
            n_keep = gmp_edges(step, mask.size, target, self.start_step, self.end_step)
            new_mask = magnitude_prune(layer_weight(layers[k]), mask, n_keep)
            if new_mask.sum() < mask.sum():
                ctx.apply(k, new_mask, mask & ~new_mask)
        ctx.finish()

    def state_dict(self) -> dict:
        """The per-layer targets (None for a layer left dense)."""
        return {"targets": list(self.targets)}

    def load_state_dict(self, state: dict) -> None:
        """Restore the per-layer targets."""
        self.targets = list(state["targets"])
