"""Sign-in throttling kept in the database, so that every worker process and host counts alike.

Each attempt is counted *before* the password is checked, by one atomic statement per key:

    UPDATE sign_in_throttles SET attempts = attempts + 1, delay = <doubled>, not_before = ...
    WHERE key = :key AND not_before <= :now RETURNING attempts

An attempt that matches no row (the key is waiting out its delay) is refused without looking
at the password; parallel requests cannot all read "no failures yet", because the database
serialises the UPDATEs of one row (SQLite: the write lock; PostgreSQL: the row lock, with the
WHERE clause re-checked on the newest row version). A correct password resets the account's
counters; it cannot reset an address's or the server's.

Keys (docs/security.md, "Brute force"): the account at one address, the address, the account
everywhere, and the whole server. The name is used as typed (case-folded), whether or not such
a user exists, so refusals look the same for known and unknown names.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, delete, literal, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from server.models import SignInThrottle

T = SignInThrottle


@dataclass(frozen=True, slots=True)
class Rule:
    free: int  # attempts within the window before any delay
    base: float  # first delay, seconds; each further attempt doubles it
    cap: float  # longest delay, seconds


def _name(name: str) -> str:
    return name.strip().casefold()[:120]


def account_keys(name: str) -> list[str]:
    """Key prefixes of one account (for HR's unlock and for a successful sign-in)."""
    n = _name(name)
    return [f"acct:{n}", f"acct_ip:{n}|"]


def sign_in_keys(config: Mapping[str, Any], name: str, ip: str) -> list[tuple[str, Rule]]:
    """The keys one password attempt counts against, most specific first."""
    base = float(config["LOGIN_FAILURE_DELAY"])
    n = _name(name)
    return [
        (f"acct_ip:{n}|{ip}", Rule(int(config["LOGIN_MAX_FAILURES"]), base,
                                   float(config["LOGIN_MAX_DELAY"]))),
        (f"ip:{ip}", Rule(int(config["LOGIN_IP_FAILURES"]), base,
                          float(config["LOGIN_MAX_DELAY"]))),
        (f"acct:{n}", Rule(int(config["LOGIN_ACCOUNT_FAILURES"]), base,
                           float(config["LOGIN_ACCOUNT_MAX_DELAY"]))),
        ("all", Rule(int(config["LOGIN_GLOBAL_FAILURES"]), base,
                     float(config["LOGIN_GLOBAL_MAX_DELAY"]))),
    ]


def second_factor_keys(config: Mapping[str, Any], user_id: int) -> list[tuple[str, Rule]]:
    """A one-time code is asked only of someone who knew the password: per account."""
    return [(f"totp:{user_id}", Rule(int(config["LOGIN_MAX_FAILURES"]),
                                     float(config["LOGIN_FAILURE_DELAY"]),
                                     float(config["LOGIN_MAX_DELAY"])))]


@contextlib.contextmanager
def _committed(db: Session) -> Iterator[Connection]:
    """The request's own session and connection (a second connection per request could
    exhaust the pool under a burst), committed at once so that row locks are held briefly."""
    db.commit()
    try:
        yield db.connection()
        db.commit()
    except BaseException:
        db.rollback()
        raise


def _ensure_row(conn: Connection, key: str) -> None:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    conn.execute(insert(T).values(key=key, attempts=0, delay=0.0, not_before=0.0,
                                 window_start=0.0)
                 .on_conflict_do_nothing(index_elements=["key"]))


def count_attempt(db: Session, keys: list[tuple[str, Rule]], window: float,
                  now: float | None = None) -> float | None:
    """Count one attempt against every key, each in its own committed transaction (the
    request's session is committed: call this before changing anything else).

    None: the attempt may go ahead. A number: seconds until the first refusing key allows
    another attempt (nothing further is counted then)."""
    now = time.time() if now is None else now
    for key, rule in keys:
        with _committed(db) as conn:
            _ensure_row(conn, key)
            fresh = T.window_start < now - window  # a new counting window begins
            attempts = case((fresh, literal(1)), else_=T.attempts + 1)
            doubled = case((fresh, literal(0.0)), else_=T.delay * 2)
            first = min(rule.base, rule.cap)
            delay = case((attempts < rule.free, literal(0.0)),
                         (doubled < first, literal(first)),
                         (doubled > rule.cap, literal(rule.cap)),
                         else_=doubled)
            row = conn.execute(
                update(T).where(T.key == key, T.not_before <= now)
                # No delay: not_before 0, not `now` - a request that computed its `now`
                # before waiting for the row lock must not be refused by a later one's.
                .values(attempts=attempts, delay=delay,
                        not_before=case((attempts < rule.free, literal(0.0)),
                                        else_=literal(now) + delay),
                        window_start=case((fresh, literal(now)), else_=T.window_start))
                .returning(T.attempts)).first()
            if row is None:
                not_before = conn.scalar(select(T.not_before).where(T.key == key)) or now
                return max(float(not_before) - now, 0.001)
    return None


def forget_attempt(db: Session, keys: list[tuple[str, Rule]], reset: tuple[str, ...]
                   ) -> None:
    """After a success: keys starting with a `reset` prefix start again from nothing; the
    others (the address, the server) only take this attempt back."""
    with _committed(db) as conn:
        for key, _rule in keys:
            if key.startswith(reset):
                conn.execute(update(T).where(T.key == key).values(
                    attempts=0, delay=0.0, not_before=0.0))
            else:
                conn.execute(update(T).where(T.key == key, T.attempts > 0).values(
                    attempts=T.attempts - 1))


def unlock_account(db: Session, name: str) -> int:
    """HR's unlock: every counter of this account (at every address) is dropped."""
    prefixes = account_keys(name)
    with _committed(db) as conn:
        result = conn.execute(delete(T).where(or_(
            T.key == prefixes[0], T.key.startswith(prefixes[1], autoescape=True))))
    return int(result.rowcount or 0)


def waiting(db: Session, name: str, now: float | None = None) -> bool:
    """Whether any counter of the account is making someone wait (the user's admin page)."""
    now = time.time() if now is None else now
    prefixes = account_keys(name)
    return db.scalar(select(T.key).where(
        or_(T.key == prefixes[0], T.key.startswith(prefixes[1], autoescape=True)),
        T.not_before > now).limit(1)) is not None
