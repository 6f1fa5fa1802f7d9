"""What a training run is: the flat :class:`RunConfig` and its view in small frozen groups.

:class:`RunConfig` is the record every caller builds (keyword fields, one flat dataclass, what ``config.json``
holds and what run ids hash: :func:`sparsetopo.store.config.run_id`). :meth:`RunConfig.groups` gives the same
configuration as a :class:`TrainingConfig` of groups, one per concern:

=============== ====================================================================================
``data``        :class:`DataConfig`: dataset, split, preprocessing, training subset
``model``       :class:`ModelConfig`: hidden widths, activation, dropout, initialisation, backend, device
``sparsity``    :class:`SparsityConfig`: the initial topology (ε, density, edge counts or a file), its seed
``updater``     :class:`UpdaterConfig`: the sparse-training method and its options, one options dataclass per
                method (``sparsetopo.training.updaters``), tagged by the method's name
``optimiser``   :class:`OptimiserConfig`: SGD, weight decay, learning-rate schedule, batch size, epochs
``records``     :class:`RecordConfig`: which epochs' topologies are saved
=============== ====================================================================================

and :meth:`TrainingConfig.to_run_config` goes back; the two describe the same run, with the same run id.

A method's options that are not SET's four historical fields (``zeta``, ``regrow_init``, ``regrow_sampler``,
``rewire_output``) travel in one flat field, ``method_options``, filled with the method's defaults when the
config is built, so equal meaning gives an equal run id. It is left out of the hash while unset, so every
earlier run keeps its id.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from .updaters.registry import UPDATERS, option_fields, options_of
from .updaters.set import DEFAULT_ZETA
from .validation import (
    BACKENDS,
    DEVICES,
    INIT_DRAWS,
    LR_SCHEDULES,
    METHODS,
    WEIGHT_DECAY_MODES,
    WEIGHT_INITS,
    check_config_values,
)

__all__ = [
    "RunConfig", "METHODS", "LR_SCHEDULES", "WEIGHT_INITS", "INIT_DRAWS", "WEIGHT_DECAY_MODES", "BACKENDS", "DEVICES",
    "DEFAULT_EPSILON", "DEFAULT_ZETA", "TrainingConfig", "DataConfig", "ModelConfig", "SparsityConfig",
    "UpdaterConfig", "OptimiserConfig", "RecordConfig",
]

DEFAULT_EPSILON = 20.0
"""Erdős–Rényi ε of a sparse run given no sparsity at all."""

# Fields added after runs were stored: omitted from the hashed dict while they
# hold these defaults, so every earlier run keeps its id.
_HASH_NEUTRAL_DEFAULTS: dict[str, Any] = {
    "dropout": 0.0,
    "weight_decay_mode": "coupled",
    "rewire_output": False,
    "backend": "masked",
    "device": "auto",
    "train_samples": None,
    "regrow_sampler": "choice",
    "init_draws": "dense_stream",
    "method_options": None,
}
# Methods whose options are flat fields of RunConfig (or that have none): method_options stays unset.
_FLAT_OPTION_METHODS = ("dense", "static", "set")
# Fields that only a SET run uses, and their value in every other run.
_SET_ONLY = {"zeta": 0.0, "regrow_init": "zero", "rewire_output": False, "regrow_sampler": "choice"}
# Fields that only a sparse run uses, and their value in a dense run.
_SPARSE_ONLY = {"epsilon": None, "density": None, "layer_edges": None, "initial_topology": None, "sparse_output": False}


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run."""

    dataset: str = field(default="digits", metadata={"help": "dataset name (see sparsetopo.data.available_datasets)"})
    hidden: tuple[int, ...] = field(default=(64, 64), metadata={"help": "hidden layer widths"})
    method: str = field(default="set", metadata={"help": "dense | static (fixed random mask) | set (SET rewiring) | rigl (RigL: drop by magnitude, grow by gradient) | snip (SNIP: pruned at initialisation) | gmp (gradual magnitude pruning from dense)"})
    epsilon: float | None = field(default=None, metadata={"help": "Erdős–Rényi ε: edges = round(ε (n_in + n_out)) per sparse layer; a sparse run given none of epsilon, density, layer_edges, initial_topology uses ε = 20"})
    density: float | None = field(default=None, metadata={"help": "per-layer density instead of ε"})
    layer_edges: tuple[int, ...] | None = field(default=None, metadata={"help": "exact edges per layer instead of ε/density"})
    sparse_output: bool = field(default=False, metadata={"help": "make the output layer sparse too (dense by default)"})
    zeta: float | None = field(default=None, metadata={"help": "SET only: fraction of positive and of negative weights rewired per epoch (SET default 0.3)"})
    regrow_init: str | None = field(default=None, metadata={"help": "SET only: initial value of regrown weights, zero | random (the run's initialisation scale); SET default zero"})
    regrow_sampler: str = field(default="choice", metadata={"help": "SET only: how regrown positions are drawn: choice (uniformly among the empty positions) | rejection (uniform (row, column) draws keeping the empty ones, as a reference loop does: runs that share a seed regrow mostly at the same positions)"})
    rewire_output: bool = field(default=False, metadata={"help": "SET only: rewire a sparse output layer too (never rewired by default)"})
    activation: str = field(default="relu", metadata={"help": "hidden activation"})
    dropout: float = field(default=0.0, metadata={"help": "inverted dropout rate on every hidden activation, training only"})
    weight_init: str = field(default="sparse", metadata={"help": "sparse: PyTorch's uniform init rescaled to each neuron's real fan-in | dense: PyTorch's init, masked | he_uniform: U(±sqrt(6/n_in)) with the dense fan-in, zero biases"})
    init_draws: str = field(default="dense_stream", metadata={"help": "dense_stream: the initial weights are the present entries of PyTorch's draw for the dense (n_out, n_in) weight (time n_out*n_in per layer) | edges: one draw per present edge (time and memory linear in edges; for very wide layers), same values on every backend"})
    lr: float = field(default=0.01, metadata={"help": "SGD learning rate"})
    momentum: float = field(default=0.9, metadata={"help": "SGD momentum"})
    weight_decay: float = field(default=2e-4, metadata={"help": "weight decay (see weight_decay_mode)"})
    weight_decay_mode: str = field(default="coupled", metadata={"help": "coupled: L2 inside SGD (scaled by lr, enters momentum) | decoupled: each step w <- w - wd*w on every weight and bias, not scaled by lr"})
    lr_schedule: str = field(default="constant", metadata={"help": "constant | cosine | step (x0.1 at 50% and 75%)"})
    batch_size: int = field(default=128, metadata={"help": "minibatch size"})
    epochs: int = field(default=10, metadata={"help": "training epochs"})
    seed: int = field(default=0, metadata={"help": "seed of weights, batch order and SET regrowth"})
    topology_seed: int | None = field(default=None, metadata={"help": "seed of the initial topology (default: seed)"})
    data_seed: int = field(default=0, metadata={"help": "seed of the train/test/validation split"})
    validation_fraction: float = field(default=0.0, metadata={"help": "fraction of training data held out for validation"})
    train_samples: int | None = field(default=None, metadata={"help": "train on this many samples of the training split, drawn per class in proportion by data_seed (default: all)"})
    preprocessing: str | None = field(default=None, metadata={"help": "minmax | standardize (default: per dataset)"})
    snapshot_every: int = field(default=1, metadata={"help": "save the topology every k epochs (plus epoch 0 and the last)"})
    snapshot_epochs: tuple[int, ...] | None = field(default=None, metadata={"help": "explicit snapshot epochs (overrides snapshot_every)"})
    initial_topology: str | None = field(default=None, metadata={"help": "path of a saved topology to start from (its content hash enters the run id)"})
    backend: str = field(default="masked", metadata={"help": "masked: dense weights times a mask | sparse: sparse layers keep only their non-zero values (CSR) | auto: sparse below the measured density threshold"})
    device: str = field(default="auto", metadata={"help": "auto (CUDA when available) | cpu | cuda"})
    method_options: tuple[tuple[str, Any], ...] | None = field(default=None, metadata={"help": "options of the methods other than SET (whose options are the SET-only fields): option names and values, e.g. {drop_fraction: 0.3} for rigl; filled with the method's defaults (see sparsetopo.training.updaters)"})

    def __post_init__(self) -> None:
        check_config_values(self)
        # normalise sequences so equal configs hash equally
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if self.layer_edges is not None:
            object.__setattr__(self, "layer_edges", tuple(int(e) for e in self.layer_edges))
        if self.snapshot_epochs is not None:
            object.__setattr__(self, "snapshot_epochs", tuple(sorted({int(e) for e in self.snapshot_epochs})))
        self._resolve_method_fields()
        self._resolve_method_options()

    def _resolve_method_options(self) -> None:
        """``method_options`` as the method's complete options (defaults filled in), or None for a method without.

        Methods whose options are flat fields (dense, static, SET) take none; for the others an unknown option
        or a value the method refuses raises ``ValueError`` naming it.
        """
        given = self.method_options
        if isinstance(given, Mapping):
            given = dict(given)
        elif given is not None:
            try:
                given = dict(given)
            except (TypeError, ValueError):
                raise ValueError(f"method_options must map option names to values, got {self.method_options!r}") from None
        if self.method in _FLAT_OPTION_METHODS:
            if given:
                where = "its options are the fields zeta, regrow_init, regrow_sampler, rewire_output" if self.method == "set" \
                    else "it has no options"
                raise ValueError(f"method_options={given!r} was given for method={self.method!r}, but {where}; "
                                 "leave method_options unset")
            object.__setattr__(self, "method_options", None)
            return
        options = options_of(self.method, given)
        if hasattr(options, "resolved"):
            options = options.resolved(self.epochs)
        pairs = tuple((name, getattr(options, name)) for name in option_fields(self.method))
        object.__setattr__(self, "method_options", pairs or None)

    @property
    def options(self) -> Any:
        """The method's options dataclass (``sparsetopo.training.updaters``), None for a dense run.

        SET's are built from the SET-only fields; the other methods' from ``method_options``.
        """
        if self.method == "dense":
            return None
        if self.method == "set":
            return options_of("set", {name: getattr(self, name) for name in option_fields("set")})
        return options_of(self.method, dict(self.method_options or ()))

    def _resolve_method_fields(self) -> None:
        """Fill the fields a method uses; refuse values given to fields it does not use.

        A field that does not apply to the method must be left unset (``None``)
        or at its neutral value (``zeta=0``, ``regrow_init="zero"``,
        ``sparse_output=False``...): anything else raises instead of being
        silently dropped. Unset fields that apply get their defaults: a SET run
        ζ = 0.3 and zero regrowth; a sparse run given no sparsity at all ε = 20.
        """
        if self.method == "dense":
            given = [k for k, off in _SPARSE_ONLY.items() if getattr(self, k) not in (off, None)]
            if given:
                raise ValueError(
                    f"method='dense' has no sparse topology, but {', '.join(f'{k}={getattr(self, k)!r}' for k in given)} "
                    f"was given; drop it or choose method='static' or 'set'"
                )
        else:
            sparsity = [k for k in ("epsilon", "density", "layer_edges") if getattr(self, k) is not None]
            if len(sparsity) > 1:
                raise ValueError(
                    f"method={self.method!r} takes one of epsilon, density or layer_edges, got "
                    f"{', '.join(f'{k}={getattr(self, k)!r}' for k in sparsity)}; set the others to None"
                )
            if not sparsity and self.initial_topology is None:
                object.__setattr__(self, "epsilon", DEFAULT_EPSILON)
        if self.method != "set":
            given = [k for k, off in _SET_ONLY.items() if getattr(self, k) not in (off, None)]
            if given:
                raise ValueError(
                    f"{', '.join(f'{k}={getattr(self, k)!r}' for k in given)} only applies to method='set' "
                    f"(got method={self.method!r}); leave it unset"
                )
            for key, off in _SET_ONLY.items():
                object.__setattr__(self, key, off)
        else:
            if self.zeta is None:
                object.__setattr__(self, "zeta", DEFAULT_ZETA)
            if self.regrow_init is None:
                object.__setattr__(self, "regrow_init", "zero")
            if not 0 < self.zeta < 1:
                raise ValueError(f"zeta must be in (0, 1) for SET, got {self.zeta}")
        if self.method == "dense":
            for key, off in _SPARSE_ONLY.items():
                object.__setattr__(self, key, off)

    @property
    def effective_topology_seed(self) -> int:
        return self.seed if self.topology_seed is None else self.topology_seed

    def to_dict(self) -> dict[str, Any]:
        """Every field as a plain dict (what ``config.json`` holds); ``method_options`` as a dict of option names."""
        d = dataclasses.asdict(self)
        if self.method_options is not None:
            d["method_options"] = dict(self.method_options)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        """The config of a dict of fields (lists where tuples are expected are accepted); unknown fields raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown RunConfig fields {sorted(unknown)}")
        d = dict(d)
        for key in ("hidden", "layer_edges", "snapshot_epochs"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        if isinstance(d.get("method_options"), list):
            d["method_options"] = tuple(tuple(pair) for pair in d["method_options"])
        return cls(**d)

    def replace(self, **changes: Any) -> "RunConfig":
        """A copy with ``changes``; a change of method unsets the fields the new method does not use.

        E.g. ``set_config.replace(method="static")`` drops ζ instead of
        raising, and ``dense.replace(method="set")`` gets ε = 20 and ζ = 0.3
        unless the changes name them. Fields named in ``changes`` are checked
        as given.
        """
        method = changes.get("method", self.method)
        if method != self.method:
            unset = {}
            if method != "set" or self.method != "set":  # from or to SET: ζ and regrowth start unset
                unset.update({k: {"rewire_output": False, "regrow_sampler": "choice"}.get(k) for k in _SET_ONLY})
            if method == "dense":
                unset.update({k: False if k == "sparse_output" else None for k in _SPARSE_ONLY})
            unset["method_options"] = None  # a method's options do not carry over to another
            changes = {**{k: v for k, v in unset.items() if k not in changes}, **changes}
        return dataclasses.replace(self, **changes)

    def hashed_dict(self) -> dict[str, Any]:
        """The dict that :func:`config_hash` hashes: fields added later are left out at their defaults."""
        d = self.to_dict()
        for key, default in _HASH_NEUTRAL_DEFAULTS.items():
            if d.get(key) == default:
                d.pop(key)
        return d

    def snapshot_schedule(self) -> list[int]:
        """Epochs whose topology is saved: 0 (initial), every k, and the last."""
        if self.snapshot_epochs is not None:
            epochs = {e for e in self.snapshot_epochs if 0 <= e <= self.epochs}
        else:
            epochs = set(range(0, self.epochs + 1, self.snapshot_every))
        return sorted(epochs | {0, self.epochs})

    def groups(self) -> "TrainingConfig":
        """This configuration as small frozen groups (:class:`TrainingConfig`); ``groups().to_run_config() == self``."""
        return TrainingConfig.from_run_config(self)


# -- the same configuration, in groups ----------------------------------------------------------------------------
@dataclass(frozen=True)
class DataConfig:
    """What the network learns from: ``dataset``, ``data_seed``, ``validation_fraction``, ``train_samples``,
    ``preprocessing`` (the ``RunConfig`` fields of the same names)."""

    dataset: str = "digits"
    data_seed: int = 0
    validation_fraction: float = 0.0
    train_samples: int | None = None
    preprocessing: str | None = None


@dataclass(frozen=True)
class ModelConfig:
    """The network: ``hidden`` widths, ``activation``, ``dropout``, its initialisation (``weight_init``,
    ``init_draws``), and where it runs (``backend``, ``device``)."""

    hidden: tuple[int, ...] = (64, 64)
    activation: str = "relu"
    dropout: float = 0.0
    weight_init: str = "sparse"
    init_draws: str = "dense_stream"
    backend: str = "masked"
    device: str = "auto"


@dataclass(frozen=True)
class SparsityConfig:
    """The topology a sparse run's layers get: one of ``epsilon``, ``density``, ``layer_edges`` or an
    ``initial_topology`` file; ``sparse_output``; ``topology_seed`` (None: the run's seed). Every method
    reaches these per-layer edge counts (gradual pruning and SNIP from dense)."""

    epsilon: float | None = None
    density: float | None = None
    layer_edges: tuple[int, ...] | None = None
    initial_topology: str | None = None
    sparse_output: bool = False
    topology_seed: int | None = None


@dataclass(frozen=True)
class UpdaterConfig:
    """The sparse-training method (tag ``method``: a name of :data:`~sparsetopo.training.updaters.UPDATERS`,
    or ``"dense"``) and its ``options``, the method's own frozen options dataclass (None for dense)."""

    method: str = "set"
    options: Any = None


@dataclass(frozen=True)
class OptimiserConfig:
    """SGD and its schedule: ``lr``, ``momentum``, ``weight_decay``, ``weight_decay_mode``, ``lr_schedule``,
    ``batch_size``, ``epochs``."""

    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 2e-4
    weight_decay_mode: str = "coupled"
    lr_schedule: str = "constant"
    batch_size: int = 128
    epochs: int = 10


@dataclass(frozen=True)
class RecordConfig:
    """Which epochs' topologies are saved: every ``snapshot_every`` epochs, or ``snapshot_epochs``."""

    snapshot_every: int = 1
    snapshot_epochs: tuple[int, ...] | None = None


_GROUPS = {"data": DataConfig, "model": ModelConfig, "sparsity": SparsityConfig, "optimiser": OptimiserConfig,
           "records": RecordConfig}


@dataclass(frozen=True)
class TrainingConfig:
    """A training run as groups: :class:`DataConfig`, :class:`ModelConfig`, :class:`SparsityConfig` (None
    for a dense run), :class:`UpdaterConfig`, :class:`OptimiserConfig`, :class:`RecordConfig`, and the
    ``seed`` of weights, batch order and the method's own draws.

    Built with :meth:`RunConfig.groups`, or directly; :meth:`to_run_config` gives the flat
    :class:`RunConfig` (checked and completed as every ``RunConfig`` is), whose run id names the run.
    """

    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    sparsity: SparsityConfig | None = SparsityConfig()
    updater: UpdaterConfig = UpdaterConfig()
    optimiser: OptimiserConfig = OptimiserConfig()
    records: RecordConfig = RecordConfig()
    seed: int = 0

    @classmethod
    def from_run_config(cls, config: RunConfig) -> "TrainingConfig":
        """The groups of a flat ``config`` (every field lands in exactly one group)."""
        values = {name: group(**{f.name: getattr(config, f.name) for f in dataclasses.fields(group)})
                  for name, group in _GROUPS.items()}
        if config.method == "dense":
            values["sparsity"] = None
        return cls(**values, updater=UpdaterConfig(config.method, config.options), seed=config.seed)

    def to_run_config(self) -> RunConfig:
        """The flat :class:`RunConfig` of these groups.

        Raises ``ValueError`` when the options do not belong to the method, or when the groups say something
        a ``RunConfig`` refuses (a dense run with a sparsity, say).
        """
        fields: dict[str, Any] = {"seed": self.seed, "method": self.updater.method}
        for name in _GROUPS:
            group = getattr(self, name)
            if group is not None:
                fields.update(dataclasses.asdict(group))
        if self.updater.method == "dense":
            if self.sparsity is not None:
                raise ValueError("a dense run has no sparsity; give sparsity=None or a sparse-training method")
            if self.updater.options is not None:
                raise ValueError(f"a dense run has no method options, got {self.updater.options!r}")
            return RunConfig(**fields)
        options = self.updater.options
        if options is None:
            options = options_of(self.updater.method)
        expected = UPDATERS[self.updater.method].OPTIONS if self.updater.method in UPDATERS else None
        if expected is not None and not isinstance(options, expected):
            raise ValueError(f"method {self.updater.method!r} takes {expected.__name__}, got {type(options).__name__}")
        values = {name: getattr(options, name) for name in option_fields(self.updater.method)}
        if self.updater.method == "set":
            fields.update(values)
        elif values:
            fields["method_options"] = values
        return RunConfig(**fields)
