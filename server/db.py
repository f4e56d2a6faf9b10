"""Database access for the Flask app: one engine per app, one session per request.

Shaped like the Flask tutorial's `get_db`/`close_db`, with SQLAlchemy sessions instead of
sqlite3 connections. The schema is created and changed only by Alembic (`upgrade`), never by
`create_all`, so that production databases and the models cannot drift apart silently.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_EXT = "kpibook.db"


_ORJSON_OPTIONS = (orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
                   | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS)


def json_text(value: object) -> str:
    """The text of a JSON column: orjson, ~5x json.dumps on a score run's 50,000 lines.

    The same JSON value as SQLAlchemy's default `json.dumps(value)`, written compactly and as
    UTF-8 (no ", " / ": " separators, no \\u escapes): equivalent when read back. What orjson
    refuses or would write where json.dumps does not (integers beyond 64 bits, dates,
    dataclasses, subclasses of str/int/dict/list such as enums) goes through json.dumps as
    before, errors included. One difference remains: a float NaN or infinity becomes null
    instead of the NaN token, which is not JSON (PostgreSQL's json type refuses it) and which
    no stored value holds (numbers are stored as strings); and a UUID object, which
    json.dumps refuses, is written as its string."""
    try:
        return orjson.dumps(value, option=_ORJSON_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(value)


def make_engine(url: str, *, foreign_keys: bool = True) -> Engine:
    """An engine for `url`; for SQLite, creates the folder and enforces foreign keys (not
    for migrations: `foreign_keys=False`, see server/migrations/env.py)."""
    parsed = make_url(url)
    kwargs: dict[str, object] = {"json_serializer": json_text}
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:" and not db.startswith("file:"):
            os.makedirs(os.path.dirname(os.path.abspath(db)) or ".", exist_ok=True)
        # Requests run in threads of the dev/HTTPS server; each checks out its own connection.
        kwargs["connect_args"] = {"check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
            cur.close()

    return engine


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions[_EXT] = (engine, sessionmaker(engine, expire_on_commit=False))
    app.teardown_appcontext(close_session)


def get_engine(app: Flask | None = None) -> Engine:
    return (app or current_app).extensions[_EXT][0]


def get_session() -> Session:
    """The request's session (created on first use, closed at teardown)."""
    if "db_session" not in g:
        g.db_session = current_app.extensions[_EXT][1]()
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        # Anything not committed explicitly is rolled back: an error half-way through a
        # button leaves the database as it was.
        try:
            session.close()
        except DBAPIError as exc:
            # The database went away under the request (a restart): its ROLLBACK fails on a
            # dead connection. Nothing was committed; drop the connection rather than let
            # the teardown turn the answer (503 "try again") into the WSGI server's HTML 500
            # (bench/faults.py pg-restart).
            logging.getLogger("kpibook.db").warning(
                "closing the request's session: %s", type(exc.orig).__name__)
            session.invalidate()


@contextmanager
def session_scope(app: Flask) -> Iterator[Session]:
    """A session outside requests (CLI, demo); commits on success, rolls back on error."""
    session = app.extensions[_EXT][1]()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str):
    """An Alembic Config pointing at server/migrations and the given database."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # '%' must be doubled for ConfigParser interpolation (passwords in URLs).
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (default: the latest)."""
    from alembic import command

    make_engine(url).dispose()  # creates the SQLite folder when needed
    command.upgrade(alembic_config(url), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
