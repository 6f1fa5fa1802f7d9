"""One writer per run folder: an advisory lock file ``<run folder>/.lock``.

The lock is an OS file lock (``flock``, through the ``filelock`` package):
the kernel releases it when its holder exits, however it exits, so a lock
left behind by a killed process is never stale -- the next caller takes it at
once. While held, the file names its holder (``pid``, host, start time) so a
waiting caller can say whom it waits for.

Stale-lock rule for file systems without ``flock`` (some network mounts):
there the lock is the *existence* of the file, created exclusively. A lock
file is stale, and is removed, when its holder ran on this host and that
process no longer exists, or when the file is older than ``stale_after``
seconds (default 24 h) and its holder cannot be checked (another host).
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import RunLockTimeout

__all__ = ["run_lock", "lock_holder", "is_stale", "LOCK_NAME"]

LOCK_NAME = ".lock"
"""Name of the lock file inside a run folder."""
STALE_AFTER = 24 * 3600.0


def _holder_text() -> str:
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()})


def lock_holder(lock_path: str | os.PathLike) -> dict | None:
    """``{"pid", "host", "since"}`` recorded in a lock file, or None if unreadable."""
    try:
        info = json.loads(Path(lock_path).read_text() or "null")
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(lock_path: str | os.PathLike, *, stale_after: float = STALE_AFTER) -> bool:
    """The stale rule of existence locks (see the module docstring)."""
    lock_path = Path(lock_path)
    info = lock_holder(lock_path)
    if info and info.get("host") == socket.gethostname() and isinstance(info.get("pid"), int):
        return not _pid_alive(info["pid"])
    try:
        age = time.time() - lock_path.stat().st_mtime
    except FileNotFoundError:
        return True
    return age > stale_after


def _describe(lock_path: Path) -> str:
    """Whose the lock is and since when: ``process 123 on host (since 2025-01-31 14:02:07, 5 min ago)``.

    A holder on this host that is stopped (suspended) is named as such, with how to resume it.
    """
    info = lock_holder(lock_path)
    if not info:
        return "another process"
    text = f"process {info.get('pid')} on {info.get('host')}"
    since = info.get("since")
    if isinstance(since, (int, float)):
        age = max(0.0, time.time() - since)
        ago = f"{age:.0f} s" if age < 120 else f"{age / 60:.0f} min" if age < 7200 else f"{age / 3600:.1f} h"
        text += f" (since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(since))}, {ago} ago"
        if info.get("host") == socket.gethostname() and isinstance(info.get("pid"), int) and _pid_stopped(info["pid"]):
            text += f"; that process is stopped: resume it with `kill -CONT {info['pid']}` or end it"
        text += ")"
    return text


def _pid_stopped(pid: int) -> bool:
    """True when ``pid`` is a stopped (suspended) process on this host (Linux; False where unknown)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] in (["T"], ["t"])


def _announce(lock_path: Path, waited: float) -> None:
    what = "still waiting" if waited else "waiting"
    print(f"{lock_path.parent}: being trained by {_describe(lock_path)}; {what} for its lock {lock_path}"
          + (f" ({waited / 60:.0f} min so far)" if waited else ""), file=sys.stderr)


#: seconds between reminders while a caller waits for a lock
REMIND_EVERY = 600.0


@contextmanager
def run_lock(
    run_dir: str | os.PathLike,
    *,
    timeout: float | None = None,
    announce: bool = True,
    stale_after: float = STALE_AFTER,
) -> Iterator[None]:
    """Hold the lock of ``run_dir`` (created if needed) for the ``with`` block.

    Parameters
    ----------
    timeout : float, optional
        Seconds to wait for another holder; None waits as long as it takes.
    announce : bool
        Print one line on stderr when the lock is busy, naming its holder and
        since when it holds the lock (and again every :data:`REMIND_EVERY`
        seconds of waiting).

    Raises
    ------
    RunLockTimeout
        The lock was still held after ``timeout`` seconds.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    lock_path = run_dir / LOCK_NAME
    try:
        with _flock(lock_path, timeout, announce):
            yield
    except _NoFlock:
        with _existence_lock(lock_path, timeout, announce, stale_after):
            yield


class _NoFlock(Exception):
    pass


@contextmanager
def _flock(lock_path: Path, timeout: float | None, announce: bool) -> Iterator[None]:
    import filelock

    try:
        lock = filelock.FileLock(str(lock_path), fallback_to_soft=False)
    except TypeError:  # filelock before the soft fallback existed: flock or an error
        lock = filelock.FileLock(str(lock_path))
    try:
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            if announce:
                _announce(lock_path, 0.0)
            start = time.monotonic()
            while True:  # bounded by ``timeout``; without one, by the holder's life (the system frees its lock)
                left = None if timeout is None else timeout - (time.monotonic() - start)
                try:
                    lock.acquire(timeout=REMIND_EVERY if left is None else max(0.0, min(left, REMIND_EVERY)),
                                 poll_interval=0.2)
                    break
                except filelock.Timeout:
                    if left is not None and left <= REMIND_EVERY:
                        raise
                    if announce:
                        _announce(lock_path, time.monotonic() - start)
    except filelock.Timeout:
        raise RunLockTimeout(
            f"{lock_path}: still held by {_describe(lock_path)} after {timeout:g} s; wait for it to finish "
            "(a lock of a process that has exited is released by the system)"
        ) from None
    except (NotImplementedError, OSError) as err:
        if isinstance(err, OSError) and err.errno not in (errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP):
            raise
        raise _NoFlock() from err
    try:
        try:
            with open(lock_path, "w") as f:
                f.write(_holder_text())
        except OSError:
            pass  # the holder note is a courtesy; the lock itself is held
        yield
    finally:
        lock.release()


@contextmanager
def _existence_lock(lock_path: Path, timeout: float | None, announce: bool, stale_after: float) -> Iterator[None]:
    start = time.monotonic()
    announced: float | None = None
    while True:
        try:
            fd = os.open(lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if is_stale(lock_path, stale_after=stale_after):
                lock_path.unlink(missing_ok=True)
                continue
            if timeout is not None and time.monotonic() - start >= timeout:
                raise RunLockTimeout(
                    f"{lock_path}: still held by {_describe(lock_path)} after {timeout:g} s; if that process is "
                    f"gone, delete {lock_path}"
                ) from None
            waited = time.monotonic() - start
            if announce and (announced is None or waited - announced >= REMIND_EVERY):
                _announce(lock_path, 0.0 if announced is None else waited)
                announced = waited
            time.sleep(0.2)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(_holder_text())
        break
    try:
        yield
    finally:
        lock_path.unlink(missing_ok=True)
