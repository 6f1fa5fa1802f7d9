"""Content hashes of files and arrays, cached by file identity.

A file's digest is computed once per version of the file: the cache key is
its resolved path, size, modification time (ns) and inode, so a file
replaced or rewritten in place is hashed afresh, and an unchanged one costs a
``stat``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np

__all__ = ["file_digest", "arrays_digest", "combine", "short_hash"]

_CHUNK = 1 << 20


def file_digest(path: str | os.PathLike) -> str:
    """sha256 (hex) of a file's bytes, cached by (path, size, mtime_ns, inode)."""
    path = Path(path)
    stat = path.stat()
    return _file_digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino)


@functools.lru_cache(maxsize=4096)
def _file_digest(path: str, size: int, mtime_ns: int, inode: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def arrays_digest(*arrays: Any) -> str:
    """sha256 (hex) of arrays: dtype, shape and bytes of each, in order."""
    h = hashlib.sha256()
    for a in arrays:
        if hasattr(a, "detach"):
            a = a.detach().cpu().numpy()
        if hasattr(a, "toarray"):
            a = a.toarray()
        a = np.ascontiguousarray(np.asarray(a))
        if a.dtype == object:
            a = a.astype(str)
        h.update(str(a.dtype.str).encode())
        h.update(np.asarray(a.shape, dtype=np.int64).tobytes())
        h.update(a.tobytes())
    return h.hexdigest()


def combine(parts: Iterable[str]) -> str:
    """One sha256 (hex) over several digests or labels, in order."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode())
        h.update(b"\0")
    return h.hexdigest()


def short_hash(obj: Any, length: int = 8) -> str:
    """First ``length`` hex digits of the sha256 of ``obj`` as canonical JSON (sorted keys)."""
    blob = json.dumps(obj, sort_keys=True, default=list)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]
