"""The one parallel map of the package, with a progress bar.

Every parallel step (training sweeps, IMP searches, pairwise NNSTD) goes
through :func:`parallel_map`, so there is one place that decides how work is
spread over processes and how progress is shown. Where the work runs is the
executor setting of :mod:`sparsetopo.executor`: this machine (``"local"``, the
default) or a Dask scheduler (``"tcp://host:8786"``), chosen by the
``scheduler`` argument, :func:`use_scheduler` or ``$SPARSETOPO_SCHEDULER``.
"""

from __future__ import annotations

import logging
import os
from typing import IO, TYPE_CHECKING, Any, Callable, Iterable, Sequence

from .executor import resolve_scheduler, use_scheduler

if TYPE_CHECKING:  # annotations only
    from tqdm import tqdm

__all__ = ["parallel_map", "progress_bar", "progress_stream", "show_progress", "with_threads", "use_scheduler",
           "resolve_scheduler", "PROGRESS_FILE_ENV"]

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


def parallel_map(
    fn: Callable[..., Any],
    items: Sequence[Any],
    *,
    n_jobs: int = 1,
    desc: str = "",
    progress: bool | None = None,
    threads_per_job: int | None = None,
    scheduler: str | None = None,
) -> list[Any]:
    """``[fn(item) for item in items]``, ``n_jobs`` worker processes at a time, or on a Dask cluster.

    Parameters
    ----------
    fn : picklable callable of one argument (a tuple of arguments is passed as one item)
    items : sequence
    n_jobs : int
        1 runs in this process (no pool); more starts joblib's process pool.
    desc : label of the progress bar.
    progress : None follows the package's verbosity; True/False forces it.
    threads_per_job : int, optional
        Torch threads in each worker (default 1 when ``n_jobs != 1`` or on a
        cluster, so workers do not oversubscribe the cores); ignored when the
        map runs in this process.
    scheduler : str, optional
        ``"local"`` or a Dask scheduler address; default: :func:`use_scheduler`,
        else ``$SPARSETOPO_SCHEDULER``, else local (see :mod:`sparsetopo.executor`).
        On a scheduler every item is one task, whatever ``n_jobs`` (the
        cluster's workers set the parallelism), ``fn`` and the items must be
        picklable, and paths in them must exist on the workers (a shared
        filesystem; relative paths and the ``SPARSETOPO_*`` roots are taken
        relative to this process's working directory).

    Returns
    -------
    list
        Results in the order of ``items``, whatever order they finished in.
    """
    items = list(items)
    if not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be a positive int or -1 (all cores), got {n_jobs!r}")
    address = resolve_scheduler(scheduler)
    if not items:
        return []
    if address is not None:
        from .executor import cluster_map

        threads = 1 if threads_per_job is None else int(threads_per_job)
        return cluster_map(fn, items, address, desc=desc, progress=progress, threads=threads)
    if n_jobs == 1 or len(items) == 1:
        return [fn(item) for item in progress_bar(items, total=len(items), desc=desc, progress=progress)]
    from joblib import Parallel, delayed

    threads = 1 if threads_per_job is None else int(threads_per_job)
    jobs = (delayed(with_threads)(fn, threads, item) for item in items)
    runner = Parallel(n_jobs=n_jobs, return_as="generator")
    return list(progress_bar(runner(jobs), total=len(items), desc=desc, progress=progress))
