"""Atomic file writes: write to a temporary file beside the target, then rename.

An interrupted run never leaves a half-written file that looks whole.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

__all__ = ["atomic_path", "write_json", "read_json", "torch_save"]

# mkstemp creates files readable by the owner only; give finished files the usual mode
_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[str]:
    """Yield a temporary path; on success it is renamed to ``path``.

    An ``OSError`` that names no file (a full disk seen by ``write``) leaves
    with ``filename`` set to ``path``, so messages can say which file failed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{suffix}")
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except OSError as err:
        if err.filename is None or err.filename == tmp:
            err.filename = str(path)
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically.

    The file is always valid JSON: NaN and infinite floats, which JSON has no
    words for, are written as ``null``.
    """
    text = json.dumps(_finite(obj), indent=1, sort_keys=False, default=_json_default, allow_nan=False)
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            f.write(text)
            f.write("\n")


def read_json(path: str | os.PathLike) -> Any:
    """Parse a JSON file; a file that is not valid JSON raises ``ValueError`` naming it."""
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err}); the file is truncated or corrupt") from None


def _finite(obj: Any) -> Any:
    """``obj`` with non-finite floats replaced by None (containers copied, others kept)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if type(obj).__module__ == "numpy":
        import numpy as np

        if isinstance(obj, np.floating):
            return float(obj) if np.isfinite(obj) else None
        if isinstance(obj, np.ndarray) and obj.dtype.kind == "f":
            return _finite(obj.tolist())
    return obj


def torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` atomically.

    Writes through a Python file object, so a full disk raises ``OSError``
    (errno ``ENOSPC``) rather than torch's opaque ``RuntimeError`` about its
    zip writer.
    """
    import torch

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            torch.save(obj, f)


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot write {type(o).__name__} to JSON")
