"""SNIP (Lee et al., "Single-shot Network Pruning based on Connection Sensitivity", ICLR 2019).

Once, at initialisation: the network starts dense (the layers the run makes sparse), its weights drawn as the
run's ``weight_init`` says; on one batch (the first batch of epoch 1) every weight gets the connection
sensitivity ``|w * dL/dw|`` and each layer keeps its ``E_k`` most sensitive weights, ``E_k`` being the edge
count of the run's Erdős–Rényi topology for that layer. Training is then static.

Choices: the ranking is per layer, so SNIP's networks have exactly the per-layer edge counts of every other
method of the study (the paper ranks all layers together with one threshold, which lets the layer densities
float); ties go to the earlier position (row-major); the kept weights keep their initial values (no rescaling
to the new fan-in); the gradient is the mean cross-entropy of the batch with dropout off. The normalisation
of the sensitivities by their sum in the paper does not change a ranking and is left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ...topology.sparse import SparseLayer
from .base import Batch, MaskUpdater, Plan, UpdateContext, dense_gradients, dense_start, layer_weight, top_positions

__all__ = ["SnipOptions", "SnipUpdater", "snip_mask"]


@dataclass(frozen=True)
class SnipOptions:
    """SNIP's options: none; the run's sparsity gives each layer's edge count, its batch size the scoring batch."""


def snip_mask(weight: np.ndarray, grad: np.ndarray, n_keep: int) -> np.ndarray:
    """The ``n_keep`` positions of largest ``|weight * grad|`` (ties: the earlier position), a bool ``(n_out, n_in)``."""
    scores = np.abs(np.asarray(weight, dtype=np.float64) * np.asarray(grad, dtype=np.float64)).ravel()
    keep = top_positions(scores, np.arange(scores.size), int(n_keep))
    mask = np.zeros(scores.size, dtype=bool)
    mask[keep] = True
    return mask.reshape(np.shape(weight))


class SnipUpdater(MaskUpdater):
    """Prunes once at initialisation to the run's per-layer edge counts, then leaves the topology alone."""

    name = "snip"
    acts = "once"
    OPTIONS = SnipOptions

    def __init__(self, options: SnipOptions, plan: Plan) -> None:
        super().__init__(options, plan)
        self.targets: list[int | None] = []

    def initial_topology(self, layers: Sequence[SparseLayer]) -> list[SparseLayer]:
        """Dense layers where the run's topology is sparse; each such layer's edge count is remembered as its target."""
        full, self.targets = dense_start(layers)
        return full

    def at_initialisation(self, ctx: UpdateContext, batch: Batch) -> None:
        """Score every weight on ``batch`` and keep each layer's target count."""
        if not self.targets:
            raise ValueError("SNIP needs the run's topology first: call initial_topology before at_initialisation")
        grads = dense_gradients(ctx.model, batch)
        layers = ctx.layers()
        for k, target in enumerate(self.targets):
            if target is None:
                continue
            new_mask = snip_mask(layer_weight(layers[k]), grads[k], target)
            ctx.apply(k, new_mask, ~new_mask)
        ctx.finish()

    def state_dict(self) -> dict:
        """The per-layer targets (None for a dense layer)."""
        return {"targets": list(self.targets)}

    def load_state_dict(self, state: dict) -> None:
        """Restore the per-layer targets."""
        self.targets = list(state["targets"])
