"""The run store: one folder per configuration, found again instead of recomputed.

A run's folder is ``<runs root>/<run_id(config)>`` (a readable slug plus a
short hash). :func:`train` returns a finished run at once, resumes an
interrupted one from its last checkpoint, and otherwise trains it.
:func:`sweep` runs many configurations in parallel processes and returns a
tidy table, one row per run and epoch.

The runs root is the ``root`` argument, else the environment variable
``SPARSETOPO_RUNS``, else ``./runs``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from . import atomic
from .config import RunConfig, run_id
from .topology import load_topology

__all__ = ["runs_root", "run_directory", "train", "load_run", "is_complete", "sweep", "Run"]


def runs_root(root: str | os.PathLike | None = None) -> Path:
    """Folder holding all runs: ``root``, else ``$SPARSETOPO_RUNS``, else ``./runs``."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get("SPARSETOPO_RUNS", "runs"))


def run_directory(config: RunConfig, root: str | os.PathLike | None = None) -> Path:
    return runs_root(root) / run_id(config)


def is_complete(run_dir: str | os.PathLike) -> bool:
    return (Path(run_dir) / "result.json").exists()


@dataclass(frozen=True)
class Run:
    """A finished run read back from its folder."""

    config: RunConfig
    directory: Path
    summary: dict[str, Any]

    @cached_property
    def records(self) -> list[dict[str, Any]]:
        return atomic.read_json(self.directory / "metrics.json")

    @property
    def final_test_acc(self) -> float:
        return float(self.summary["final_test_acc"])

    def metrics(self) -> pd.DataFrame:
        """Per-epoch metrics, one row per epoch (per-layer lists kept as lists)."""
        return pd.DataFrame(self.records)

    def snapshot_epochs(self) -> list[int]:
        return sorted(int(p.stem.split("_")[1]) for p in (self.directory / "topology").glob("epoch_*.npz"))

    def topology(self, epoch: int | None = None) -> list[np.ndarray]:
        """Topology snapshot at ``epoch`` (default: the last)."""
        epochs = self.snapshot_epochs()
        if epoch is None:
            epoch = epochs[-1]
        if epoch not in epochs:
            raise KeyError(f"run {self.directory.name} has no snapshot at epoch {epoch}; snapshots: {epochs}")
        masks, _ = load_topology(self.directory / "topology" / f"epoch_{epoch:03d}.npz")
        return masks

    def topology_path(self, epoch: int | None = None) -> Path:
        epochs = self.snapshot_epochs()
        epoch = epochs[-1] if epoch is None else epoch
        return self.directory / "topology" / f"epoch_{epoch:03d}.npz"

    def state_dict(self, which: str = "final"):
        """Saved weights: ``'final'``, ``'init'`` or ``'epoch_EEE'``."""
        import torch

        return torch.load(self.directory / "weights" / f"{which}.pt", weights_only=True)

    def model(self, which: str = "final"):
        """The trained model (a :class:`~sparsetopo.model.SparseMLP`)."""
        from .model import SparseMLP

        state = self.state_dict(which)
        model = SparseMLP(self.summary["widths"], activation=self.config.activation)
        model.load_state_dict(state)
        return model


def load_run(run_dir: str | os.PathLike) -> Run:
    """Read a complete run from its folder."""
    run_dir = Path(run_dir)
    if not is_complete(run_dir):
        raise FileNotFoundError(f"{run_dir} is not a complete run (no result.json); train its config to finish it")
    config = RunConfig.from_dict(atomic.read_json(run_dir / "config.json"))
    return Run(config, run_dir, atomic.read_json(run_dir / "result.json"))


def train(
    config: RunConfig,
    *,
    root: str | os.PathLike | None = None,
    progress: bool = True,
    **train_kwargs: Any,
) -> Run:
    """Train ``config`` (or return it at once if its run is complete).

    An interrupted run resumes from its last checkpoint. Extra keyword
    arguments go to :func:`sparsetopo.training.train_run`.
    """
    from .training import train_run

    run_dir = run_directory(config, root)
    if not is_complete(run_dir):
        run_dir.mkdir(parents=True, exist_ok=True)
        config_path = run_dir / "config.json"
        if config_path.exists():
            stored = RunConfig.from_dict(atomic.read_json(config_path))
            # the folder name already pins an initial topology by content; its path may differ
            if stored.replace(initial_topology=None) != config.replace(initial_topology=None):
                raise RuntimeError(f"{config_path} holds a different config than the one asked for (hash collision?)")
        else:
            atomic.write_json(config_path, config.to_dict())
        train_run(config, run_dir, progress=progress, **train_kwargs)
    return load_run(run_dir)


def _train_quietly(item: tuple[RunConfig, str]) -> str:
    config, root = item
    return str(train(config, root=root, progress=False).directory)


def runs_frame(runs: Iterable[Run]) -> pd.DataFrame:
    """Tidy table: one row per run and epoch, config fields as columns."""
    frames = []
    for run in runs:
        df = run.metrics()
        cfg = run.config.to_dict()
        for key, value in cfg.items():
            df[key] = [value] * len(df) if isinstance(value, (tuple, list)) else value
        df["run_id"] = run.directory.name
        df["n_parameters"] = run.summary["n_parameters"]
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def sweep(
    configs: Sequence[RunConfig],
    *,
    n_jobs: int = 1,
    root: str | os.PathLike | None = None,
    progress: bool = True,
    threads_per_job: int | None = None,
) -> pd.DataFrame:
    """Train many configs (finished ones are reused) and return a tidy table.

    Parameters
    ----------
    configs : sequence of RunConfig
    n_jobs : int
        Parallel worker processes (joblib); 1 trains in this process.
    threads_per_job : int, optional
        Torch threads per worker (default 1 when ``n_jobs > 1``, to avoid
        oversubscribing the cores).

    Returns
    -------
    pandas.DataFrame
        One row per run and epoch: the per-epoch metrics plus every config field.
    """
    from .parallel import parallel_map

    configs = list(configs)
    # the root is resolved here: worker processes may outlive a change of SPARSETOPO_RUNS
    root_str = str(runs_root(root))
    todo = [c for c in configs if not is_complete(run_directory(c, root_str))]
    parallel_map(_train_quietly, [(c, root_str) for c in todo], n_jobs=n_jobs, desc="runs",
                 progress=progress, threads_per_job=threads_per_job)
    return runs_frame(load_run(run_directory(c, root)) for c in configs)
