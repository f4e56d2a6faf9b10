"""A PostgreSQL advisory lock for several hosts writing one history repository.

`FileLock` (flock) only excludes processes of one host. When several application hosts share
the repository path (a network file system), they exclude each other through a session-level
advisory lock in the database they already share::

    from server.ledger import History
    from server.ledger.pglock import PgAdvisoryLock

    lock = PgAdvisoryLock("postgresql+psycopg://kpibook@db/kpibook", "history:/srv/history.git",
                          timeout=30)
    history = History("/srv/history.git", lock=lock)

Each `hold()` takes its own connection from a small pool (a dedicated session: session-level
advisory locks are re-entrant *within* a session, so two threads must never share one), runs
`pg_advisory_lock(key)` in autocommit mode and `pg_advisory_unlock(key)` when the block ends.
A timeout is enforced by the server through `lock_timeout` (the waiters queue fairly, no
polling); on expiry `LockTimeout` is raised. If the holder dies or its connection drops,
PostgreSQL ends the session and releases the lock; see docs/history.md for what this does and
does not protect.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, PendingRollbackError

from .lock import LockTimeout

_LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE raised when lock_timeout expires


def advisory_key(name: str | int) -> int:
    """A signed 64-bit advisory-lock key: ints as given, text hashed (sha1, first 8 bytes)."""
    if isinstance(name, int):
        if not -(1 << 63) <= name < (1 << 63):
            raise ValueError(f"advisory lock key {name} does not fit in a bigint")
        return name
    return int.from_bytes(hashlib.sha1(name.encode("utf-8")).digest()[:8], "big", signed=True)


class PgAdvisoryLock:
    """`Lock` protocol over `pg_advisory_lock`; excludes threads, processes and hosts.

    `engine_or_url` is an SQLAlchemy `Engine` (PostgreSQL) or a URL; with a URL the lock owns
    a small engine of its own (`pool_pre_ping`, so a connection the server dropped while idle
    is replaced before it is used). `key` is an int (bigint) or a text hashed to one — use the
    same key on every host for one repository, e.g. ``"kpibook-history:" + repo path``.
    `timeout` (seconds, None = wait forever) bounds the wait for the lock.
    """

    def __init__(self, engine_or_url: Engine | str, key: str | int,
                 timeout: float | None = None) -> None:
        if isinstance(engine_or_url, Engine):
            self.engine = engine_or_url
            self._owns_engine = False
        else:
            self.engine = create_engine(engine_or_url, pool_pre_ping=True, pool_size=2,
                                        max_overflow=8)
            self._owns_engine = True
        if self.engine.dialect.name != "postgresql":
            raise ValueError(f"PgAdvisoryLock needs PostgreSQL, not {self.engine.dialect.name}")
        self.key = advisory_key(key)
        self.timeout = timeout

    @contextmanager
    def hold(self) -> Iterator[None]:
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            self._acquire(conn)
            try:
                yield
            finally:
                self._release(conn)
        finally:
            conn.close()

    def _acquire(self, conn: Any) -> None:
        if self.timeout is None:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": self.key})
            return
        ms = max(1, int(self.timeout * 1000))
        conn.execute(text("SELECT set_config('lock_timeout', :t, false)"), {"t": f"{ms}ms"})
        try:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": self.key})
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
                raise LockTimeout(f"advisory lock {self.key} held for more than "
                                  f"{self.timeout}s") from None
            raise
        finally:
            # the connection goes back to the pool: leave no session setting behind
            try:
                conn.execute(text("SELECT set_config('lock_timeout', '0', false)"))
            except (DBAPIError, PendingRollbackError):
                # broken session: the server drops it (and any lock). PendingRollbackError:
                # the lock statement itself failed on a dead connection (a database restart);
                # that error, not this one, must reach the caller (503 "try again", not 500).
                conn.invalidate()

    def _release(self, conn: Any) -> None:
        try:
            released = conn.execute(text("SELECT pg_advisory_unlock(:k)"),
                                    {"k": self.key}).scalar()
        except DBAPIError:
            # The session is gone (network, server restart): PostgreSQL has already released
            # the lock with it. Never return this connection to the pool.
            conn.invalidate()
            raise
        if not released:  # pragma: no cover - would mean the session changed under us
            conn.invalidate()
            raise RuntimeError(f"advisory lock {self.key} was not held at release")

    def dispose(self) -> None:
        """Close pooled connections (only those of an engine this lock created)."""
        if self._owns_engine:
            self.engine.dispose()
