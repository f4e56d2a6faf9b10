"""Locks that serialise read-base -> merge -> commit -> ref update.

GitPython has no locking of its own and its ref updates do not compare the old value, so two
writers on the same parent silently orphan a commit (see docs/history.md). Every writer holds
a `Lock` for the whole read-merge-commit-update sequence; the ref update is additionally a
compare-and-swap, so a writer that bypasses the lock fails loudly instead of losing an edit.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol


class LockTimeout(TimeoutError):
    pass


class Lock(Protocol):
    """Anything with `hold()` returning a context manager that excludes other holders.

    A multi-host deployment plugs in `server.ledger.pglock.PgAdvisoryLock` (a PostgreSQL
    session-level advisory lock), see docs/history.md for its limits.
    """

    def hold(self) -> AbstractContextManager[None]: ...


class FileLock:
    """`flock(2)` on a lock file: excludes other processes *and* other threads.

    flock locks belong to the open file description, so each acquisition opens its own
    descriptor: two threads of one process then exclude each other too (`fcntl.lockf`, a
    POSIX record lock owned by the process, would not). The kernel drops the lock when the
    holder dies, so a crashed writer never leaves the repository locked. Local hosts only.
    """

    def __init__(self, path: str | os.PathLike[str], timeout: float | None = None,
                 poll_interval: float = 0.005) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.poll_interval = poll_interval

    @contextmanager
    def hold(self) -> Iterator[None]:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            self._acquire(fd)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _acquire(self, fd: int) -> None:
        if self.timeout is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"{self.path} held for more than {self.timeout}s") from None
                time.sleep(self.poll_interval)
