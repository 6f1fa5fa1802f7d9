"""The parallel maps of the package, with a progress bar.

Every parallel step (training sweeps, IMP searches, pairwise NNSTD) goes
through :func:`parallel_map` or :func:`forked_map`, so there is one place that
decides how work is spread over processes and how progress is shown. Where the work runs is the
executor setting of :mod:`sparsetopo.executor`: this machine (``"local"``, the
default) or a Dask scheduler (``"tcp://host:8786"``), chosen by the
``scheduler`` argument, :func:`use_scheduler` or ``$SPARSETOPO_SCHEDULER``.

:func:`forked_map` is the local variant for work whose inputs are large and
already in memory (pairwise NNSTD): its workers are forked from this process,
so the function and everything it refers to are inherited instead of pickled
or imported again, and a worker starts in milliseconds.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any, Callable, Sequence

from .executor import resolve_scheduler, use_scheduler
from .progress import PROGRESS_FILE_ENV, progress_bar, progress_stream, show_progress, with_threads

__all__ = ["parallel_map", "forked_map", "can_fork", "usable_cores", "progress_bar", "progress_stream", "show_progress", "with_threads", "use_scheduler",
           "resolve_scheduler", "PROGRESS_FILE_ENV"]

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
    _check_jobs(n_jobs)
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


def _check_jobs(n_jobs: Any) -> None:
    if not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be a positive int or -1 (all cores), got {n_jobs!r}")


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform reports it, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def can_fork() -> bool:
    """Whether :func:`forked_map` can fork workers here: POSIX ``fork`` is available and safe to use for
    worker processes (not on Windows, which lacks it, nor on macOS, where system libraries may break in a forked
    child)."""
    import multiprocessing

    return sys.platform != "darwin" and "fork" in multiprocessing.get_all_start_methods()


# the function of the running forked_map, installed in each worker when it starts
_forked_fn: Callable[..., Any] | None = None


def _install(fn: Callable[..., Any], setup: Callable[[], Any] | None) -> None:
    global _forked_fn
    _forked_fn = fn
    # Ctrl-C reaches the whole process group: the parent answers it and stops the workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if setup is not None:
        setup()


def _call_installed(indexed: tuple[int, Any]) -> tuple[int, Any]:
    index, item = indexed
    assert _forked_fn is not None
    return index, _forked_fn(item)


def forked_map(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    *,
    n_jobs: int = 1,
    desc: str = "",
    progress: bool | None = None,
    meanwhile: Callable[[], Any] | None = None,
    setup: Callable[[], Any] | None = None,
) -> list[Any]:
    """``[fn(item) for item in items]`` in ``n_jobs`` worker processes forked from this one.

    Unlike :func:`parallel_map`, ``fn`` need not be picklable: the workers
    inherit it, and everything it refers to, at the fork (a closure over large
    arrays costs nothing to hand over). Only the items and the results travel
    between processes, pickled. Items go to whichever worker is free, one at a
    time; each result is exactly what ``fn(item)`` returns in this process.

    Parameters
    ----------
    fn : callable of one argument
    items : sequence of picklable items
    n_jobs : int
        Worker processes (-1: all usable cores, :func:`usable_cores`); never
        more than there are items. With 1, with a single item, or where
        :func:`can_fork` is False, ``fn`` runs in this process, in order.
    desc : label of the progress bar.
    progress : None follows the package's verbosity; True/False forces it.
    meanwhile : callable, optional
        Called once in this process, without arguments, while the workers
        compute (before the first item when the map runs in this process):
        work that does not need the results, such as imports for what comes
        next. Its exceptions propagate.
    setup : callable, optional
        Called once without arguments in each worker process as it starts,
        before its first item (never in this process): settings that should
        hold in the workers only.

    Returns
    -------
    list
        Results in the order of ``items``. An exception raised by ``fn`` in
        a worker is raised here (the first one to come back), and the workers
        are stopped.
    """
    items = list(items)
    _check_jobs(n_jobs)
    workers = min(usable_cores() if n_jobs == -1 else n_jobs, len(items))
    if workers <= 1 or not can_fork():
        if meanwhile is not None:
            meanwhile()
        return [fn(item) for item in progress_bar(items, total=len(items), desc=desc, progress=progress)]
    import multiprocessing

    results: list[Any] = [None] * len(items)
    # fork before any thread of this map exists: the pool starts its workers first, its own threads after
    with multiprocessing.get_context("fork").Pool(workers, initializer=_install, initargs=(fn, setup)) as pool:
        done = pool.imap_unordered(_call_installed, enumerate(items))
        if meanwhile is not None:
            meanwhile()
        for index, result in progress_bar(done, total=len(items), desc=desc, progress=progress):
            results[index] = result
    return results
