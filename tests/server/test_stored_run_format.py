"""Score runs' lines are stored by column (server/services/stored_run.py, the one reader);
migration 0015 rewrites older runs (an object per line) and its downgrade writes them back,
on SQLite and PostgreSQL, with the same values."""

from __future__ import annotations

from alembic import command
from sqlalchemy import select, update

from server import db
from server.db import session_scope
from server.models import ScoreRun
from server.services import stored_run
from tests.web.conftest import make_world


def _stored(app) -> dict:
    with session_scope(app) as s:
        return {r.id: r.lines for r in s.scalars(select(ScoreRun))}


def test_a_run_is_stored_by_column_and_reads_back_as_its_lines(app):
    make_world(app, state="in_review")
    (lines,) = _stored(app).values()
    assert lines["format"] == 2 and lines["fields"] == list(stored_run.FIELDS)
    dicts = stored_run.line_dicts(lines)
    assert [(d["employee_id"], d["indicator"], d["points"]) for d in dicts] == [
        ("M1001", "PROD_EFF", "40.00"), ("M1001", "QUALITY", "50.00"),
        ("M1002", "PROD_EFF", "35.00"), ("M1002", "QUALITY", "50.00")]
    columns = stored_run.line_columns(lines)
    assert columns["points"] == [d["points"] for d in dicts]
    assert stored_run.line_columns(dicts) == columns  # the old shape reads the same
    assert stored_run.line_count(lines) == stored_run.line_count(dicts) == 4


def test_migration_0015_rewrites_old_runs_and_its_downgrade_restores_them(app, db_url):
    make_world(app, state="in_review")
    (run_id, columnar), = _stored(app).items()
    as_rows = stored_run.line_dicts(columnar)
    cfg = db.alembic_config(db_url)
    command.downgrade(cfg, "0016")
    assert _stored(app) == {run_id: as_rows}  # the pre-0015 shape, value for value
    with session_scope(app) as s:  # an old run whose lines are not all lines stays as is
        s.add(ScoreRun(period_id=s.scalar(select(ScoreRun.period_id)), run_no=9,
                       lines=[*as_rows, "not a line"], totals=[]))
    command.upgrade(cfg, "0015")
    stored = _stored(app)
    assert stored[run_id] == columnar
    (odd_id,) = set(stored) - {run_id}
    assert stored[odd_id] == [*as_rows, "not a line"]
    assert stored_run.line_dicts(stored[odd_id]) == [*as_rows, "not a line"]
    with session_scope(app) as s:  # extra keys in an old line survive both ways
        s.execute(update(ScoreRun).where(ScoreRun.id == odd_id)
                  .values(lines=[{**as_rows[0], "note": "x"}]))
    command.downgrade(cfg, "0016")
    command.upgrade(cfg, "0015")
    extra = _stored(app)[odd_id]
    assert extra["format"] == 2
    assert stored_run.line_dicts(extra) == [{**as_rows[0], "note": "x"}]
