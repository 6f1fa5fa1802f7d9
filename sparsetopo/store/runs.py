"""The run store: one folder per configuration, found again instead of recomputed.

A run's folder is ``<runs root>/<run_id(config)>`` (a readable slug plus a
short hash). :func:`train` returns a finished run at once, resumes an
interrupted one from its last checkpoint, and otherwise trains it.
:func:`sweep` runs many configurations in parallel processes and returns a
tidy table, one row per run and epoch.

The runs root is the ``root`` argument, else the environment variable
``SPARSETOPO_RUNS``, else ``./runs``.

Integrity
---------
- A run's id covers its whole input: the config, the content of an initial
  topology, and a fingerprint of the dataset's data
  (:func:`sparsetopo.data.dataset_fingerprint`). Masks or weights handed to
  :func:`train` directly are refused (they would not be part of the id);
  save the masks with :func:`sparsetopo.topology.masks.save_topology` and pass the
  path as ``initial_topology``.
- A run is complete when its ``result.json`` lists every file it wrote
  (size, sha256) and the files match (:mod:`sparsetopo.store.integrity`). A
  damaged run is reported with the damaged file and trained again; it is
  never returned.
- A config that fails validation (its own values, or against the dataset's
  widths) creates no folder.
- One process trains a run at a time: the run folder's lock
  (:mod:`sparsetopo.store.locking`) makes a second process wait, then return the
  finished run.
- A run store that cannot be written (permissions, a full disk) raises
  :class:`~sparsetopo.errors.StoreWriteError` naming the path and the cause;
  the last checkpoint stays, so a retry resumes.
"""

from __future__ import annotations

import errno
import os
import shutil
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import pandas as pd

from .. import atomic
from ..errors import DamagedRunError, StoreWriteError
from ..integrity import check_run, verify_run
from ..topology.masks import load_topology, load_topology_fitting, load_topology_sparse
from .config import RunConfig, run_id
from .locking import run_lock

if TYPE_CHECKING:  # annotations only: the store does not load torch or the model at import
    import torch

    from ..model import SparseMLP

__all__ = ["runs_root", "run_directory", "train", "train_into", "load_run", "is_complete", "sweep", "runs_frame", "Run",
           "check_config_for_data"]


def runs_root(root: str | os.PathLike | None = None) -> Path:
    """Folder holding all runs: ``root``, else ``$SPARSETOPO_RUNS``, else ``./runs``."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get("SPARSETOPO_RUNS", "runs"))


def run_directory(config: RunConfig, root: str | os.PathLike | None = None) -> Path:
    """Folder of ``config``'s run: ``<runs root>/<run_id(config)>`` (it may not exist yet)."""
    return runs_root(root) / run_id(config)


def is_complete(run_dir: str | os.PathLike) -> bool:
    """True when the folder holds a finished run whose files match its ``result.json``.

    A damaged run (a file missing, truncated or altered) is not complete.
    """
    return check_run(run_dir).complete


@dataclass(frozen=True)
class Run:
    """A finished run read back from its folder.

    Attributes
    ----------
    config : RunConfig
        The configuration the run trained.
    directory : Path
        Its folder in the run store (named by :func:`~sparsetopo.store.config.run_id`).
    summary : dict
        The content of its ``result.json``: accuracies, widths, edges per layer,
        timing, and the verified list of files.
    """

    config: RunConfig
    directory: Path
    summary: dict[str, Any]

    def __repr__(self) -> str:
        s = self.summary
        edges = "+".join(str(e) for e in s.get("edges", []))
        return (f"Run({self.directory.name!r}, final_test_acc={s.get('final_test_acc', float('nan')):.4f}, "
                f"epochs={s.get('epochs')}, edges {edges})")

    @cached_property
    def records(self) -> list[dict[str, Any]]:
        """Per-epoch records (``metrics.json``): one dict per epoch, with accuracies, losses, edges, lr, time."""
        return atomic.read_json(self.directory / "metrics.json")

    @property
    def final_test_acc(self) -> float:
        """Test accuracy after the last epoch."""
        return float(self.summary["final_test_acc"])

    def metrics(self) -> pd.DataFrame:
        """Per-epoch metrics, one row per epoch (per-layer lists kept as lists)."""
        return pd.DataFrame(self.records)

    def snapshot_epochs(self) -> list[int]:
        """Epochs with a saved topology snapshot, ascending (0 is the initial topology)."""
        return sorted(int(p.stem.split("_")[1]) for p in (self.directory / "topology").glob("epoch_*.npz"))

    def topology(self, epoch: int | None = None, *, sparse: bool | None = None) -> list:
        """Topology snapshot at ``epoch`` (default: the last).

        ``sparse=False`` gives bool masks ``(n_out, n_in)``, ``sparse=True`` scipy CSR layers (memory linear in
        the edges, :func:`~sparsetopo.topology.masks.load_topology_sparse`); the default, ``None``, gives masks
        when every layer has at most :data:`~sparsetopo.topology.masks.DENSE_MASK_MAX_POSITIONS` positions (every
        run of the study) and CSR layers otherwise, which :func:`sparsetopo.nnstd.nnstd` and the metrics take as
        they are.
        """
        epochs = self.snapshot_epochs()
        if epoch is None:
            epoch = epochs[-1]
        if epoch not in epochs:
            raise KeyError(f"run {self.directory.name} has no snapshot at epoch {epoch}; snapshots: {epochs}")
        path = self.directory / "topology" / f"epoch_{epoch:03d}.npz"
        read = {False: load_topology, True: load_topology_sparse, None: load_topology_fitting}[sparse]
        return read(path)[0]

    def topology_path(self, epoch: int | None = None) -> Path:
        """Path of the topology file of ``epoch`` (default: the last snapshot)."""
        epochs = self.snapshot_epochs()
        epoch = epochs[-1] if epoch is None else epoch
        return self.directory / "topology" / f"epoch_{epoch:03d}.npz"

    def state_dict(self, which: str = "final") -> dict[str, torch.Tensor]:
        """Saved weights: ``'final'``, ``'init'`` or ``'epoch_EEE'`` (loaded with ``weights_only=True``)."""
        from ..training.checkpoint import safe_torch_load

        path = self.directory / "weights" / f"{which}.pt"
        if not path.exists():
            saved = sorted(p.stem for p in (self.directory / "weights").glob("*.pt"))
            raise FileNotFoundError(f"{path}: run {self.directory.name} saved no weights {which!r}; saved: {saved}")
        return safe_torch_load(path, what="state_dict")

    def model(self, which: str = "final") -> SparseMLP:
        """The trained model (a :class:`~sparsetopo.model.SparseMLP`)."""
        from ..model import model_from_state_dict

        return model_from_state_dict(self.summary["widths"], self.state_dict(which), activation=self.config.activation)


def load_run(run_dir: str | os.PathLike) -> Run:
    """Read a complete run from its folder, after verifying its files.

    Raises
    ------
    FileNotFoundError
        The run has not finished (no ``result.json``).
    DamagedRunError
        A file of the run is missing, truncated or altered, or ``result.json``
        / ``config.json`` is not what sparsetopo writes; the message names the
        file. Train the config again (``store.train``) to repair it.
    """
    run_dir = Path(run_dir)
    summary = verify_run(run_dir)
    config_path = run_dir / "config.json"
    try:
        config = RunConfig.from_dict(atomic.read_json(config_path))
    except (ValueError, TypeError) as err:
        raise DamagedRunError(config_path, f"not a valid run config ({err})") from None
    return Run(config, run_dir, summary)


_NOT_IN_ID = ("masks", "initial_state")


def check_config_for_data(config: RunConfig) -> list[int]:
    """Validate ``config`` against its dataset; return the layer widths.

    Reads only light facts of the data (:func:`sparsetopo.data.dataset_info`).
    Raises ``ValueError`` (edges per layer that make no sense for these
    widths, an initial topology of other shapes) or ``FileNotFoundError``.
    """
    from ..data import dataset_info
    from ..topology.masks import widths_of
    from .validation import check_config_for_widths

    info = dataset_info(config.dataset, validation_fraction=config.validation_fraction)
    widths = info.widths(config.hidden)
    if config.train_samples is not None and config.train_samples > info.n_train:
        raise ValueError(f"train_samples={config.train_samples} but the training split of {config.dataset} has "
                         f"{info.n_train} samples; use at most {info.n_train} (or None for all)")
    check_config_for_widths(config, widths)
    if config.initial_topology is not None and config.method != "dense":
        masks, _ = load_topology_sparse(config.initial_topology)
        if widths_of(masks) != widths or len(masks) != len(widths) - 1:
            raise ValueError(
                f"initial_topology {config.initial_topology} has widths {widths_of(masks)} but the model is "
                f"{widths} ({config.dataset} with hidden={list(config.hidden)}); save a topology of those widths"
            )
    return widths


def _store_write_error(err: OSError, where: Path) -> StoreWriteError:
    path = err.filename or where
    cause = err.strerror or str(err)
    hint = {
        errno.ENOSPC: "free some space or point SPARSETOPO_RUNS / --runs-root elsewhere",
        errno.EDQUOT: "free some space or point SPARSETOPO_RUNS / --runs-root elsewhere",
        errno.EACCES: "choose a writable runs root (SPARSETOPO_RUNS or --runs-root)",
        errno.EROFS: "choose a writable runs root (SPARSETOPO_RUNS or --runs-root)",
        errno.EPERM: "choose a writable runs root (SPARSETOPO_RUNS or --runs-root)",
    }.get(err.errno, "check the runs root")
    return StoreWriteError(err.errno or 0, f"cannot write the run store at {path}: {cause}; {hint} "
                           "(the epochs already checkpointed are kept)")


def train(
    config: RunConfig,
    *,
    root: str | os.PathLike | None = None,
    progress: bool | None = None,
    lock_timeout: float | None = None,
    **train_kwargs: Any,
) -> Run:
    """Train ``config`` (or return it at once if its run is complete).

    An interrupted run resumes from its last checkpoint; a damaged one is
    reported (a warning naming the file) and trained again. While one process
    trains a run, another asking for it waits (up to ``lock_timeout``
    seconds, default forever) and then returns the finished run. Extra
    keyword arguments go to :func:`sparsetopo.training.loop.train_run`, except
    ``masks`` and ``initial_state``, which are refused: they are not part of
    the run id, so the run could later be returned for a config that did not
    ask for them.

    Raises
    ------
    ValueError
        A config that does not fit its dataset; no folder is created.
    StoreWriteError
        The runs root cannot be written (the message names path and cause).
    NonFiniteLossError
        Training diverged; the run is left incomplete.
    """
    given = [k for k in _NOT_IN_ID if k in train_kwargs]
    if given:
        raise TypeError(
            f"store.train does not accept {', '.join(given)}: they would not enter the run id, so the run would "
            "later be returned for a config that did not ask for them. Save masks with "
            "sparsetopo.topology.masks.save_topology(path, masks) and pass RunConfig(initial_topology=path), or call "
            "store.train_into(folder, config, masks=..., initial_state=...) with a folder named by all of its inputs"
        )
    return train_into(run_directory(config, root), config, progress=progress, lock_timeout=lock_timeout, **train_kwargs)


def train_into(
    run_dir: str | os.PathLike,
    config: RunConfig,
    *,
    progress: bool | None = None,
    lock_timeout: float | None = None,
    **train_kwargs: Any,
) -> Run:
    """Train ``config`` into the folder ``run_dir`` (or return the run there if it is complete).

    The one training entry point of the store: :func:`train` calls it with the
    folder its run id names; a caller whose runs have more inputs than a
    config (an IMP round's pruned mask and rewound weights) passes a folder
    whose path it derived from all of them (the search's id and the round),
    and the inputs as ``masks`` / ``initial_state`` keyword arguments of
    :func:`sparsetopo.training.loop.train_run`. Locking, verification,
    resumption and the error contract are those of :func:`train`.
    """
    from ..training.loop import train_run

    run_dir = Path(run_dir)
    if is_complete(run_dir):
        return load_run(run_dir)
    check_config_for_data(config)
    created = not run_dir.exists()
    try:
        with run_lock(run_dir, timeout=lock_timeout, announce=True):  # a wait is always explained
            # another process may have finished it while this one waited; a damaged run
            # is reported and cleared by train_run
            if not check_run(run_dir).complete:
                _write_config(run_dir, config)
                train_run(config, run_dir, progress=progress, **train_kwargs)
    except OSError as err:
        if isinstance(err, (FileNotFoundError, StoreWriteError)) or err.errno not in _WRITE_ERRNOS:
            raise
        raise _store_write_error(err, run_dir) from None
    except (ValueError, TypeError):
        # a config rejected before its first epoch leaves no folder behind
        if created and not (run_dir / "checkpoint.pt").exists() and not (run_dir / "result.json").exists():
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return load_run(run_dir)


_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS, errno.EPERM, errno.ENOTDIR}


def _write_config(run_dir: Path, config: RunConfig) -> None:
    config_path = run_dir / "config.json"
    if config_path.exists():
        try:
            stored = RunConfig.from_dict(atomic.read_json(config_path))
        except (ValueError, TypeError) as err:
            warnings.warn(f"{config_path} is damaged ({err}); writing it again", UserWarning, stacklevel=3)
        else:
            # the folder name already pins an initial topology by content; its path may differ
            if stored.replace(initial_topology=None) != config.replace(initial_topology=None):
                asked, held = config.to_dict(), stored.to_dict()
                differ = [f"{k}={held.get(k)!r} there, {asked[k]!r} asked" for k in asked
                          if k != "initial_topology" and held.get(k) != asked[k]][:3]
                raise DamagedRunError(
                    config_path,
                    f"holds another config than the one this folder is named for ({'; '.join(differ) or 'differs'}); "
                    f"the folder was changed by hand or copied: move {run_dir} away and train again",
                )
            return
    atomic.write_json(config_path, config.to_dict())


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
    progress: bool | None = None,
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
    from ..parallel import parallel_map

    configs = list(configs)
    # the root is resolved here: worker processes may outlive a change of SPARSETOPO_RUNS
    root_str = str(runs_root(root))
    todo = [c for c in configs if not is_complete(run_directory(c, root_str))]
    parallel_map(_train_quietly, [(c, root_str) for c in todo], n_jobs=n_jobs, desc="runs",
                 progress=progress, threads_per_job=threads_per_job)
    return runs_frame(load_run(run_directory(c, root)) for c in configs)
