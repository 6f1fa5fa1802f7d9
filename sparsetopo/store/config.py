"""Run configurations: small frozen dataclasses that define a training run.

A run's identity is its configuration. :func:`run_id` turns a config into a
readable slug plus a short hash (e.g. ``digits-set-eps5-h64x64-s0-3f2a9c1e``),
which names its folder in the run store, so finished work is found and skipped.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .validation import check_config_values

__all__ = [
    "RunConfig", "METHODS", "LR_SCHEDULES", "WEIGHT_INITS", "INIT_DRAWS", "WEIGHT_DECAY_MODES", "BACKENDS", "DEVICES",
    "DEFAULT_EPSILON", "DEFAULT_ZETA", "ENGINE_REVISION", "run_id", "config_hash", "short_hash", "slug_number",
]

METHODS = ("dense", "static", "set")
"""Training methods: ``dense``, ``static`` (fixed random mask), ``set`` (SET rewiring)."""
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
DEFAULT_EPSILON = 20.0
"""Erdős–Rényi ε of a sparse run given no sparsity at all."""
DEFAULT_ZETA = 0.3
"""SET's rewired fraction ζ when unset."""

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
}
# Fields that only a SET run uses, and their value in every other run.
_SET_ONLY = {"zeta": 0.0, "regrow_init": "zero", "rewire_output": False, "regrow_sampler": "choice"}
# Fields that only a sparse run uses, and their value in a dense run.
_SPARSE_ONLY = {"epsilon": None, "density": None, "layer_edges": None, "initial_topology": None, "sparse_output": False}


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run."""

    dataset: str = field(default="digits", metadata={"help": "dataset name (see sparsetopo.data.available_datasets)"})
    hidden: tuple[int, ...] = field(default=(64, 64), metadata={"help": "hidden layer widths"})
    method: str = field(default="set", metadata={"help": "dense | static (fixed random mask) | set (SET rewiring)"})
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

    def __post_init__(self) -> None:
        check_config_values(self)
        # normalise sequences so equal configs hash equally
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if self.layer_edges is not None:
            object.__setattr__(self, "layer_edges", tuple(int(e) for e in self.layer_edges))
        if self.snapshot_epochs is not None:
            object.__setattr__(self, "snapshot_epochs", tuple(sorted({int(e) for e in self.snapshot_epochs})))
        self._resolve_method_fields()

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
        """Every field as a plain dict (what ``config.json`` holds)."""
        return dataclasses.asdict(self)

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


def slug_number(x: float) -> str:
    """A number as it appears in a run's slug: ``0.2 -> "0p2"``, ``20.0 -> "20"``."""
    return f"{x:g}".replace(".", "p")


def short_hash(obj: Any, length: int = 8) -> str:
    """First ``length`` hex digits of the sha256 of ``obj`` as canonical JSON (sorted keys)."""
    blob = json.dumps(obj, sort_keys=True, default=list)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


@functools.lru_cache(maxsize=256)
def _topology_file_hash(path: str, mtime_ns: int, size: int) -> str:
    """Content hash of a saved topology; run ids ask for it often, so it is read once per file version."""
    from ..topology.masks import load_topology, topology_hash

    masks, _ = load_topology(path)
    return topology_hash(masks)


ENGINE_REVISION = 3
"""Revision of the training engine's arithmetic.

Raised whenever a change to the training code changes the bits a run
produces from the same config (a different kernel, a different order of
summation, a layer moved between backends by ``backend="auto"``). It enters
every run id, so a store never hands back a run that the current engine would
not reproduce bit for bit; runs of an earlier revision stay on disk under
their old ids. Revision 2: feature-major CSR products, fused SGD; revision 3:
``backend="auto"`` runs layers up to 30% dense sparse (was 20%).
"""


def config_hash(config: RunConfig, length: int = 8, *, engine_revision: int | None = None) -> str:
    """Short sha256 of the config, its data and :data:`ENGINE_REVISION`; an initial topology counts by its content.

    The dataset enters by :func:`sparsetopo.data.dataset_fingerprint` (a hash of
    its files or arrays), so a run is never found again for data that changed
    under the same name. ``engine_revision`` (default: the current
    :data:`ENGINE_REVISION`) gives the hash an earlier engine gave the same
    config (revision 1 hashed no revision at all); the run store's inventory
    (:mod:`sparsetopo.store.inventory`) uses it to recognise old runs.
    """
    from ..data import dataset_fingerprint

    if engine_revision is None:
        engine_revision = ENGINE_REVISION
    if not isinstance(engine_revision, int) or isinstance(engine_revision, bool) or not 1 <= engine_revision <= ENGINE_REVISION:
        raise ValueError(f"engine_revision must be an int in 1..{ENGINE_REVISION}, got {engine_revision!r}")
    d = config.hashed_dict()
    d["data_fingerprint"] = dataset_fingerprint(config.dataset)
    if engine_revision > 1:
        d["engine_revision"] = engine_revision
    if config.initial_topology is not None:
        path = Path(config.initial_topology)
        if not path.exists():
            raise FileNotFoundError(f"initial_topology {path} does not exist; save one with sparsetopo.topology.masks.save_topology")
        stat = path.stat()
        d["initial_topology"] = "sha256:" + _topology_file_hash(str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    return short_hash(d, length)


def run_id(config: RunConfig, *, engine_revision: int | None = None) -> str:
    """Readable slug plus hash, e.g. ``fashion_mnist-set-eps20-h1000x1000x1000-s0-1a2b3c4d``.

    ``engine_revision`` (default: the current one) gives the id an earlier engine gave the same config
    (see :func:`config_hash`).
    """
    if config.method == "dense":
        sparsity = ""
    elif config.initial_topology is not None:
        sparsity = "-init"
    elif config.layer_edges is not None:
        sparsity = f"-edges{sum(config.layer_edges)}"
    elif config.epsilon is not None:
        sparsity = f"-eps{slug_number(config.epsilon)}"
    else:
        sparsity = f"-d{slug_number(config.density)}"
    hidden = "x".join(str(h) for h in config.hidden)
    name = config.dataset.lower().replace("/", "_")
    return f"{name}-{config.method}{sparsity}-h{hidden}-s{config.seed}-{config_hash(config, engine_revision=engine_revision)}"
