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

__all__ = ["RunConfig", "METHODS", "LR_SCHEDULES", "run_id", "config_hash"]

METHODS = ("dense", "static", "set")
LR_SCHEDULES = ("constant", "cosine", "step")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run."""

    dataset: str = field(default="digits", metadata={"help": "dataset name (see sparsetopo.data.available_datasets)"})
    hidden: tuple[int, ...] = field(default=(64, 64), metadata={"help": "hidden layer widths"})
    method: str = field(default="set", metadata={"help": "dense | static (fixed random mask) | set (SET rewiring)"})
    epsilon: float | None = field(default=20.0, metadata={"help": "Erdős–Rényi ε: edges = round(ε (n_in + n_out)) per sparse layer"})
    density: float | None = field(default=None, metadata={"help": "per-layer density instead of ε"})
    layer_edges: tuple[int, ...] | None = field(default=None, metadata={"help": "exact edges per layer instead of ε/density"})
    sparse_output: bool = field(default=False, metadata={"help": "make the output layer sparse too (dense by default)"})
    zeta: float = field(default=0.3, metadata={"help": "SET: fraction of positive and of negative weights rewired per epoch"})
    regrow_init: str = field(default="zero", metadata={"help": "SET: initial value of regrown weights, zero | random"})
    activation: str = field(default="relu", metadata={"help": "hidden activation"})
    weight_init: str = field(default="sparse", metadata={"help": "sparse: PyTorch's uniform init rescaled to each neuron's real fan-in | dense: PyTorch's init, masked"})
    lr: float = field(default=0.01, metadata={"help": "SGD learning rate"})
    momentum: float = field(default=0.9, metadata={"help": "SGD momentum"})
    weight_decay: float = field(default=2e-4, metadata={"help": "L2 weight decay"})
    lr_schedule: str = field(default="constant", metadata={"help": "constant | cosine | step (x0.1 at 50% and 75%)"})
    batch_size: int = field(default=128, metadata={"help": "minibatch size"})
    epochs: int = field(default=10, metadata={"help": "training epochs"})
    seed: int = field(default=0, metadata={"help": "seed of weights, batch order and SET regrowth"})
    topology_seed: int | None = field(default=None, metadata={"help": "seed of the initial topology (default: seed)"})
    data_seed: int = field(default=0, metadata={"help": "seed of the train/test/validation split"})
    validation_fraction: float = field(default=0.0, metadata={"help": "fraction of training data held out for validation"})
    preprocessing: str | None = field(default=None, metadata={"help": "minmax | standardize (default: per dataset)"})
    snapshot_every: int = field(default=1, metadata={"help": "save the topology every k epochs (plus epoch 0 and the last)"})
    snapshot_epochs: tuple[int, ...] | None = field(default=None, metadata={"help": "explicit snapshot epochs (overrides snapshot_every)"})
    initial_topology: str | None = field(default=None, metadata={"help": "path of a saved topology to start from (its content hash enters the run id)"})

    def __post_init__(self) -> None:
        check_config_values(self)
        # normalise sequences so equal configs hash equally
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if self.layer_edges is not None:
            object.__setattr__(self, "layer_edges", tuple(int(e) for e in self.layer_edges))
        if self.snapshot_epochs is not None:
            object.__setattr__(self, "snapshot_epochs", tuple(sorted({int(e) for e in self.snapshot_epochs})))
        if self.method not in METHODS:
            raise ValueError(f"method={self.method!r}; choose one of {METHODS}")
        if self.method == "dense":
            object.__setattr__(self, "epsilon", None)
            object.__setattr__(self, "density", None)
            object.__setattr__(self, "layer_edges", None)
            object.__setattr__(self, "initial_topology", None)
        elif self.initial_topology is None and self.layer_edges is None and (self.epsilon is None) == (self.density is None):
            raise ValueError(
                f"method={self.method!r} needs exactly one of epsilon or density "
                f"(got epsilon={self.epsilon}, density={self.density}); set the other to None"
            )
        if self.method != "set":
            object.__setattr__(self, "zeta", 0.0)
            object.__setattr__(self, "regrow_init", "zero")
        elif not 0 < self.zeta < 1:
            raise ValueError(f"zeta must be in (0, 1) for SET, got {self.zeta}")
        if self.regrow_init not in ("zero", "random"):
            raise ValueError(f"regrow_init={self.regrow_init!r}; choose 'zero' or 'random'")
        if self.weight_init not in ("sparse", "dense"):
            raise ValueError(f"weight_init={self.weight_init!r}; choose 'sparse' or 'dense'")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule={self.lr_schedule!r}; choose one of {LR_SCHEDULES}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if not 0 <= self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in [0, 1), got {self.validation_fraction}")
        if self.snapshot_every < 1:
            raise ValueError(f"snapshot_every must be >= 1, got {self.snapshot_every}")
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"hidden must list positive widths, got {self.hidden}")

    @property
    def effective_topology_seed(self) -> int:
        return self.seed if self.topology_seed is None else self.topology_seed

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
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
        return dataclasses.replace(self, **changes)

    def snapshot_schedule(self) -> list[int]:
        """Epochs whose topology is saved: 0 (initial), every k, and the last."""
        if self.snapshot_epochs is not None:
            epochs = {e for e in self.snapshot_epochs if 0 <= e <= self.epochs}
        else:
            epochs = set(range(0, self.epochs + 1, self.snapshot_every))
        return sorted(epochs | {0, self.epochs})


def _fmt(x: float) -> str:
    return f"{x:g}".replace(".", "p")


@functools.lru_cache(maxsize=256)
def _topology_file_hash(path: str, mtime_ns: int, size: int) -> str:
    """Content hash of a saved topology; run ids ask for it often, so it is read once per file version."""
    from ..topology.masks import load_topology, topology_hash

    masks, _ = load_topology(path)
    return topology_hash(masks)


def config_hash(config: RunConfig, length: int = 8) -> str:
    """Short sha256 of the config and its data; an initial topology counts by its content.

    The dataset enters by :func:`sparsetopo.data.dataset_fingerprint` (a hash of
    its files or arrays), so a run is never found again for data that changed
    under the same name.
    """
    from ..data import dataset_fingerprint

    d = config.to_dict()
    d["data_fingerprint"] = dataset_fingerprint(config.dataset)
    if config.initial_topology is not None:
        path = Path(config.initial_topology)
        if not path.exists():
            raise FileNotFoundError(f"initial_topology {path} does not exist; save one with sparsetopo.topology.masks.save_topology")
        stat = path.stat()
        d["initial_topology"] = "sha256:" + _topology_file_hash(str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    blob = json.dumps(d, sort_keys=True, default=list)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def run_id(config: RunConfig) -> str:
    """Readable slug plus hash, e.g. ``fashion_mnist-set-eps20-h1000x1000x1000-s0-1a2b3c4d``."""
    if config.method == "dense":
        sparsity = ""
    elif config.initial_topology is not None:
        sparsity = "-init"
    elif config.layer_edges is not None:
        sparsity = f"-edges{sum(config.layer_edges)}"
    elif config.epsilon is not None:
        sparsity = f"-eps{_fmt(config.epsilon)}"
    else:
        sparsity = f"-d{_fmt(config.density)}"
    hidden = "x".join(str(h) for h in config.hidden)
    name = config.dataset.lower().replace("/", "_")
    return f"{name}-{config.method}{sparsity}-h{hidden}-s{config.seed}-{config_hash(config)}"
