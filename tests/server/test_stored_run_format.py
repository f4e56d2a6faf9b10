"""Score runs' lines are stored by column (server/services/stored_run.py, the one reader);
migration 0015 rewrites older runs (an object per line) and its downgrade writes them back,
migration 0019's downgrade writes the compact columns (format 3) as plain lists (format 2),
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
    assert lines["format"] == 3 and lines["fields"] == list(stored_run.FIELDS)
    shapes = dict(zip(lines["fields"], lines["columns"], strict=True))
    assert shapes["adjustment"] == {"all": "0"}  # nobody adjusted: one value, stored once
    assert shapes["points"] == {"like": "base_points", "except": []}
    dicts = stored_run.line_dicts(lines)
    assert [(d["employee_id"], d["indicator"], d["points"]) for d in dicts] == [
        ("M1001", "PROD_EFF", "40.00"), ("M1001", "QUALITY", "50.00"),
        ("M1002", "PROD_EFF", "35.00"), ("M1002", "QUALITY", "50.00")]
    columns = stored_run.line_columns(lines)
    assert columns["points"] == [d["points"] for d in dicts]
    assert stored_run.line_columns(dicts) == columns  # the old shape reads the same
    assert stored_run.line_count(lines) == stored_run.line_count(dicts) == 4


def test_migrations_0019_and_0015_downgrade_to_older_shapes_and_back(app, db_url):
    make_world(app, state="in_review")
    (run_id, compact), = _stored(app).items()
    as_rows = stored_run.line_dicts(compact)
    cfg = db.alembic_config(db_url)
    command.downgrade(cfg, "0015")  # format 3 -> format 2, value for value
    (plain,) = _stored(app).values()
    assert plain["format"] == 2 and all(isinstance(c, list) for c in plain["columns"])
    assert stored_run.line_dicts(plain) == as_rows
    assert stored_run.line_columns(plain) == stored_run.line_columns(compact)
    command.downgrade(cfg, "0016")
    assert _stored(app) == {run_id: as_rows}  # the pre-0015 shape, value for value
    with session_scope(app) as s:  # an old run whose lines are not all lines stays as is
        s.add(ScoreRun(period_id=s.scalar(select(ScoreRun.period_id)), run_no=9,
                       lines=[*as_rows, "not a line"], totals=[]))
    command.upgrade(cfg, "0015")
    stored = _stored(app)
    assert stored[run_id] == plain
    (odd_id,) = set(stored) - {run_id}
    assert stored[odd_id] == [*as_rows, "not a line"]
    assert stored_run.line_dicts(stored[odd_id]) == [*as_rows, "not a line"]
    with session_scope(app) as s:  # extra keys in an old line survive both ways
        s.execute(update(ScoreRun).where(ScoreRun.id == odd_id)
                  .values(lines=[{**as_rows[0], "note": "x"}]))
    command.downgrade(cfg, "0016")
    command.upgrade(cfg, "head")
    extra = _stored(app)[odd_id]
    assert extra["format"] == 2  # format 2 runs are read as they are: not rewritten
    assert stored_run.line_dicts(extra) == [{**as_rows[0], "note": "x"}]
    assert _stored(app)[run_id] == plain


def test_every_column_shape_reads_back_as_its_values():
    stored = {"format": 3, "fields": ["employee_id", "indicator", "base_points", "points",
                                      "adjustment", "status"], "n": 3,
              "columns": [{"values": ["M1", "M2"], "index": [0, 0, 1]}, ["A", "B", "A"],
                          ["1", "2", "3"], {"like": "base_points", "except": [[1, "2.5"]]},
                          {"all": "0"}, {"values": ["ok"], "index": [0, 0, 0]}]}
    columns = stored_run.line_columns(stored)
    assert columns["employee_id"] == ["M1", "M1", "M2"]
    assert columns["points"] == ["1", "2.5", "3"] and columns["base_points"] == ["1", "2", "3"]
    assert columns["adjustment"] == ["0"] * 3 and columns["status"] == ["ok"] * 3
    assert columns["explanation"] == [None] * 3  # a field not stored: None on every line
    assert stored_run.line_count(stored) == 3
    assert stored_run.line_dicts(stored)[1] == {
        "employee_id": "M1", "indicator": "B", "base_points": "2", "points": "2.5",
        "adjustment": "0", "status": "ok"}
    assert stored_run.line_dicts({"format": 3, "fields": [], "n": 0, "columns": []}) == []
