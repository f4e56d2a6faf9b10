"""The cheaper parts of the Flask Score path (issue #3) do what the slower ones did: the JSON
columns' text (orjson) reads back as json.dumps' did, the bulk roster upsert writes the same
rows and counts, and the garbage collector is paused only while a big button runs."""

from __future__ import annotations

import datetime as dt
import enum
import gc
import json
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from server.db import json_text


class Colour(enum.StrEnum):
    RED = "red"


@pytest.mark.parametrize("value", [
    {"a": [1, 2.5, "中文", None, True, False], "nested": {"x": {"y": []}}},
    [{"employee_id": "M001", "points": "12.34", "explanation": "实际 95% ≥ 目标"}],
    {"1": "text", "quote\"and\\slash": "line\nbreak\ttab\u2028"},
    {1: "int key", 2.5: "float key"},  # json.dumps turns keys into text; so does json_text
    2 ** 70,  # beyond 64 bits: json.dumps
    {"k": Colour.RED, "l": [Colour.RED]},  # a str subclass: json.dumps writes its value
    "plain",
    12345678901234567,
    1e16,
])
def test_json_text_reads_back_as_json_dumps(value):
    assert json.loads(json_text(value)) == json.loads(json.dumps(value))


def test_json_text_refuses_what_json_dumps_refuses():
    for value in (dt.date(2026, 10, 1), {1, 2}, object()):
        with pytest.raises(TypeError):
            json.dumps(value)
        with pytest.raises(TypeError):
            json_text(value)


def test_the_engine_uses_json_text(tmp_path):
    from server.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    try:
        assert engine.dialect._json_serializer is json_text
    finally:
        engine.dispose()


def test_remember_employees_inserts_updates_and_counts(app):
    from server.db import session_scope
    from server.models import Employee
    from server.scoring.model import Employee as RosterEntry
    from server.services.roster import remember_employees

    people = [RosterEntry("M1", "张三", "生产部", "经理", "m1@example.com"),
              RosterEntry("M2", "李四", "质量部")]
    with session_scope(app) as s:
        assert remember_employees(s, people) == 2
    with session_scope(app) as s:
        assert remember_employees(s, people) == 0  # nothing changed: nothing written
        held = s.scalar(select(Employee).where(Employee.employee_id == "M2"))
        assert held.department == "质量部"
        moved = [people[0], RosterEntry("M2", "李四", "销售部", "主管"),
                 RosterEntry("M3", "王五", "销售部")]
        assert remember_employees(s, moved) == 2
        # an Employee object the session already held shows the new values
        assert (held.department, held.position) == ("销售部", "主管")
    with session_scope(app) as s:
        rows = {e.employee_id: (e.name, e.department, e.position, e.email, e.manager, e.active)
                for e in s.scalars(select(Employee))}
    assert rows == {"M1": ("张三", "生产部", "经理", "m1@example.com", "", True),
                    "M2": ("李四", "销售部", "主管", "", "", True),
                    "M3": ("王五", "销售部", "", "", "", True)}


def test_gc_paused_during_the_view_and_back_after(app):
    from server.blueprints import xl

    seen = []

    @xl._gc_paused
    def view():
        seen.append(gc.isenabled())
        return "ok"

    @xl._gc_paused
    def failing():
        seen.append(gc.isenabled())
        raise RuntimeError("boom")

    assert gc.isenabled()
    assert view() == "ok"
    with pytest.raises(RuntimeError):
        failing()
    assert seen == [False, False] and gc.isenabled()

    # several threads: the collector resumes only when the last paused request ends
    inside, release = threading.Event(), threading.Event()

    @xl._gc_paused
    def slow():
        inside.set()
        release.wait(10)
        return "slow"

    t = threading.Thread(target=slow)
    t.start()
    assert inside.wait(10)
    assert view() == "ok" and not gc.isenabled()
    release.set()
    t.join(10)
    assert gc.isenabled()

    # a process that runs with the collector off keeps it off
    gc.disable()
    try:
        view()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_dead_connection_at_teardown_keeps_the_answer(app, client, monkeypatch):
    """The database restarted under a request: the session's ROLLBACK at teardown fails on
    the dead connection. The answer the view gave stands (bench/faults.py pg-restart: it was
    the WSGI server's HTML 500) and the connection is dropped, not returned to the pool."""
    import sqlite3

    from flask import Blueprint

    from server.db import get_engine, get_session

    bp = Blueprint("teardown_probe", __name__)

    dialect = get_engine(app).dialect

    def dead(_dbapi_connection):
        raise sqlite3.OperationalError("terminating connection due to administrator command")

    @bp.get("/teardown-probe")
    def probe():
        get_session().execute(select(1))  # a transaction on a pooled connection
        monkeypatch.setattr(dialect, "do_rollback", dead)  # the database goes away
        return "answered", 503

    app.register_blueprint(bp)
    resp = client.get("/teardown-probe")
    assert (resp.status_code, resp.get_data(as_text=True)) == (503, "answered")
    monkeypatch.undo()
    assert client.get("/healthz").status_code in (200, 503)  # the pool still works


def _unsent_row_by_row(wb, rows) -> int:
    """The reference: every kb_adjustments row, one at a time (what `unsent_adjustments`
    replaced)."""
    from server.services import cells as s

    frame = wb.tables.get("kb_adjustments")
    n = 0
    for i in range(len(frame.excel_rows)):
        key = (s.cell_text(frame.value(i, "employee_id")), s.cell_text(frame.value(i, "indicator")))
        typed = s.cell_number(frame.value(i, "points")) or None
        record = rows.get(key)
        if typed != (s.cell_number(record.points) if record is not None else None):
            n += 1
    return n


_key_cells = st.sampled_from(["M1", " M1 ", "M2", 7, 7.0, None, "PROD", "QUAL", " PROD"])
_point_cells = st.sampled_from([None, "", " ", 0, 0.0, 1, 1.5, "2", "x", -3, 2.004])


@settings(max_examples=200, deadline=None)
@given(sheet=st.lists(st.tuples(_key_cells, _key_cells, _point_cells), max_size=12),
       records=st.dictionaries(st.tuples(st.sampled_from(["M1", "M2", "7"]),
                                         st.sampled_from(["PROD", "QUAL"])),
                               st.sampled_from(["1.00", "1.50", "-3.00", "0.00"]), max_size=4))
def test_unsent_counts_as_row_by_row(sheet, records) -> None:
    from types import SimpleNamespace

    from server.services.answer import unsent_adjustments as _unsent
    from server.services.workbook import Workbook
    from server.workbook.contract import read_tables
    from tests.workbook.books import make_book

    header = ["Employee ID", "Name", "Department", "Indicator", "Indicator name", "Points",
              "Reason"]
    book = make_book({"kb_adjustments": (header, [[e, "n", "d", c, "i", p, "r"]
                                                  for e, c, p in sheet])})
    wb = Workbook(book, read_tables(book, ("kb_adjustments",)), {})
    rows = {key: SimpleNamespace(points=points) for key, points in records.items()}
    assert _unsent(wb, rows) == _unsent_row_by_row(wb, rows)
