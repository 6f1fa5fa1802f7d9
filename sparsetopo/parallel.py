"""The one parallel map of the package, with a progress bar.

Every parallel step (training sweeps, IMP searches, pairwise NNSTD) goes
through :func:`parallel_map`, so there is one place that decides how work is
spread over processes and how progress is shown. Where the work runs is the
executor setting of :mod:`sparsetopo.executor`: this machine (``"local"``, the
default) or a Dask scheduler (``"tcp://host:8786"``), chosen by the
``scheduler`` argument, :func:`use_scheduler` or ``$SPARSETOPO_SCHEDULER``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from .executor import resolve_scheduler, use_scheduler
from .progress import PROGRESS_FILE_ENV, progress_bar, progress_stream, show_progress, with_threads

__all__ = ["parallel_map", "progress_bar", "progress_stream", "show_progress", "with_threads", "use_scheduler",
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
