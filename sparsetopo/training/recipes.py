"""Named recipes: sets of :class:`~sparsetopo.store.config.RunConfig` fields that reproduce a published setting.

A recipe is a plain dict of field values; :func:`recipe_config` lays it over
the config defaults, and explicit changes override it
(``sparsetopo train --recipe set_reference --epochs 20`` does the same).
"""

from __future__ import annotations

from typing import Any

from .config import RunConfig

__all__ = ["RECIPES", "SPARSITY_FIELDS", "recipe_values", "recipe_config"]

RECIPES: dict[str, dict[str, Any]] = {
    # The Fashion-MNIST example of the SET authors' reference implementation
    # (Mocanu et al. 2018, "Implementation 2": scipy sparse matrices, later
    # ported to numba): 784-1000-1000-1000-10, ReLU, softmax cross-entropy,
    # Erdős–Rényi ε = 13 on the hidden layers with a dense output layer,
    # ζ = 0.3 with regrowth at random positions and He-uniform values, SGD
    # lr 0.05 and momentum 0.9, weight decay 2e-4 applied each step as
    # w <- w - wd*w, batch 40, dropout 0.2, pixels scaled to [0, 1], the full
    # 60,000/10,000 split. backend="auto" runs the hidden layers (~3% dense)
    # on the sparse backend; it changes speed, not the mathematics.
    "set_reference": dict(
        dataset="fashion_mnist",
        hidden=(1000, 1000, 1000),
        method="set",
        epsilon=13.0,
        sparse_output=False,
        zeta=0.3,
        regrow_init="random",
        rewire_output=False,
        activation="relu",
        dropout=0.2,
        weight_init="he_uniform",
        lr=0.05,
        momentum=0.9,
        weight_decay=2e-4,
        weight_decay_mode="decoupled",
        lr_schedule="constant",
        batch_size=40,
        preprocessing="minmax",
        validation_fraction=0.0,
        backend="auto",
    ),
}
"""Recipe name -> RunConfig field values (see the comments in the source for what each reproduces)."""


SPARSITY_FIELDS = ("epsilon", "density", "layer_edges")
"""Fields of which a sparse config takes exactly one: naming one in the changes replaces the recipe's."""


def recipe_values(name: str, changes: dict[str, Any]) -> dict[str, Any]:
    """The recipe's field values that ``changes`` keep: all but the sparsity fields the changes replace.

    A recipe with ``epsilon`` and changes with ``density`` give a config with
    that density and no epsilon (the changes choose how sparsity is given).

    Raises
    ------
    KeyError
        ``name`` is not a recipe (the message lists them).
    """
    if name not in RECIPES:
        raise KeyError(f"unknown recipe {name!r}; choose one of {sorted(RECIPES)}")
    base = dict(RECIPES[name])
    if any(changes.get(k) is not None for k in SPARSITY_FIELDS):
        for k in SPARSITY_FIELDS:
            if k not in changes:
                base.pop(k, None)
    return base


def recipe_config(name: str, **changes: Any) -> RunConfig:
    """The config of recipe ``name`` with ``changes`` applied on top (see :func:`recipe_values`).

    Raises
    ------
    KeyError
        ``name`` is not a recipe (the message lists them).
    """
    return RunConfig(**{**recipe_values(name, changes), **changes})
