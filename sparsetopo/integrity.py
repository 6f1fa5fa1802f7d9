"""What makes a run folder complete: a file list that checks out, finite numbers.

A finished run's ``result.json`` records every file the run wrote (path
relative to the run folder, size in bytes and sha256) under ``"files"``.
:func:`check_run` recomputes them (digests are cached per file version, see
:mod:`sparsetopo.fingerprint`), so a truncated ``metrics.json``, a deleted
snapshot or a corrupt weights file marks the run *damaged*, with the file
named, instead of complete. Damaged runs are never served: the store and the
training loop clear them (:func:`discard_run_files`) and train them again.

What a run writes is a fixed set of names (:func:`written_by_run`):
``config.json``, ``metrics.json``, ``result.json``, ``checkpoint.pt``,
``topology/epoch_EEE.npz`` and ``weights/{init,final,epoch_EEE}.pt``. Only
those are recorded in the file list and only those are ever deleted; any other
file in a run folder (notes, plots) belongs to the user: clearing a damaged
run moves it aside into ``orphaned-<time>/`` instead.

:func:`check_finite_record` stops a diverging run: a NaN or infinite loss
raises :class:`~sparsetopo.errors.NonFiniteLossError` naming the epoch,
before that epoch is written anywhere.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import DamagedRunError, NonFiniteLossError
from .fingerprint import file_digest

__all__ = [
    "RunState",
    "check_run",
    "verify_run",
    "file_manifest",
    "discard_run_files",
    "written_by_run",
    "set_aside",
    "remove_debris",
    "check_finite_record",
    "RESULT_KEYS",
]

RESULT = "result.json"
CONFIG = "config.json"
CHECKPOINT = "checkpoint.pt"  # deleted once the run completes
LOCK = ".lock"
# result.json entries every reader relies on
RESULT_KEYS = ("run_id", "epochs", "final_test_acc", "final_test_loss", "best_test_acc", "widths", "edges",
               "n_parameters", "files")
"""The ``result.json`` entries every reader relies on; a result without one of them is damaged."""
_KEEP = {CONFIG, LOCK}
# the names the trainer writes (relative POSIX paths); nothing else in a run folder is the run's
_WRITTEN = re.compile(r"^(config\.json|metrics\.json|result\.json|checkpoint\.pt"
                      r"|topology/epoch_\d{3,}\.npz|weights/(init|final|epoch_\d{3,})\.pt)$")
_SUBFOLDERS = ("topology", "weights")
ORPHANED = "orphaned-"


def written_by_run(rel: str) -> bool:
    """True when ``rel`` (a path relative to a run folder, ``/``-separated) is a name the trainer writes.

    Temporary files of its atomic writes (``.<name>.<random>.tmp*``) count too.
    """
    folder, _, name = rel.rpartition("/")
    if name.startswith(".") and ".tmp" in name and folder in ("", *_SUBFOLDERS):
        return True
    return bool(_WRITTEN.match(rel))


@dataclass(frozen=True)
class RunState:
    """``complete``: verified; ``problem``: why a folder with a result.json is not (else None)."""

    complete: bool
    problem: DamagedRunError | None = None

    @property
    def damaged(self) -> bool:
        return self.problem is not None


def file_manifest(run_dir: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """``{relative path: {"bytes": size, "sha256": digest}}`` of a run's files.

    Lists only what the run wrote (:func:`written_by_run`): leaves out
    ``result.json`` itself, ``checkpoint.pt`` (deleted once the run
    completes), the lock file, temporary files, and files a user put in the
    folder, so editing those never makes the run look damaged.
    """
    run_dir = Path(run_dir)
    files = {}
    for path in sorted(run_dir.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        rel = path.relative_to(run_dir).as_posix()
        if rel in (RESULT, CHECKPOINT) or not written_by_run(rel):
            continue
        files[rel] = {"bytes": path.stat().st_size, "sha256": file_digest(path)}
    return files


def verify_run(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The run's summary (``result.json``) after checking every recorded file.

    Raises
    ------
    FileNotFoundError
        No ``result.json``: the run never finished.
    DamagedRunError
        ``result.json`` is not valid JSON, is not a sparsetopo result, or a
        recorded file is missing or differs in size or checksum; the error
        names the file.
    """
    run_dir = Path(run_dir)
    result_path = run_dir / RESULT
    if not result_path.exists():
        raise FileNotFoundError(f"{run_dir} is not a complete run (no {RESULT}); train its config to finish it")
    summary = _read_json_or_damaged(result_path)
    if not isinstance(summary, dict) or any(k not in summary for k in RESULT_KEYS) or not isinstance(summary["files"], dict):
        missing = [k for k in RESULT_KEYS if not isinstance(summary, dict) or k not in summary]
        raise DamagedRunError(
            result_path,
            f"not a sparsetopo run result (missing {', '.join(missing) or 'a file list'}); it was written by "
            "another program or an older version, so the run cannot be verified and is trained again",
        )
    for key in ("final_test_acc", "final_test_loss", "best_test_acc"):
        value = summary[key]
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise DamagedRunError(result_path, f"{key} is {value!r}, not a finite number")
    if CONFIG not in summary["files"]:
        raise DamagedRunError(result_path, f"the file list does not include {CONFIG}")
    for rel, expected in summary["files"].items():
        path = run_dir / rel
        if not isinstance(expected, dict) or "bytes" not in expected or "sha256" not in expected:
            raise DamagedRunError(result_path, f"malformed file entry for {rel}")
        if not path.is_file():
            raise DamagedRunError(path, "missing (result.json lists it as written by the run)")
        size = path.stat().st_size
        if size != expected["bytes"]:
            raise DamagedRunError(path, f"has {size} bytes but the run wrote {expected['bytes']} (truncated or replaced)")
        if file_digest(path) != expected["sha256"]:
            raise DamagedRunError(path, "its sha256 differs from the one the run recorded (corrupted or edited)")
    return summary


def check_run(run_dir: str | os.PathLike) -> RunState:
    """Whether a run folder holds a verified complete run, or why not."""
    try:
        verify_run(run_dir)
    except FileNotFoundError:
        return RunState(False)
    except DamagedRunError as err:
        return RunState(False, err)
    return RunState(True)


def discard_run_files(run_dir: str | os.PathLike) -> list[Path]:
    """Clear a run folder to train it again: delete what the run wrote, move everything else aside.

    Deleted: the names of :func:`written_by_run`, except ``config.json`` (and
    the lock). Every other file or folder (a user's notes, plots, a copied
    checkpoint) is moved into ``<run_dir>/orphaned-<time>/`` with its relative
    path; earlier ``orphaned-*`` folders stay where they are.

    Returns
    -------
    list of Path
        Where the moved files now are (empty when nothing was moved).
    """
    run_dir = Path(run_dir)
    # result.json first: an interruption part-way never leaves a folder that looks complete
    (run_dir / RESULT).unlink(missing_ok=True)
    foreign: list[Path] = []
    for path in sorted(run_dir.iterdir()):
        rel = path.name
        if rel in _KEEP or rel.startswith(ORPHANED):
            continue
        if rel in _SUBFOLDERS and path.is_dir() and not path.is_symlink():
            for inner in sorted(path.iterdir()):
                inner_rel = f"{rel}/{inner.name}"
                if written_by_run(inner_rel) and (inner.is_file() or inner.is_symlink()):
                    inner.unlink(missing_ok=True)
                else:
                    foreign.append(inner)
        elif written_by_run(rel) and (path.is_file() or path.is_symlink()):
            path.unlink(missing_ok=True)
        else:
            foreign.append(path)
    moved = set_aside(run_dir, foreign)
    for folder in _SUBFOLDERS:
        try:
            (run_dir / folder).rmdir()  # only when empty: the trainer creates it again
        except OSError:
            pass
    return moved


def set_aside(run_dir: str | os.PathLike, paths: list[Path]) -> list[Path]:
    """Move ``paths`` (inside ``run_dir``) into ``<run_dir>/orphaned-<time>/``, keeping their relative paths.

    Returns the new paths. Used for files a run did not write, which it must
    never delete.
    """
    run_dir = Path(run_dir)
    if not paths:
        return []
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = run_dir / f"{ORPHANED}{stamp}"
    n = 1
    while target.exists():
        n += 1
        target = run_dir / f"{ORPHANED}{stamp}-{n}"
    moved = []
    for path in paths:
        destination = target / path.relative_to(run_dir)
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, destination)
        moved.append(destination)
    return moved


def remove_debris(run_dir: str | os.PathLike) -> list[Path]:
    """Remove temporary files left by the run's interrupted atomic writes (``.<name>.<random>.tmp*``).

    Looks only where the run writes (the folder, ``topology/``, ``weights/``).
    """
    run_dir = Path(run_dir)
    removed = []
    for folder in (run_dir, *(run_dir / f for f in _SUBFOLDERS)):
        for path in folder.glob(".*.tmp*"):
            if path.is_file() and written_by_run(path.relative_to(run_dir).as_posix()):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def check_finite_record(record: dict[str, Any], epoch: int, lr: float) -> None:
    """Raise :class:`NonFiniteLossError` if a loss or accuracy of ``record`` is NaN or infinite."""
    for key in ("train_loss", "test_loss", "val_loss", "train_acc", "test_acc", "val_acc"):
        value = record.get(key)
        if value is not None and not math.isfinite(value):
            raise NonFiniteLossError(
                f"training diverged: {key} became {value} at epoch {epoch} (lr={lr:g}); the run is not "
                f"marked complete. Use a smaller learning rate (e.g. lr={lr / 10:g}) or check the inputs "
                "for extreme values",
                epoch,
            )


def _read_json_or_damaged(path: Path) -> Any:
    try:
        with open(path) as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DamagedRunError(path, f"not valid JSON ({err.__class__.__name__}: {err}); the file is truncated or corrupt") from None
