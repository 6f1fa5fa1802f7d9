"""Error classes for problems a user can fix (bad inputs, damaged files, a full disk), and their one-line report.

Each class is also a subclass of the built-in exception a caller would expect
(``ValueError``, ``OSError``, ...), so existing ``except`` clauses keep
working. Command lines (``sparsetopo ...``, ``python -m sparsetopo.study``)
hand their work to :func:`run_reporting_errors`, which prints such an error
as one line ``<prog>: error: <message>`` on stderr -- no traceback unless
asked for (``--verbosity debug``) -- and turns it into an exit code.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from typing import Callable, TextIO

__all__ = [
    "SparsetopoError",
    "InputError",
    "DamagedRunError",
    "UnsafeFileError",
    "NonFiniteLossError",
    "FileWriteError",
    "StoreWriteError",
    "RunLockTimeout",
    "UnsupportedTopologyError",
    "ClusterLostError",
    "USER_ERRORS",
    "one_line",
    "error_message",
    "exit_code",
    "write_error",
    "refused_pickle",
    "run_reporting_errors",
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


class FileWriteError(SparsetopoError, OSError):
    """A file cannot be written (a full disk, a read-only folder, ...); the message names the file and the cause."""


class StoreWriteError(FileWriteError):
    """The run store (or a cache) cannot be written: permissions, a full disk, ..."""


class RunLockTimeout(SparsetopoError, TimeoutError):
    """Another process held a run folder's lock for longer than the caller would wait."""


class UnsupportedTopologyError(SparsetopoError, ValueError):
    """A metric is not defined for this topology; the message names the metric, the layer and why."""


class ClusterLostError(SparsetopoError, ConnectionError):
    """The Dask scheduler, or its last worker, went away while work was waiting on it.

    What finished before is kept (runs and cache entries are on disk), so
    running the same call again continues where this one stopped.
    """


USER_ERRORS: tuple[type[BaseException], ...] = (
    SparsetopoError, ValueError, OSError, KeyError, TypeError, FloatingPointError, ImportError,
)
"""What a command line reports on one line: the package's own errors, bad values, files and the environment."""

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")

# errno values whose cause is the place written to, with what to do about it
_WRITE_HINTS = {
    28: "free some space or write elsewhere",  # ENOSPC
    122: "free some space or write elsewhere",  # EDQUOT
    13: "choose a folder you can write to",  # EACCES
    1: "choose a folder you can write to",  # EPERM
    30: "the file system is read-only; choose another folder",  # EROFS
}


def one_line(message: object) -> str:
    """``message`` as one line: terminal colour codes removed, runs of white space (newlines too) made one space."""
    return " ".join(_ANSI.sub("", str(message)).split())


def error_message(err: BaseException) -> str:
    """The one-line text of ``err`` that a command line prints after ``error:``.

    An ``OSError`` of the system (not one of ours) reads ``<file>: <cause>``;
    a ``KeyError`` shows its message without quotes.
    """
    if isinstance(err, OSError) and not isinstance(err, SparsetopoError) and err.strerror:
        where = f"{err.filename}: " if err.filename else ""
        return one_line(f"{where}{err.strerror}")
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    return one_line(text or type(err).__name__)


def exit_code(err: BaseException) -> int:
    """2 for a bad input (fix the command), 1 for a failure of the environment or of training, 130 for Ctrl-C."""
    if isinstance(err, KeyboardInterrupt):
        return 130
    if isinstance(err, (OSError, FloatingPointError)) and not isinstance(err, FileNotFoundError):
        return 1
    return 2


def write_error(err: OSError, path: object, what: str = "write", hint: str | None = None) -> FileWriteError:
    """A :class:`FileWriteError` for ``err`` raised while writing ``path``: one line with path, cause and fix.

    ``path`` is the file the caller meant to write (a temporary file beside it
    is what failed, usually, and would mean nothing to a reader).
    """
    cause = err.strerror or one_line(err) or type(err).__name__
    hint = hint or _WRITE_HINTS.get(err.errno or 0, "check the folder")
    out = FileWriteError(err.errno or 0, f"cannot {what} {path}: {cause}; {hint}")
    out.filename = str(path)
    return out


_GLOBAL = re.compile(r"GLOBAL\s+([A-Za-z_][\w.]*)")


def refused_pickle(err: BaseException, path: object, what: str = "file") -> UnsafeFileError | None:
    """An :class:`UnsafeFileError` for ``torch.load(path, weights_only=True)`` refusing an object, or None.

    One line without torch's long advice or its colour codes: which object
    the file holds, and what to save instead (``model.state_dict()`` for a
    whole pickled model, tensors for numpy arrays). None when ``err`` names
    no refused object (the bytes are not a pickle at all: a truncated or
    foreign file, which the caller reports as such).
    """
    found = _GLOBAL.search(one_line(err))
    if not found:
        return None
    name = found.group(1)
    module_parts = any(g.startswith(("torch.nn.modules.", "torch.nn.parameter.")) for g in _pickled_globals(path))
    if name.split(".")[0] == "numpy":
        advice = (f"it holds numpy arrays ({name}), which a weights-only load does not read; save torch tensors "
                  "instead: torch.save({k: torch.from_numpy(v) for k, v in arrays.items()}, path)")
    elif module_parts or (name.startswith("torch.nn.") or name.startswith("__main__.") or "Module" in name.split(".")[-1]):
        advice = (f"it holds a whole pickled model ({name}), as torch.save(model) writes; save its weights "
                  "instead: torch.save(model.state_dict(), path)")
    else:
        advice = (f"it holds a pickled {name} object, which could run code when loaded; a weights-only load reads tensors and plain "
                  "containers only (if you wrote it from a model, save model.state_dict(); if you did not write it, "
                  "delete it)")
    return UnsafeFileError(f"{path}: refused to load this {what}: {advice}")


def _pickled_globals(path: object) -> set[str]:
    """The ``module.name`` globals a ``torch.save`` file's pickle refers to, read without unpickling anything.

    ``pickletools.genops`` only parses the opcodes; nothing is imported or called.
    An empty set when the file is not a readable torch zip archive.
    """
    import pickletools
    import zipfile

    found: set[str] = set()
    try:
        with zipfile.ZipFile(str(path)) as archive:
            name = next((n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"), None)
            if name is None:
                return found
            data = archive.read(name)
        strings: list[str] = []
        for opcode, arg, _ in pickletools.genops(data):
            if opcode.name == "GLOBAL" and isinstance(arg, str):
                found.add(arg.replace(" ", "."))
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.add(f"{strings[-2]}.{strings[-1]}")
            elif isinstance(arg, str):
                strings.append(arg)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        return found
    return found


def run_reporting_errors(
    prog: str,
    work: Callable[[], int | None],
    *,
    debug: bool = False,
    stream: TextIO | None = None,
    also: tuple[type[BaseException], ...] = (),
) -> int:
    """Call ``work()`` and return its exit code; report a user's error on one line instead of raising it.

    The helper every command line of the package uses, so they all report the
    same way: an error in :data:`USER_ERRORS` prints ``<prog>: error:
    <message>`` on ``stream`` (default stderr) and returns :func:`exit_code`;
    Ctrl-C prints ``<prog>: interrupted`` and returns 130. With ``debug``
    the traceback is printed before the line. Anything else (a bug) is raised
    with its traceback.

    Parameters
    ----------
    prog : str
        Name of the command, first on the line (``"sparsetopo train"``).
    work : callable returning an exit code (None counts as 0)
    debug : bool
        Print tracebacks too (``--verbosity debug``).
    stream : text file, optional
        Where the line goes (default: stderr).
    also : tuple of exception classes
        More errors to report on one line (a caller's own, e.g. a notebook
        runner's execution error), with exit code 1.

    Examples
    --------
    A command's ``main``::

        def main(argv=None) -> int:
            args = parser.parse_args(argv)
            return run_reporting_errors("python -m sparsetopo.study", lambda: run(args),
                                        debug=args.verbosity == "debug")
    """
    stream = stream if stream is not None else sys.stderr
    try:
        return int(work() or 0)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=stream)
        return 130
    except USER_ERRORS + tuple(also) as err:
        if debug:
            traceback.print_exc(file=stream)
        print(f"{prog}: error: {error_message(err)}", file=stream)
        return exit_code(err) if isinstance(err, USER_ERRORS) else 1
