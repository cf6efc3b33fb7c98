"""One writer at a time, across the threads of a process and across processes: the lock that
each outbox's sender holds while it applies its rows (the search index's drains, the CKAN sender).

A thread lock makes the threads of a process queue without polling; a file lock (``flock``, which
the kernel drops if its process dies) makes the processes sharing the lock file queue. One object
per lock file and process (`process_lock`), so that the threads of a process share its thread lock.
"""
from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from typing import Iterator

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt


class LockBusy(TimeoutError):
    """Another writer held the lock for longer than the caller would wait."""


class ProcessLock:
    """`hold(timeout)` the lock file at `path`; raises `busy` (a LockBusy) naming `what` after `timeout` seconds."""

    busy: type[LockBusy] = LockBusy

    def __init__(self, path: Path, what: str = "", default_timeout: float = 10.0) -> None:
        self.path = path
        self.what = what or str(path)
        self.default_timeout = default_timeout
        self._thread_lock = threading.Lock()

    @contextlib.contextmanager
    def hold(self, timeout: float | None = None) -> Iterator[None]:
        timeout = self.default_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        if not self._thread_lock.acquire(timeout=max(timeout, 0)):
            raise self.busy(f"{self.what} is busy (another writer of this process)")
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                while not _try_lock(fd):
                    if time.monotonic() >= deadline:
                        raise self.busy(f"{self.what} is busy (another process writes)")
                    time.sleep(0.01)
                try:
                    yield
                finally:
                    _unlock(fd)
            finally:
                os.close(fd)
        finally:
            self._thread_lock.release()


_locks: dict[str, ProcessLock] = {}
_locks_guard = threading.Lock()


def process_lock(path: Path, factory: type[ProcessLock] = ProcessLock, **kwargs: object) -> ProcessLock:
    """The one lock object of this process for the lock file `path` (its folder is made)."""
    path = path.resolve()
    with _locks_guard:
        lock = _locks.get(str(path))
        if lock is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = _locks[str(path)] = factory(path, **kwargs)  # type: ignore[arg-type]
        return lock


def _try_lock(fd: int) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # pragma: no cover - Windows
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return True
    except OSError:
        return False


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    else:  # pragma: no cover - Windows
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
