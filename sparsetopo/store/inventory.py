"""What a run store holds, and the removal of runs that an earlier engine trained.

:func:`inventory` lists every run folder of a store with its status, test
accuracy, the engine revision that trained it and its size on disk;
:func:`prune_outdated` removes the runs of earlier engine revisions (a dry run
unless ``delete=True``). Such runs are never handed back (their ids hash an
older :data:`~sparsetopo.store.config.ENGINE_REVISION`), so they only take space.

A folder is recognised as a run of this store when it holds a ``config.json``
that reads as a :class:`~sparsetopo.store.config.RunConfig` and its name is the
id :func:`~sparsetopo.store.config.run_id` gives that config under some engine
revision ``1 .. ENGINE_REVISION``: that revision is the run's. A run whose id
matches none (its data or initial topology changed or cannot be found, or it
predates the data fingerprint in run ids) has an unknown revision and is never
removed. Anything else in the store (lottery searches, saved initial
topologies, executed notebooks, caches, foreign files) is listed as *other* and
never touched.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, fields
from pathlib import Path

import pandas as pd

from .. import atomic
from ..errors import RunLockTimeout
from ..integrity import CONFIG, RESULT, check_run
from .config import ENGINE_REVISION, RunConfig, run_id
from .locking import run_lock
from .runs import runs_root

__all__ = ["StoredRun", "StoreInventory", "inventory", "prune_outdated", "format_size"]

#: ``StoredRun.status`` values
COMPLETE, UNFINISHED, DAMAGED = "complete", "unfinished", "damaged"


@dataclass(frozen=True)
class StoredRun:
    """One run folder of a store.

    Attributes
    ----------
    directory : Path
        The run's folder.
    config : RunConfig
        Its configuration (``config.json``).
    status : str
        ``"complete"`` (a ``result.json``), ``"unfinished"`` (none yet: interrupted
        or still training) or ``"damaged"`` (``result.json`` unreadable, or, with
        ``verify=True``, a recorded file missing or altered).
    engine_revision : int or None
        The engine revision whose run id the folder carries; None when no revision's
        id matches (see the module docstring).
    final_test_acc : float or None
        Test accuracy after the last epoch, for a complete run.
    size_bytes : int
        Bytes of all its files.
    """

    directory: Path
    config: RunConfig
    status: str
    engine_revision: int | None
    final_test_acc: float | None
    size_bytes: int

    @property
    def outdated(self) -> bool:
        """True for a run of an earlier engine revision (never reused; :func:`prune_outdated` removes it)."""
        return self.engine_revision is not None and self.engine_revision < ENGINE_REVISION

    def config_changes(self) -> str:
        """The config fields that differ from ``RunConfig``'s defaults and are not in the run id's slug."""
        return _config_changes(self.config)

    def __repr__(self) -> str:
        acc = "-" if self.final_test_acc is None else f"{self.final_test_acc:.4f}"
        return (f"StoredRun({self.directory.name!r}, {self.status}, final_test_acc={acc}, "
                f"engine_revision={self.engine_revision}, {format_size(self.size_bytes)})")


@dataclass(frozen=True)
class StoreInventory:
    """Everything in a run store's folder.

    Attributes
    ----------
    root : Path
        The store's folder.
    runs : tuple of StoredRun
        Its run folders, sorted by name.
    other : tuple of Path
        Entries that are not run folders of this store (never touched).
    """

    root: Path
    runs: tuple[StoredRun, ...]
    other: tuple[Path, ...]

    @property
    def outdated(self) -> tuple[StoredRun, ...]:
        """The runs of earlier engine revisions."""
        return tuple(r for r in self.runs if r.outdated)

    @property
    def size_bytes(self) -> int:
        """Bytes of all run folders."""
        return sum(r.size_bytes for r in self.runs)

    def frame(self) -> pd.DataFrame:
        """One row per run: id, status, accuracy, epochs, engine revision, size and the config's non-default fields."""
        return pd.DataFrame(
            {
                "run_id": [r.directory.name for r in self.runs],
                "status": [r.status for r in self.runs],
                "final_test_acc": [r.final_test_acc for r in self.runs],
                "epochs": [r.config.epochs for r in self.runs],
                "engine_revision": [r.engine_revision for r in self.runs],
                "size_bytes": [r.size_bytes for r in self.runs],
                "config": [r.config_changes() for r in self.runs],
            }
        )

    def __repr__(self) -> str:
        return (f"StoreInventory({str(self.root)!r}, {len(self.runs)} runs, {len(self.outdated)} of earlier engine "
                f"revisions, {len(self.other)} other entries, {format_size(self.size_bytes)})")


def inventory(root: str | os.PathLike | None = None, *, verify: bool = False) -> StoreInventory:
    """List the run store at ``root`` (default: :func:`~sparsetopo.store.runs.runs_root`).

    Parameters
    ----------
    root : path, optional
        The store's folder; a folder that does not exist is an empty store.
    verify : bool
        Check every recorded file of complete runs against ``result.json`` (reads
        them all: slow on a large store). By default a run with a readable
        ``result.json`` counts as complete.

    Returns
    -------
    StoreInventory
        Reading it changes nothing on disk.
    """
    root = runs_root(root)
    runs: list[StoredRun] = []
    other: list[Path] = []
    entries = sorted(root.iterdir()) if root.is_dir() else []
    for path in entries:
        stored = _read_run(path, verify) if path.is_dir() else None
        if stored is None:
            other.append(path)
        else:
            runs.append(stored)
    return StoreInventory(root, tuple(runs), tuple(other))


def prune_outdated(root: str | os.PathLike | None = None, *, delete: bool = False) -> list[StoredRun]:
    """The runs of earlier engine revisions in the store at ``root``; removed only when ``delete=True``.

    Only folders that :func:`inventory` recognises as runs of an earlier
    revision are removed; runs of the current revision, runs of an unknown
    revision and every other entry stay. A run whose lock another process
    holds is skipped (left on disk, not in the returned list).

    Returns
    -------
    list of StoredRun
        The runs that were removed (``delete=True``) or would be (the default, a dry run).
    """
    outdated = list(inventory(root).outdated)
    if not delete:
        return outdated
    removed = []
    for run in outdated:
        try:
            with run_lock(run.directory, timeout=0, announce=False):
                pass
        except RunLockTimeout:
            continue
        # rename first, so a half-deleted folder never looks like a run under its id
        doomed = run.directory.with_name(f".{run.directory.name}.removing-{os.getpid()}")
        run.directory.rename(doomed)
        shutil.rmtree(doomed)
        removed.append(run)
    return removed


def format_size(n_bytes: int) -> str:
    """Bytes in the largest unit that keeps at least 1: ``"812 B"``, ``"3.4 MB"``, ``"1.2 GB"`` (powers of 1000)."""
    value = float(n_bytes)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover - the loop returns at GB


# ---------------------------------------------------------------------------


def _read_run(path: Path, verify: bool) -> StoredRun | None:
    config_path = path / CONFIG
    if not config_path.is_file():
        return None
    try:
        config = RunConfig.from_dict(atomic.read_json(config_path))
    except (ValueError, TypeError, KeyError, OSError):
        return None
    revision = _revision_of(path.name, config)
    if revision is None and not _looks_like_run_id(path.name, config):
        return None
    status, accuracy = UNFINISHED, None
    if (path / RESULT).is_file():
        status = COMPLETE
        try:
            summary = atomic.read_json(path / RESULT)
            accuracy = float(summary["final_test_acc"])
        except (ValueError, TypeError, KeyError, OSError):
            status = DAMAGED
        if status == COMPLETE and verify and not check_run(path).complete:
            status = DAMAGED
    return StoredRun(path, config, status, revision, accuracy, _folder_size(path))


def _revision_of(name: str, config: RunConfig) -> int | None:
    for revision in range(ENGINE_REVISION, 0, -1):
        try:
            if run_id(config, engine_revision=revision) == name:
                return revision
        except (ValueError, KeyError, OSError):  # data or initial topology missing: the id cannot be recomputed
            return None
    return None


def _looks_like_run_id(name: str, config: RunConfig) -> bool:
    """Slug of ``run_id(config)`` plus an 8-hex-digit hash: a run of this store whose revision is unknown."""
    try:
        slug = run_id(config).rsplit("-", 1)[0]
    except (ValueError, KeyError, OSError):
        hidden = "x".join(str(h) for h in config.hidden)
        slug = f"{config.dataset.lower().replace('/', '_')}-{config.method}"
        return name.startswith(slug) and f"-h{hidden}-s{config.seed}-" in name
    head, _, digest = name.rpartition("-")
    return head == slug and len(digest) == 8 and all(c in "0123456789abcdef" for c in digest)


def _folder_size(path: Path) -> int:
    total = 0
    for item in path.rglob("*"):
        try:
            if item.is_file():
                total += item.stat().st_size
        except OSError:  # removed while we looked
            continue
    return total


_IN_SLUG = ("dataset", "method", "epsilon", "density", "layer_edges", "initial_topology", "hidden", "seed")


def _config_changes(config: RunConfig) -> str:
    try:  # the same run id slug with every other field at its default (as the method fills it in)
        baseline = RunConfig(**{key: getattr(config, key) for key in _IN_SLUG}).to_dict()
    except (ValueError, TypeError):
        baseline = {f.name: f.default for f in fields(RunConfig)}
    parts = []
    for key, value in config.to_dict().items():
        if key in _IN_SLUG or value == baseline.get(key):
            continue
        if isinstance(value, (list, tuple)):
            value = "x".join(str(v) for v in value)
        parts.append(f"{key}={value}")
    return " ".join(parts)
