"""Where :func:`sparsetopo.parallel.parallel_map` runs its work: here, or on a Dask cluster.

The executor setting is ``"local"`` (the default: this machine, a joblib
process pool; nothing to start) or the address of a running Dask scheduler
(``"tcp://host:8786"``), reached through ``dask.distributed`` (the ``cluster``
extra: ``pip install "sparsetopo[cluster]"``). It is resolved in this order:

1. the ``scheduler`` argument of :func:`~sparsetopo.parallel.parallel_map`
   (and the ``--scheduler`` flag of ``sparsetopo train`` and
   ``sparsetopo distance --matrix``);
2. :func:`use_scheduler`, as a setting or as a ``with`` block;
3. the environment variable ``SPARSETOPO_SCHEDULER`` (how ``make study
   SCHEDULER=...`` and the study's notebooks receive it);
4. ``"local"``.

On a cluster every item is one task (``client.map`` with ``pure=False``);
results come back in the order of the items. A task sees the submitting
process's working directory and its ``SPARSETOPO_DATA``, ``SPARSETOPO_RUNS``
and ``SPARSETOPO_CACHE`` (made absolute), so relative roots mean on the worker
what they mean here. This needs a filesystem shared by the client and all
workers under the same paths (NFS, Lustre, one machine); the data and the run
store are read and written there, never shipped through the scheduler.
A task that calls :func:`~sparsetopo.parallel.parallel_map` itself runs that
inner map locally (a worker never waits on the cluster it serves).
"""

from __future__ import annotations

import atexit
import contextvars
import os
import re
import threading
import uuid
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:  # annotations only: dask is the optional cluster extra
    import distributed

__all__ = ["ENV_VAR", "LOCAL", "resolve_scheduler", "use_scheduler", "get_client", "close_clients", "cluster_map"]

ENV_VAR = "SPARSETOPO_SCHEDULER"
"""Environment variable naming the default executor: ``local`` or a Dask scheduler address."""
LOCAL = "local"
"""The executor name of this machine (a local process pool)."""
#: environment variables naming folders; forwarded (absolute) to every cluster task
PATH_VARS = ("SPARSETOPO_DATA", "SPARSETOPO_RUNS", "SPARSETOPO_CACHE")

_ADDRESS = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$|^[^\s/:]+:\d+$", re.IGNORECASE)  # scheme://... or host:port
_setting: str | None = None  # set by use_scheduler
_inside_task: contextvars.ContextVar[bool] = contextvars.ContextVar("sparsetopo_inside_task", default=False)
_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def _normalise(value: Any, source: str) -> str | None:
    """``None`` for the local executor, else the scheduler address; bad values raise."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{source} must be a string ('local' or a scheduler address like 'tcp://host:8786'), "
                        f"got {type(value).__name__}")
    text = value.strip()
    if text == "" or text.lower() == LOCAL:
        return None
    if not _ADDRESS.match(text):
        raise ValueError(f"{source}={value!r} is neither 'local' nor a Dask scheduler address "
                         "such as 'tcp://127.0.0.1:8786'")
    return text


def resolve_scheduler(scheduler: str | None = None) -> str | None:
    """The scheduler address to use, or ``None`` for the local executor.

    ``scheduler`` (when not ``None``) wins over :func:`use_scheduler`, which
    wins over ``$SPARSETOPO_SCHEDULER``; ``"local"`` at any level means this
    machine. Inside a cluster task the answer is always local.
    """
    if _inside_task.get():
        return None
    if scheduler is not None:
        return _normalise(scheduler, "scheduler")
    if _setting is not None:
        return _normalise(_setting, "use_scheduler(...)")
    return _normalise(os.environ.get(ENV_VAR), f"${ENV_VAR}")


class use_scheduler:  # noqa: N801 - used like a function
    """Set the executor for every later parallel map: ``'local'``, an address, or ``None`` (unset).

    Works as a plain call (``use_scheduler("tcp://host:8786")`` holds until
    changed) and as a ``with`` block, which restores the previous setting on
    exit. ``None`` removes the setting, so ``$SPARSETOPO_SCHEDULER`` applies again.
    """

    def __init__(self, address: str | None) -> None:
        global _setting
        _normalise(address, "use_scheduler(address)")  # fail now, not at the next map
        self.previous = _setting
        self.address = address
        _setting = address

    def __enter__(self) -> "use_scheduler":
        return self

    def __exit__(self, *exc: Any) -> None:
        global _setting
        _setting = self.previous


def get_client(address: str, *, timeout: float = 20.0) -> distributed.Client:
    """A connected ``distributed.Client`` for ``address`` (one per address, reused)."""
    try:
        from distributed import Client
    except ImportError as err:
        raise ImportError(
            f"the scheduler {address!r} needs dask.distributed; install it with "
            "pip install \"sparsetopo[cluster]\" (or \"dask[distributed]\"), or use the local executor "
            f"(unset ${ENV_VAR} / pass scheduler='local')"
        ) from err
    with _clients_lock:
        client = _clients.get(address)
        if client is not None and client.status == "running":
            return client
        try:
            client = Client(address, timeout=timeout, set_as_default=False)
        except OSError as err:
            raise ConnectionError(
                f"no Dask scheduler answers at {address!r} ({err}); start one with "
                "`dask scheduler --host 127.0.0.1 --port 8786` and workers with "
                "`dask worker tcp://127.0.0.1:8786 --nworkers 2 --nthreads 1`, or use scheduler='local'"
            ) from None
        _clients[address] = client
        return client


def close_clients() -> None:
    """Close every client :func:`get_client` opened (the cluster keeps running)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        try:
            client.close()
        except Exception:  # pragma: no cover - closing at exit is best effort
            pass


atexit.register(close_clients)


def _task_context() -> dict[str, Any]:
    """What a task needs to see the client's roots: working directory and path variables."""
    cwd = os.getcwd()
    env = {name: (os.path.abspath(os.path.join(cwd, os.path.expanduser(os.environ[name]))) if os.environ.get(name) else None)
           for name in PATH_VARS}
    return {"cwd": cwd, "env": env}


def _run_task(item: Any, fn: Callable[[Any], Any], threads: int, context: dict[str, Any]) -> Any:
    """Run ``fn(item)`` on a worker with the client's roots and ``threads`` torch threads."""
    from .parallel import with_threads

    saved_env = {name: os.environ.get(name) for name in context["env"]}
    saved_cwd = os.getcwd()
    token = _inside_task.set(True)
    try:
        for name, value in context["env"].items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if os.path.isdir(context["cwd"]):
            os.chdir(context["cwd"])
        return with_threads(fn, threads, item)
    finally:
        _inside_task.reset(token)
        os.chdir(saved_cwd)
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def cluster_map(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    address: str,
    *,
    desc: str = "",
    progress: bool | None = None,
    threads: int = 1,
) -> list[Any]:
    """``[fn(item) for item in items]`` as tasks on the scheduler at ``address``, in input order.

    The progress bar advances as tasks finish (in any order). A task whose
    worker dies is rerun elsewhere by Dask; a task that raises cancels the
    others and the error is raised here.
    """
    from distributed import as_completed

    from .parallel import progress_bar

    client = get_client(address)
    name = re.sub(r"[^A-Za-z0-9_]+", "_", desc or getattr(fn, "__name__", "task")).strip("_") or "task"
    batch = uuid.uuid4().hex[:8]
    keys = [f"sparsetopo-{name}-{batch}-{i}" for i in range(len(items))]
    futures = client.map(_run_task, list(items), key=keys, pure=False,
                         fn=fn, threads=int(threads), context=_task_context())
    index = {future.key: i for i, future in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    try:
        # results are fetched as tasks finish, so none waits in a worker's memory (a worker lost later costs nothing)
        done = as_completed(futures, loop=client.loop, with_results=True, raise_errors=True)
        for future, result in progress_bar(done, total=len(futures), desc=desc, progress=progress):
            results[index[future.key]] = result
        return results
    finally:
        client.cancel([f for f in futures if not f.done()])
