"""What makes a run folder complete: a file list that checks out, finite numbers.

A finished run's ``result.json`` records every file the run wrote (path
relative to the run folder, size in bytes and sha256) under ``"files"``.
:func:`check_run` recomputes them (digests are cached per file version, see
:mod:`sparsetopo.fingerprint`), so a truncated ``metrics.json``, a deleted
snapshot or a corrupt weights file marks the run *damaged*, with the file
named, instead of complete. Damaged runs are never served: the store and the
training loop clear them (:func:`discard_run_files`) and train them again.

:func:`check_finite_record` stops a diverging run: a NaN or infinite loss
raises :class:`~sparsetopo.errors.NonFiniteLossError` naming the epoch,
before that epoch is written anywhere.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DamagedRunError, NonFiniteLossError
from ..fingerprint import file_digest

__all__ = [
    "RunState",
    "check_run",
    "verify_run",
    "file_manifest",
    "discard_run_files",
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

    Leaves out ``result.json`` itself, ``checkpoint.pt`` (deleted once the
    run completes), the lock file and temporary files.
    """
    run_dir = Path(run_dir)
    files = {}
    for path in sorted(run_dir.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        rel = path.relative_to(run_dir).as_posix()
        if rel in (RESULT, CHECKPOINT):
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


def discard_run_files(run_dir: str | os.PathLike) -> None:
    """Delete everything a run wrote except its ``config.json`` (and lock), to train it again."""
    run_dir = Path(run_dir)
    # result.json first: an interruption part-way never leaves a folder that looks complete
    (run_dir / RESULT).unlink(missing_ok=True)
    for path in run_dir.iterdir():
        if path.name in _KEEP:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def remove_debris(run_dir: str | os.PathLike) -> list[Path]:
    """Remove temporary files left by interrupted atomic writes (``.<name>.<random>.tmp*``)."""
    removed = []
    for path in Path(run_dir).rglob(".*.tmp*"):
        if path.is_file():
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
