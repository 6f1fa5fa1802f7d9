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
import logging
import os
import re
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:  # annotations only: dask is the optional cluster extra
    import distributed

from .errors import ClusterLostError
from .progress import progress_bar, with_threads

__all__ = ["ENV_VAR", "LOCAL", "resolve_scheduler", "use_scheduler", "get_client", "close_clients", "cluster_map",
           "LOST_AFTER"]

ENV_VAR = "SPARSETOPO_SCHEDULER"
"""Environment variable naming the default executor: ``local`` or a Dask scheduler address."""
LOCAL = "local"
"""The executor name of this machine (a local process pool)."""
#: environment variables naming folders; forwarded (absolute) to every cluster task
PATH_VARS = ("SPARSETOPO_DATA", "SPARSETOPO_RUNS", "SPARSETOPO_CACHE")

# scheme://host:port, with the schemes dask.distributed speaks; a bare host:port means tcp
_ADDRESS = re.compile(r"^(?:(?P<scheme>[a-z][a-z0-9+.-]*)://)?(?P<host>\[[0-9a-f:.]+\]|[^\s/:\[\]]+)(?::(?P<port>[^\s/]*))?/?$",
                      re.IGNORECASE)
_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
LOST_AFTER = 60.0
"""Seconds a cluster map waits with no worker, or with its scheduler unreachable, before it gives up."""
#: seconds between checks of the cluster while waiting for results
POLL = 1.0
_setting: str | None = None  # set by use_scheduler
_inside_task: contextvars.ContextVar[bool] = contextvars.ContextVar("sparsetopo_inside_task", default=False)
_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()
logger = logging.getLogger("sparsetopo")


def _normalise(value: Any, source: str) -> str | None:
    """``None`` for the local executor, else the scheduler address; a malformed value raises at once.

    ``source`` names where the value came from in the message: a flag
    (``"--scheduler"``) is shown as ``--scheduler 'x'``, anything else as ``source='x'``.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{source} must be a string ('local' or a scheduler address like 'tcp://host:8786'), "
                        f"got {type(value).__name__}")
    text = value.strip()
    if text == "" or text.lower() == LOCAL:
        return None
    problem = _address_problem(text)
    if problem:
        shown = f"{source} {value!r}" if source.startswith("--") else f"{source}={value!r}"
        raise ValueError(f"{shown} is neither 'local' nor a Dask scheduler address ({problem}); "
                         "give one such as 'tcp://127.0.0.1:8786'")
    return text


def _address_problem(text: str) -> str | None:
    """Why ``text`` is not a scheduler address, or None when it is one."""
    if text.lower().startswith("inproc://"):
        return None
    match = _ADDRESS.match(text)
    if not match:
        return "expected scheme://host:port or host:port"
    scheme, port = match.group("scheme"), match.group("port")
    if scheme is not None and scheme.lower() not in _SCHEMES:
        return f"unknown protocol {scheme!r}; dask.distributed speaks {', '.join(_SCHEMES)}"
    if port is None:
        return "no port; the scheduler's default is 8786" if scheme else "expected scheme://host:port or host:port"
    if not port.isdigit() or not 0 < int(port) < 65536:
        return f"port {port!r} is not a number from 1 to 65535"
    return None


def resolve_scheduler(scheduler: str | None = None, *, source: str = "scheduler") -> str | None:
    """The scheduler address to use, or ``None`` for the local executor.

    A malformed address raises ``ValueError`` at once, naming ``source`` (the
    argument's name, or the flag it came from such as ``"--scheduler"``) and
    the address.

    ``scheduler`` (when not ``None``) wins over :func:`use_scheduler`, which
    wins over ``$SPARSETOPO_SCHEDULER``; ``"local"`` at any level means this
    machine. Inside a cluster task the answer is always local.
    """
    if _inside_task.get():
        return None
    if scheduler is not None:
        return _normalise(scheduler, source)
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
            client.close(timeout=5)  # bounded: a scheduler that is gone never answers
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
    lost_after: float | None = None,
) -> list[Any]:
    """``[fn(item) for item in items]`` as tasks on the scheduler at ``address``, in input order.

    The progress bar advances as tasks finish (in any order). A task whose
    worker dies is rerun elsewhere by Dask; a task that raises cancels the
    others and the error is raised here.

    The wait is bounded: the cluster is checked every :data:`POLL` seconds,
    and when the scheduler cannot be reached, or has had no worker, for
    ``lost_after`` seconds (default :data:`LOST_AFTER`) the map stops with
    :class:`~sparsetopo.errors.ClusterLostError`. What finished before is kept
    by the tasks themselves (runs and cache entries are written to disk as they
    complete), so calling again continues from there.
    """
    from distributed import as_completed

    lost_after = LOST_AFTER if lost_after is None else float(lost_after)
    client = get_client(address)
    name = re.sub(r"[^A-Za-z0-9_]+", "_", desc or getattr(fn, "__name__", "task")).strip("_") or "task"
    batch = uuid.uuid4().hex[:8]
    keys = [f"sparsetopo-{name}-{batch}-{i}" for i in range(len(items))]
    futures = client.map(_run_task, list(items), key=keys, pure=False,
                         fn=fn, threads=int(threads), context=_task_context())
    index = {future.key: i for i, future in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    watch = _ClusterWatch(client, address, lost_after, len(futures))
    bar = progress_bar(None, total=len(futures), desc=desc, progress=progress)
    finished = 0
    try:
        # results are fetched as tasks finish, so none waits in a worker's memory (a worker lost later costs nothing)
        done = as_completed(futures, loop=client.loop, with_results=True, raise_errors=True)
        while finished < len(futures):
            start = time.monotonic()
            while not done.has_ready() and time.monotonic() - start < POLL:
                time.sleep(0.02)
            if not done.has_ready():
                watch.check(finished=finished)  # raises once the cluster has been gone for lost_after seconds
                continue
            watch.reset()
            future, result = next(done)  # a task that raised raises here
            if future.status != "finished":  # cancelled by the client when its scheduler went away: no result
                raise watch.lost(finished, f"the Dask scheduler at {address} dropped the task ({future.status}): "
                                           "its connection was lost")
            results[index[future.key]] = result
            finished += 1
            bar.update(1)
        return results
    finally:
        bar.close()
        if client.status == "running":
            client.cancel([f for f in futures if not f.done()])


class _ClusterWatch:
    """Decides when a cluster map has waited long enough on a scheduler that is gone or has no worker."""

    def __init__(self, client, address: str, lost_after: float, total: int) -> None:
        self.client, self.address, self.lost_after, self.total = client, address, lost_after, total
        self.since: float | None = None  # when the current trouble began
        self.trouble = ""

    def reset(self) -> None:
        self.since, self.trouble = None, ""

    def check(self, *, finished: int) -> None:
        trouble = self._trouble()
        if not trouble:
            self.reset()
            return
        now = time.monotonic()
        if self.since is None:
            self.since = now
            logger.warning("%s; waiting up to %g s for it to come back", trouble, self.lost_after)
        self.trouble = trouble
        if now - self.since >= self.lost_after:
            raise self.lost(finished, f"{trouble} (waited {now - self.since:.0f} s)")

    def lost(self, finished: int, what: str) -> ClusterLostError:
        return ClusterLostError(
            f"{what}; {finished} of {self.total} tasks had finished and what they wrote is kept (runs, NNSTD cache "
            f"entries): start the scheduler and workers again (`dask scheduler`, `dask worker {self.address}`) and "
            "rerun to continue, or use scheduler='local'"
        )

    def _trouble(self) -> str:
        if self.client.status != "running":
            return f"lost the connection to the Dask scheduler at {self.address}"
        try:
            workers = self.client.sync(self.client.scheduler.ncores, callback_timeout=max(POLL, 5.0))
        except Exception:  # the scheduler did not answer in time: as good as gone
            return f"the Dask scheduler at {self.address} does not answer"
        if not workers:
            return f"the Dask scheduler at {self.address} has no workers left"
        return ""
