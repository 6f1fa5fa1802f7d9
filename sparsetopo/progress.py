"""Progress bars and the package's progress stream; torch threads per worker.

The ground floor under :mod:`sparsetopo.executor` and :mod:`sparsetopo.parallel`, which both draw
progress and set worker threads: it imports nothing of the package, so neither of those two needs
the other to do so. :mod:`sparsetopo.parallel` hands on every name here.
"""

from __future__ import annotations

import logging
import os
from typing import IO, TYPE_CHECKING, Any, Callable, Iterable

if TYPE_CHECKING:  # annotations only
    from tqdm import tqdm

__all__ = ["progress_bar", "progress_stream", "show_progress", "with_threads", "PROGRESS_FILE_ENV"]

logger = logging.getLogger("sparsetopo")

PROGRESS_FILE_ENV = "SPARSETOPO_PROGRESS_FILE"
"""Environment variable naming a file that receives progress bars and the package's log lines instead of stderr.
The study runner sets it for the notebooks it executes and copies the file to its own terminal, so progress shows
where the study runs while the executed notebooks stay free of it."""
_streams: dict[str, IO[str]] = {}


def progress_stream() -> IO[str] | None:
    """The stream that progress bars and log lines go to: the file ``$SPARSETOPO_PROGRESS_FILE`` names
    (opened once per process, appended to, line-buffered), else ``None`` (meaning stderr, or a notebook
    widget in an interactive notebook)."""
    path = os.environ.get(PROGRESS_FILE_ENV)
    if not path:
        return None
    if path not in _streams or _streams[path].closed:
        _streams[path] = open(path, "a", buffering=1, encoding="utf-8")
    return _streams[path]


def show_progress(progress: bool | None = None) -> bool:
    """Whether to draw progress bars.

    ``progress=None`` follows the package's verbosity: bars are drawn while the
    ``sparsetopo`` logger is enabled for INFO (see :func:`sparsetopo.set_verbosity`).
    """
    if progress is not None:
        return bool(progress)
    return logger.isEnabledFor(logging.INFO)


def progress_bar(iterable: Iterable[Any], *, total: int | None = None, desc: str = "",
                 progress: bool | None = None, leave: bool = True, **tqdm_kwargs: Any) -> tqdm:
    """``tqdm`` over ``iterable``, drawn only when :func:`show_progress` says so (extra keywords go to tqdm).

    The bar goes to :func:`progress_stream` when one is set (a text bar), else to stderr, or to a
    notebook widget in an interactive notebook.
    """
    stream = progress_stream()
    if stream is not None:
        from tqdm.std import tqdm

        tqdm_kwargs.setdefault("file", stream)
    else:
        from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, disable=not show_progress(progress), leave=leave, **tqdm_kwargs)


def with_threads(fn: Callable[..., Any], threads: int, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn(*args, **kwargs)`` with ``threads`` torch threads (worker processes use 1)."""
    import torch

    torch.set_num_threads(int(threads))
    return fn(*args, **kwargs)
