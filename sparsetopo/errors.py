"""Error classes for problems a user can fix (bad inputs, damaged files, a full disk).

Each is also a subclass of the built-in exception a caller would expect
(``ValueError``, ``OSError``, ...), so existing ``except`` clauses keep
working; the command line catches :class:`SparsetopoError` and prints its
message on one line instead of a traceback.
"""

from __future__ import annotations

import os

__all__ = [
    "SparsetopoError",
    "InputError",
    "DamagedRunError",
    "UnsafeFileError",
    "NonFiniteLossError",
    "StoreWriteError",
    "RunLockTimeout",
]


class SparsetopoError(Exception):
    """Base class: an error whose message says what is wrong and how to fix it."""


class InputError(SparsetopoError, ValueError):
    """A command's inputs (files, flags) cannot be used; the message names the input and what to do."""


class DamagedRunError(SparsetopoError, ValueError):
    """A run folder's files do not match what the run recorded; ``path`` is the bad file."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class UnsafeFileError(SparsetopoError, ValueError):
    """A file holds objects other than tensors and plain containers; it was not loaded."""


class NonFiniteLossError(SparsetopoError, FloatingPointError):
    """Training diverged (a loss became NaN or infinite); the run is not complete."""

    def __init__(self, message: str, epoch: int):
        self.epoch = epoch
        super().__init__(message)


class StoreWriteError(SparsetopoError, OSError):
    """The run store (or a cache) cannot be written: permissions, a full disk, ..."""


class RunLockTimeout(SparsetopoError, TimeoutError):
    """Another process held a run folder's lock for longer than the caller would wait."""
