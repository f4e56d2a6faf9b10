"""Freshness of a scored month: when each line's data was last pulled (workbook, task pane,
pages; company time zone) and the restatement preview — what a source's new values would
change, computed by the engine, before HR re-scores with the normal Pull + Score."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from server.db import session_scope
from server.models import InputRecord, Period, ScoreRun, SourceFact, User
from server.services import restatement as restatement_service
from server.services import schedule as schedule_service
from sync.simulators.data import add_deliveries
from tests.sync.test_pull_e2e import MANUFACTURING, blank_book, col, headless, rows, totals

pytestmark = pytest.mark.both_databases
NOW = dt.datetime(2026, 12, 8, 1, 10, tzinfo=dt.UTC)  # 09:10 in Shanghai


@pytest.fixture
def press(client, hr_token):
    h = headless()

    def press(button, path):
        poster = h.flask_poster(client, headers={"Authorization": f"Bearer {hr_token}"})
        return h.run_button(button, path, post=poster)

    return press


@pytest.fixture
def scored(app, tmp_path, press, sources):
    """Manufacturing 2026-10: New period, Pull, Score (the hand-checked totals)."""
    book = blank_book(tmp_path, "manufacturing")
    for button in ("new_period?period=2026-10", "pull", "score"):
        press(button, book)
    assert {e: totals(book)[e] for e in MANUFACTURING} == MANUFACTURING
    return book


def restate_sales(sources, employee_id: str, wan_yuan: str) -> None:
    """The CRM books late deliveries: the month's figure of one salesperson changes."""
    data = sources.data
    staff = "E" + employee_id[1:].rjust(6, "0")
    data.crm_deliveries[:] = [d for d in data.crm_deliveries if d["salesperson"] != staff]
    add_deliveries(data, employee_id, Decimal(wan_yuan))


def _preview(app, name="hr"):
    with session_scope(app) as s:
        period = s.scalar(select(Period).where(Period.code == "2026-10"))
        user = s.scalar(select(User).where(User.name == name))
        return restatement_service.restatement_preview(s, period, user, "zh")


def _stored(app):
    with session_scope(app) as s:
        return (s.scalar(select(func.count()).select_from(ScoreRun)),
                s.scalar(select(func.count()).select_from(InputRecord)))


def test_a_restated_month_is_previewed_then_rescored_by_hr(app, client, scored, press,
                                                           sources, web_login):
    assert _preview(app).values == []  # the sources agree with what was scored
    before = _stored(app)
    # M1001: 450 -> 500 万元 (SALES 0.9 -> 1.0 of target: 18 -> 20 points); M1003: 380 -> 400
    restate_sales(sources, "M1001", "500")
    restate_sales(sources, "M1003", "400")
    ran = schedule_service.run_due_pulls(app, NOW)
    assert [(r.sources, r.state) for r in ran] == [(["erp"], "done"), (["crm"], "done")]
    assert _stored(app) == before  # nothing re-scored, no new record

    preview = _preview(app)
    assert [(v.employee_id, v.indicator, v.old, v.new, v.fetched_by) for v in preview.values] \
        == [("M1001", "SALES", "450", "500", "schedule"),
            ("M1003", "SALES", "380", "400", "schedule")]
    assert [(ln.employee_id, ln.indicator, ln.old_points, ln.new_points)
            for ln in preview.lines] == [("M1001", "SALES", Decimal("18.00"), Decimal("20.00")),
                                         ("M1003", "SALES", Decimal("15.20"), Decimal("16.00"))]
    after = {t.employee_id: (t.before, t.after) for t in preview.totals}
    assert after["M1001"] == (Decimal("89.95"), Decimal("91.95"))
    assert after["M1003"] == (Decimal("50.20"), Decimal("51.00"))

    # the sync page and its JSON show it; still nothing changed on the server
    web_login(client, "hr")
    page = client.get("/sync/2026-10?lang=en").get_data(as_text=True)
    assert 'id="restatement"' in page and "2 scores would change" in page
    assert "89.95" in page and "91.95" in page
    got = client.get("/api/v1/periods/2026-10/restatement").get_json()
    assert (got["scored"], got["values_changed"], got["scores_changed"]) == (True, 2, 2)
    first = got["totals"][0]
    assert (first["employee_id"], first["before"], first["after"]) == ("M1001", "89.95",
                                                                       "91.95")
    assert _stored(app) == before

    # HR decides: Pull (the answer says what Score will change) then Score, the normal path
    result = press("pull", scored)
    alert = "\n".join(m for m, _ in result.alerts)
    assert "2 个得分改变" in alert, alert
    assert "M1001" in alert and "SALES: 450.00 万元 → 500.00 万元" in alert, alert
    press("score", scored)
    got_totals = totals(scored)
    for eid, (_was, now) in after.items():
        assert got_totals[eid] == now, eid  # the engine's preview is what Score gives
    assert _preview(app).values == []


def test_the_preview_is_for_hr_and_audit_only(app, client, scored, sources, web_login):
    """Source facts cover every department (policy: facts.view is HR's and audit's)."""
    restate_sales(sources, "M1001", "500")
    schedule_service.run_due_pulls(app, NOW)
    web_login(client, "head", "dept_head", authority={"departments": ["生产一部"]})
    assert client.get("/api/v1/periods/2026-10/restatement").status_code == 403
    web_login(client, "audit", "auditor")
    got = client.get("/api/v1/periods/2026-10/restatement").get_json()
    assert [v["employee_id"] for v in got["values"]] == ["M1001"]


def test_each_line_says_when_its_data_was_last_pulled(app, client, scored, hr_token,
                                                      sources, web_login):
    schedule_service.run_due_pulls(app, NOW)  # erp and crm again, by the schedule
    with session_scope(app) as s:
        fact = s.scalar(select(SourceFact).where(SourceFact.employee_id == "M1001",
                                                 SourceFact.indicator == "SALES"))
        fetched = fact.fetched_at if fact.fetched_at.tzinfo else \
            fact.fetched_at.replace(tzinfo=dt.UTC)
    local = fetched.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
    # the task pane's selected line
    auth = {"Authorization": f"Bearer {hr_token}"}
    line = client.get("/api/v1/periods/2026-10/lines/M1001/SALES?lang=en",
                      headers=auth).get_json()
    assert line["last_pulled"] == f"pulled {local} UTC+08:00 by schedule"
    assert line["facts"][0]["fetched_at_text"] == f"{local} UTC+08:00"
    # the review page of the cell and the facts page of the line
    web_login(client, "hr")
    cell = client.get("/review/2026-10/cell/M1001?indicator=SALES&lang=en").get_data(
        as_text=True)
    assert f"pulled {local} UTC+08:00 by schedule" in cell
    facts = client.get("/sync/2026-10/facts/M1001/SALES?lang=en").get_data(as_text=True)
    assert f"pulled {local} UTC+08:00 by schedule" in facts


def test_the_workbook_says_when_each_row_was_pulled(app, tmp_path, press, sources):
    book = blank_book(tmp_path, "manufacturing")
    press("new_period?period=2026-10", book)
    press("pull", book)
    with session_scope(app) as s:
        fact = s.scalar(select(SourceFact).where(SourceFact.employee_id == "M1001",
                                                 SourceFact.indicator == "PROD_EFF"))
        fetched = fact.fetched_at if fact.fetched_at.tzinfo else \
            fact.fetched_at.replace(tzinfo=dt.UTC)
    local = fetched.astimezone(dt.timezone(dt.timedelta(hours=8)))
    row = next(r for r in rows(book, "kb_data") if col(r, "工号", "Employee") == "M1001"
               and col(r, "指标", "Indicator") == "PROD_EFF")
    prov = col(row, "出处", "Provenance")
    assert f"获取于 {local:%Y-%m-%d %H:%M} UTC+08:00（hr）" in prov, prov
    shown = col(row, "获取时间", "Fetched")
    shown = shown if isinstance(shown, str) else shown.strftime("%Y-%m-%d %H:%M")
    assert shown == f"{local:%Y-%m-%d %H:%M}"  # the company's time, not UTC


@pytest.fixture
def berlin_config(app_config):
    return {**app_config, "TIMEZONE": "Europe/Berlin"}


def test_times_follow_the_company_zone(berlin_config, sources, tmp_path, db_backend):
    """Another company zone (Europe/Berlin, winter: UTC+01:00): the same stored moment is
    shown in it, and the schedule's slots are its wall-clock times."""
    from server import create_app
    from server.auth import create_token, create_user
    from server.db import get_engine

    app = create_app(berlin_config)
    try:
        with session_scope(app) as s:
            token = create_token(s, create_user(s, "hr", "hr_admin", "HR"), "test")
        client = app.test_client()
        h = headless()
        book = blank_book(tmp_path, "manufacturing")
        poster = h.flask_poster(client, headers={"Authorization": f"Bearer {token}"})
        for button in ("new_period?period=2026-10", "pull", "score"):
            h.run_button(button, book, post=poster)
        # 09:10 UTC+8 is 02:10 in Berlin: erp's 06:30 slot is yesterday's (05:30 UTC)
        ran = schedule_service.run_due_pulls(app, NOW)
        assert [(r.sources, r.slot) for r in ran] == [
            (["erp"], dt.datetime(2026, 12, 7, 5, 30, tzinfo=dt.UTC)),
            (["crm"], dt.datetime(2026, 12, 8, 1, 0, tzinfo=dt.UTC))]
        line = client.get("/api/v1/periods/2026-10/lines/M1001/SALES?lang=en",
                          headers={"Authorization": f"Bearer {token}"}).get_json()
        assert line["last_pulled"].endswith("UTC+01:00 by schedule"), line["last_pulled"]
    finally:
        get_engine(app).dispose()
