"""Checks of run-configuration values, with messages that say what to use instead.

:func:`check_config_values` looks at a :class:`~sparsetopo.training.config.RunConfig`'s
own values (types, finite numbers, ranges, combinations that mean something
else than asked); ``RunConfig`` calls it when built, so a bad config never
exists. :func:`check_config_for_widths` adds the checks that need the
network's layer widths (edges per layer), which the run store applies before
it creates a run folder.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

from ..model import ACTIVATIONS
from .set_rewiring import REGROW_SAMPLERS
from .updaters.registry import UPDATERS

__all__ = ["check_config_values", "check_config_for_widths", "METHODS", "LR_SCHEDULES", "WEIGHT_INITS",
           "INIT_DRAWS", "WEIGHT_DECAY_MODES", "BACKENDS", "DEVICES"]

METHODS = ("dense", *UPDATERS)
"""Training methods: ``dense`` and every sparse-training method of :data:`sparsetopo.training.updaters.UPDATERS`
(``static``: a fixed random mask, ``set``: SET rewiring, ``rigl``, ``snip``, ``gmp``: gradual magnitude pruning)."""
LR_SCHEDULES = ("constant", "cosine", "step")
"""Learning-rate schedules: ``constant``, ``cosine``, ``step`` (x0.1 at 50% and 75% of the epochs)."""
WEIGHT_INITS = ("sparse", "dense", "he_uniform")
"""Weight initialisations (see ``RunConfig.weight_init``)."""
INIT_DRAWS = ("dense_stream", "edges")
"""How initial weights are drawn (see ``RunConfig.init_draws``)."""
WEIGHT_DECAY_MODES = ("coupled", "decoupled")
"""Weight decay modes (see ``RunConfig.weight_decay_mode``)."""
BACKENDS = ("masked", "sparse", "auto")
"""Layer backends (see ``RunConfig.backend``)."""
DEVICES = ("auto", "cpu", "cuda")
"""Devices (see ``RunConfig.device``)."""



def _real(name: str, value: Any, hint: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r} ({type(value).__name__}); {hint}")
    if not math.isfinite(value):
        raise ValueError(f"{name}={value} is not a finite number; {hint}")
    return float(value)


def _integer(name: str, value: Any, minimum: int, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a whole number (int), got {value!r}; {hint}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}; {hint}")
    return int(value)


def check_config_values(c: Any) -> None:
    """Raise ``ValueError`` naming the field if a RunConfig value is unusable.

    Called before the config normalises itself, so it sees what was asked.
    """
    if not isinstance(c.dataset, str) or not c.dataset.strip():
        raise ValueError(f"dataset must be a dataset name, got {c.dataset!r}; see `sparsetopo datasets`")
    lr = _real("lr", c.lr, "use a positive learning rate such as 0.01")
    if lr <= 0:
        raise ValueError(f"lr must be positive, got {c.lr}; use e.g. 0.01")
    momentum = _real("momentum", c.momentum, "use a value in [0, 1), e.g. 0.9")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {c.momentum}; use e.g. 0.9 (0 for plain SGD)")
    wd = _real("weight_decay", c.weight_decay, "use a small non-negative value such as 2e-4")
    if wd < 0:
        raise ValueError(f"weight_decay must be >= 0, got {c.weight_decay}")
    if c.weight_decay_mode == "decoupled" and wd >= 1:
        raise ValueError(f"weight_decay must be < 1 with weight_decay_mode='decoupled' (w <- w - wd*w per step), "
                         f"got {c.weight_decay}; use e.g. 2e-4")
    if c.zeta is not None:
        zeta = _real("zeta", c.zeta, "use a fraction in (0, 1) such as 0.3")
        if not 0 <= zeta < 1:
            raise ValueError(f"zeta must be in (0, 1) (the fraction SET rewires per epoch), got {c.zeta}; use e.g. 0.3")
    dropout = _real("dropout", c.dropout, "use a fraction in [0, 1), 0 for none")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {c.dropout}; use e.g. 0.2 (0 for none)")
    for name, choices in (("method", METHODS), ("regrow_init", ("zero", "random", None)),
                          ("regrow_sampler", REGROW_SAMPLERS), ("weight_init", WEIGHT_INITS), ("init_draws", INIT_DRAWS),
                          ("weight_decay_mode", WEIGHT_DECAY_MODES), ("backend", BACKENDS), ("device", DEVICES),
                          ("lr_schedule", LR_SCHEDULES)):
        if getattr(c, name) not in choices:
            raise ValueError(f"{name}={getattr(c, name)!r}; choose one of {tuple(x for x in choices if x is not None)}")
    _real("validation_fraction", c.validation_fraction, "use a fraction in [0, 1), 0 for none")
    _integer("epochs", c.epochs, 1, "give a whole number of epochs")
    _integer("batch_size", c.batch_size, 1, "give a whole number such as 128")
    _integer("seed", c.seed, 0, "seeds are non-negative integers")
    _integer("data_seed", c.data_seed, 0, "seeds are non-negative integers")
    if c.topology_seed is not None:
        _integer("topology_seed", c.topology_seed, 0, "seeds are non-negative integers (or None for seed)")
    _integer("snapshot_every", c.snapshot_every, 1, "save every k >= 1 epochs")
    if c.train_samples is not None:
        _integer("train_samples", c.train_samples, 1, "give a sample count such as 10000 (or None for the whole training split)")
    try:
        hidden = list(c.hidden)
    except TypeError:
        raise ValueError(f"hidden must list the hidden layer widths, e.g. (64, 64), got {c.hidden!r}") from None
    for h in hidden:
        _integer("hidden", h, 1, f"hidden must list positive whole widths, got {tuple(hidden)}")
    if c.snapshot_epochs is not None:
        for e in c.snapshot_epochs:
            _integer("snapshot_epochs", e, 0, "list epochs >= 0")
    if c.activation not in ACTIVATIONS:
        raise ValueError(f"activation={c.activation!r} is unknown; choose one of {sorted(ACTIVATIONS)}")
    if c.preprocessing not in (None, "minmax", "standardize"):
        raise ValueError(f"preprocessing={c.preprocessing!r}; choose 'minmax', 'standardize' or None (the dataset's own)")
    if c.method == "dense":
        if c.initial_topology is not None:
            raise ValueError(
                f"initial_topology={c.initial_topology!r} was given with method='dense', which has no topology "
                "to start from; use method='static' or 'set' to train that topology, or drop initial_topology"
            )
        return
    if c.epsilon is not None:
        eps = _real("epsilon", c.epsilon, "use a positive Erdős–Rényi ε such as 20")
        if eps <= 0:
            raise ValueError(f"epsilon must be positive, got {c.epsilon}; use e.g. 20 (edges = ε (n_in + n_out))")
    if c.density is not None:
        d = _real("density", c.density, "use a fraction in (0, 1) such as 0.05")
        if not 0 < d < 1:
            hint = "use method='dense' for a dense network" if d >= 1 else "use a fraction in (0, 1) such as 0.05"
            raise ValueError(f"density={c.density} is not a sparse density for method={c.method!r}; {hint}")
    if c.layer_edges is not None:
        for k, e in enumerate(c.layer_edges):
            e = _integer(f"layer_edges[{k}]", e, 0, "give whole edge counts")
            if e == 0:
                raise ValueError(
                    f"layer_edges[{k}] is 0: a layer without edges disconnects the network; give every layer "
                    "at least one edge"
                )


def check_config_for_widths(c: Any, widths: Sequence[int]) -> None:
    """Checks that need the layer widths ``[n_features, *hidden, n_classes]``.

    Raises ``ValueError`` when a sparse config would give a layer no edge, or
    would make every layer dense (then ``method='dense'`` is what is meant),
    or when ``layer_edges`` does not fit the layers.
    """
    if c.method == "dense" or c.initial_topology is not None:
        return
    n_layers = len(widths) - 1
    shapes = [(widths[k + 1], widths[k]) for k in range(n_layers)]
    if c.layer_edges is not None:
        if len(c.layer_edges) != n_layers:
            raise ValueError(
                f"layer_edges lists {len(c.layer_edges)} counts but the network {list(widths)} has {n_layers} "
                "layers (count the output layer too)"
            )
        for k, (e, (n_out, n_in)) in enumerate(zip(c.layer_edges, shapes)):
            if e > n_out * n_in:
                raise ValueError(f"layer_edges[{k}]={e} exceeds the {n_out * n_in} possible edges of layer {k} ({n_out}x{n_in})")
        return
    sparse_layers = shapes if c.sparse_output else shapes[:-1]
    if not sparse_layers:
        return
    counts = []
    for k, (n_out, n_in) in enumerate(sparse_layers):
        if c.epsilon is not None:
            edges = min(round(c.epsilon * (n_in + n_out)), n_in * n_out)
            what = f"epsilon={c.epsilon:g}"
        else:
            edges = round(c.density * n_in * n_out)
            what = f"density={c.density:g}"
        if edges < 1:
            raise ValueError(f"{what} gives layer {k} ({n_out}x{n_in}) no edge at all; use a larger value")
        counts.append((edges, n_out * n_in))
    if all(e >= total for e, total in counts):
        largest = min(total / (n_in + n_out) for total, (n_out, n_in) in zip((t for _, t in counts), sparse_layers))
        raise ValueError(
            f"{what} makes every sparse layer of {list(widths)} dense; use method='dense' for a dense network, "
            f"or a smaller epsilon (below {largest:.4g} keeps every layer sparse) or a density below 1"
        )
