"""Alembic migrations: upgrade/downgrade on SQLite and PostgreSQL; head equals the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from server import db
from server.models import Base


def _diff(url: str) -> list:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "compare_server_default": True})
            return compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()


def _roundtrip(url: str) -> None:
    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        assert db.current_revision(engine) == db.head_revision()
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert _diff(url) == [], "models changed without a migration: run kpibook db revision"
    from alembic import command

    command.downgrade(db.alembic_config(url), "base")
    engine = db.make_engine(url)
    try:
        assert not set(Base.metadata.tables) & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    db.upgrade(url)


def test_sqlite_migrations_match_models(tmp_path):
    _roundtrip(f"sqlite:///{tmp_path}/m.sqlite3")


def test_single_head():
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(db.alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1


def test_postgresql_migrations_match_models(pg_url):
    _roundtrip(pg_url)


def test_app_on_postgresql(pg_url, tmp_path):
    """The app works on PostgreSQL: users, tokens, whoami, JSON columns, Decimal points."""
    from decimal import Decimal

    from server import create_app
    from server.auth import create_token, create_user
    from server.db import session_scope
    from server.models import Adjustment, Period

    db.upgrade(pg_url)
    app = create_app({"DATABASE_URL": pg_url, "INSTANCE_PATH": str(tmp_path)})
    with session_scope(app) as s:
        user = create_user(s, "gm", "executive", "总经理", {"departments": ["一车间"]})
        token = create_token(s, user)
        period = Period(code="2026-10", template_code="manufacturing", rules={"a": "1"})
        s.add(period)
        s.flush()
        s.add(Adjustment(period_id=period.id, employee_id="M1001", indicator="PROD_EFF",
                         points=Decimal("1.25"), reason="理由", author="gm"))
    resp = app.test_client().get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"},
                                 base_url="https://localhost")
    assert resp.status_code == 200
    assert resp.json["authority"] == {"departments": ["一车间"]}
    with session_scope(app) as s:
        from sqlalchemy import select

        assert s.scalar(select(Adjustment.points)) == Decimal("1.25")
    db.get_engine(app).dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_health_reports_revision(client, backend):
    assert client.get("/healthz").json["revision"] == db.head_revision()
