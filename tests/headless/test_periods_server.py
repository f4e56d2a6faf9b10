"""New period and Refresh through a real HTTP server and the `kpibook xl` headless client.

The server is the app on a free port of 127.0.0.1 (werkzeug, threaded); the client is the
`kpibook xl` command with `--server`, which posts real .xlsx files over HTTP. Runs on SQLite
and PostgreSQL (KPIBOOK_TEST_DATABASES).
"""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import openpyxl
import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import func, select

from server.db import session_scope
from server.models import Base, Period, ScoreRun, User

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "workbook_templates" / "manufacturing.xlsx"

pytestmark = [pytest.mark.both_databases,
              pytest.mark.skipif(not TEMPLATE.is_file(), reason="templates not built yet")]

BAD_CODES = {
    "hello world": "is not a period: write a month like 2026-11",
    "2030-13": "the month must be 01 to 12",
    "../../etc/passwd": "is not a period: write a month like 2026-11",
    "2057-02-01 00:00:00": "is not a period: write a month like 2026-11",
    "1999-12": "the year must be 2000 to 2100",
    "2026-Q5": "the quarter must be Q1 to Q4",
}


@pytest.fixture
def book(tmp_path) -> Path:
    path = tmp_path / "考核.xlsx"
    shutil.copy(TEMPLATE, path)
    return path


@pytest.fixture
def xl(live_server):
    """xl(button, path, *options, token=...) -> click Result of `kpibook xl ... --server`."""
    from server.commands import xl as xl_command

    def run(button: str, path: Path, *options: str, token: str):
        return CliRunner().invoke(xl_command, [button, str(path), "--server", live_server,
                                               "--token", token, *options])

    return run


def meta(path: Path) -> dict[str, object]:
    ws = openpyxl.load_workbook(path)["_kpibook"]
    return {r[0]: r[1] for r in ws.iter_rows(min_row=2, values_only=True) if r and r[0]}


def set_meta(path: Path, key: str, value: object) -> None:
    wb = openpyxl.load_workbook(path)
    for row in wb["_kpibook"].iter_rows(min_row=2):
        if row[0].value == key:
            row[1].value = value
    wb.save(path)


def table_rows(path: Path, table: str) -> list[dict]:
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        if table in ws.tables:
            rows = [[c.value for c in r] for r in ws[ws.tables[table].ref]]
            return [dict(zip(rows[0], r, strict=False)) for r in rows[1:]]
    raise KeyError(table)


def column(rows: list[dict], caption_start: str) -> list[object]:
    key = next(k for k in rows[0] if str(k).startswith(caption_start))
    return [r[key] for r in rows]


def row_counts(app) -> dict[str, int]:
    """Rows per table of record; sheet_copies is a cache of what answers wrote into
    workbooks (server/services/sheet_copies.py), which a read-only button also fills."""
    with session_scope(app) as s:
        return {t.name: s.scalar(select(func.count()).select_from(t))
                for t in Base.metadata.sorted_tables if t.name != "sheet_copies"}


def git_state(app) -> str:
    """Every ref and HEAD of the history repository (empty when there is none yet)."""
    repo = Path(app.config["HISTORY_DIR"])
    if not (repo / "HEAD").exists():
        return ""
    out = subprocess.run(["git", f"--git-dir={repo}", "for-each-ref"], capture_output=True,
                         text=True, check=True).stdout
    head = subprocess.run(["git", f"--git-dir={repo}", "rev-parse", "-q", "--verify", "HEAD"],
                          capture_output=True, text=True).stdout
    return out + head


def periods(app) -> list[str]:
    with session_scope(app) as s:
        return list(s.scalars(select(Period.code).order_by(Period.code)))


# --- New period ------------------------------------------------------------------------------


def test_templates_carry_no_period(book):
    assert meta(book)["period"] in (None, "")
    assert set(column(table_rows(book, "kb_data"), "期间")) == {None}
    guide = openpyxl.load_workbook(book)["说明"]["A3"].value
    assert guide.startswith("=") and "_kpibook" in guide and "2026" not in guide


def test_new_period_takes_the_period_from_the_person(app, hr_token, xl, book, live_server):
    # no period given: the client refuses, and so does the server; nothing is created
    refused = xl("new_period", book, token=hr_token)
    assert refused.exit_code == 2 and "--period" in refused.output
    from addin.headless import ServerError, http_poster, run_button

    post = http_poster(f"{live_server}/xl", auth=f"Bearer {hr_token}")
    with pytest.raises(ServerError) as exc:
        run_button("new_period?lang=en", book, post=post)
    assert exc.value.status == 400 and "New period needs the month you choose" in \
        exc.value.message
    assert periods(app) == []

    done = xl("new_period", book, "--period", "2026-11", token=hr_token)
    assert done.exit_code == 0, done.output
    assert "2026-11" in done.output
    assert periods(app) == ["2026-11"]
    assert meta(book)["period"] == "2026-11"
    data = table_rows(book, "kb_data")
    assert len(data) > 50 and set(column(data, "期间")) == {"2026-11"}  # the sample rows follow
    # the month goes on: Pull and Score of November work on the template's rows
    for button in ("pull", "score"):
        result = xl(button, book, token=hr_token)
        assert result.exit_code == 0, result.output
    with session_scope(app) as s:
        assert s.scalar(select(func.count()).select_from(ScoreRun)) == 1


def test_a_disagreeing_kb_meta_period_is_overwritten(app, hr_token, xl, book):
    set_meta(book, "period", "2026-10")  # e.g. last month's workbook, or a hand edit
    result = xl("new_period", book, "--period", "2026-12", "--lang", "en", token=hr_token)
    assert result.exit_code == 0, result.output
    assert "was linked to 2026-10; it is now linked to 2026-12" in result.output
    assert periods(app) == ["2026-12"]
    assert meta(book)["period"] == "2026-12"


def test_a_quarter_is_a_period_too(app, hr_token, xl, book):
    result = xl("new_period", book, "--period", "2026-q4", token=hr_token)
    assert result.exit_code == 0, result.output
    assert periods(app) == ["2026-Q4"] and meta(book)["period"] == "2026-Q4"


@pytest.mark.parametrize("code", list(BAD_CODES))
def test_bad_codes_are_refused_with_the_reason(app, hr_token, xl, book, live_server, code):
    result = xl("new_period", book, "--period", code, "--lang", "en", token=hr_token)
    assert result.exit_code == 1
    assert BAD_CODES[code] in result.output and "(?period=)" in result.output
    zh = xl("new_period", book, "--period", code, "--lang", "zh", token=hr_token)
    assert zh.exit_code == 1 and "不是考核期间" in zh.output
    assert periods(app) == [] and meta(book)["period"] in (None, "")
    # the same code in kb_meta: the other buttons refuse it too, saying where it came from
    set_meta(book, "period", code)
    pulled = xl("pull", book, "--lang", "en", token=hr_token)
    assert pulled.exit_code == 1 and "kb_meta period" in pulled.output
    assert BAD_CODES[code] in pulled.output
    # pages and the API
    auth = {"Authorization": f"Bearer {hr_token}"}
    resp = requests.get(f"{live_server}/api/v1/periods/{quote(code, safe='')}", headers=auth,
                        timeout=30)
    if "/" not in code:  # a slash never reaches the route (404 from the URL map)
        assert resp.status_code == 400 and BAD_CODES[code] in resp.json()["error"]
    assert periods(app) == []


def test_bad_codes_stored_earlier_are_reported_not_crashing(app, web_login, live_server):
    from server.verify import verify

    with session_scope(app) as s:
        for code in BAD_CODES:
            s.add(Period(code=code, template_code="manufacturing", state="draft", lang="zh",
                         rules={}, created_by="legacy"))
    client = app.test_client()
    web_login(client, "hr")
    listing = client.get("/periods?lang=en")
    assert listing.status_code == 200
    assert "These periods have invalid codes" in listing.get_data(as_text=True)
    for path in ("/periods/hello%20world", "/review/2030-13", "/review/2030-13/timeline",
                 "/sync/hello%20world", "/periods/2030-13/export.csv"):
        resp = client.get(path)
        assert resp.status_code == 400, path
        assert "不是考核期间" in resp.get_data(as_text=True)
    assert client.get("/review").status_code == 200
    found, figures = verify(app)
    reported = [d.message for d in found if d.check == "period code"]
    assert len(reported) == len(BAD_CODES) and figures["periods"] == len(BAD_CODES)
    assert any("'2030-13' is not a period: the month must be 01 to 12" in m for m in reported)


def test_the_web_form_and_the_push_api_check_codes(app, web_login):
    from tests.web.conftest import csrf_from

    client = app.test_client()
    web_login(client, "hr")
    page = client.get("/periods").get_data(as_text=True)
    resp = client.post("/periods", data={"code": "2030-13", "csrf_token": csrf_from(page)})
    assert resp.status_code == 400 and "月份须为 01 到 12" in resp.get_data(as_text=True)
    assert periods(app) == []
    ok = client.post("/periods", data={"code": "2026-11", "csrf_token": csrf_from(page)})
    assert ok.status_code == 302 and periods(app) == ["2026-11"]


# --- Refresh ---------------------------------------------------------------------------------


def _user(s, name: str) -> User:
    return s.scalar(select(User).where(User.name == name))


def _scored_and_closed_after_an_appeal(app, make_token, xl, book) -> tuple[str, Decimal]:
    """HR scores 2026-10; the period goes through review and publication; M1001 appeals and HR
    answers with +2 on PROD_EFF (a new stored run); the appeal is confirmed and the period
    closed. Returns (HR's token, M1001's total in the workbook before the appeal)."""
    from server import workflow
    from server.auth import create_user
    from server.services import feedback

    hr_token = make_token("hr", "hr_admin")
    with session_scope(app) as s:
        create_user(s, "m1001", "employee", "M1001", employee_id="M1001")
    for button, options in (("new_period", ("--period", "2026-10")), ("pull", ()),
                            ("score", ())):
        result = xl(button, book, *options, token=hr_token)
        assert result.exit_code == 0, result.output
    before = _total(book, "M1001")
    with app.app_context(), session_scope(app) as s:  # the answer commits to the history
        period = s.scalar(select(Period).where(Period.code == "2026-10"))
        hr, emp = _user(s, "hr"), _user(s, "m1001")
        workflow.transition(s, period, "send_for_review", hr)
        workflow.transition(s, period, "approve", hr)  # KPIBOOK_PERIOD_APPROVERS: HR
        workflow.transition(s, period, "publish", hr, confirmed=True)
        item = feedback.appeal(s, period, emp, "生产效率统计漏了夜班")
        feedback.answer(s, item, hr, "已核实，补加夜班产量", indicator="PROD_EFF", points="2",
                        adjust_reason="申诉：夜班产量漏计")
        feedback.confirm(s, item, emp)
        workflow.transition(s, period, "close", hr, confirmed=True)
        assert period.state == "closed"
    return hr_token, before


def _total(path: Path, employee_id: str) -> Decimal:
    rows = table_rows(path, "kb_summary")
    row = next(r for r in rows if r["工号 / Employee ID"] == employee_id)
    return Decimal(str(row[next(k for k in row if str(k).startswith("总分"))]))


def test_refresh_brings_the_appeal_result_into_a_closed_workbook(app, make_token, xl, book):
    hr_token, before = _scored_and_closed_after_an_appeal(app, make_token, xl, book)
    with session_scope(app) as s:
        latest = s.scalar(select(ScoreRun).order_by(ScoreRun.run_no.desc()))
        assert latest.kind == "adjust"
        record = Decimal(next(t["total"] for t in latest.totals if t["employee_id"] == "M1001"))
    assert record == before + 2
    # Score can no longer bring it: the period is closed
    refused = xl("score", book, token=hr_token)
    assert refused.exit_code == 1
    assert _total(book, "M1001") == before

    counts, history = row_counts(app), git_state(app)
    assert history  # Score committed to the history: there is a head to keep
    result = xl("refresh", book, "--lang", "en", token=hr_token)
    assert result.exit_code == 0, result.output
    assert "nothing was changed on the server" in result.output
    # nothing changed on the server: every table's row count, the git refs, the state
    assert row_counts(app) == counts
    assert git_state(app) == history
    assert periods(app) == ["2026-10"]
    with session_scope(app) as s:
        assert s.scalar(select(Period.state)) == "closed"
    # the workbook now shows the result of record
    assert _total(book, "M1001") == record
    adjustments = table_rows(book, "kb_adjustments")
    appeal = next(r for r in adjustments if r["工号 / Employee ID"] == "M1001"
                  and r["指标代码 / Indicator"] == "PROD_EFF")
    assert Decimal(str(appeal["调整分 / Adjustment"])) == 2
    assert appeal["调整理由 / Reason"] == "申诉：夜班产量漏计"
    scores = table_rows(book, "kb_scores")
    line = next(r for r in scores if r["工号 / Employee ID"] == "M1001"
                and r["指标代码 / Indicator"] == "PROD_EFF")
    assert Decimal(str(line["调整分 / Adjustment"])) == 2
    assert str(meta(book)["period_state"]).lstrip("'") == "closed"
    assert str(meta(book)["last_run"]).lstrip("'") == str(latest.run_no)
    # pressing it again changes nothing either
    assert xl("refresh", book, token=hr_token).exit_code == 0
    assert row_counts(app) == counts and git_state(app) == history


def test_refresh_gives_a_department_head_their_departments_only(app, make_token, xl, book):
    hr_token = make_token("hr", "hr_admin")
    head = make_token("head1", "dept_head", {"departments": ["一车间"]})
    employee = make_token("m1002", "employee")
    nothing = xl("refresh", book, token=hr_token)
    assert nothing.exit_code == 1 and "新建期间" in nothing.output  # not linked yet
    for button, options in (("new_period", ("--period", "2026-10")), ("pull", ())):
        assert xl(button, book, *options, token=hr_token).exit_code == 0
    early = xl("refresh", book, "--lang", "en", token=hr_token)
    assert early.exit_code == 1 and "has no results yet" in early.output
    assert xl("score", book, token=hr_token).exit_code == 0
    counts = row_counts(app)

    refused = xl("refresh", book, token=employee)
    assert refused.exit_code == 1
    result = xl("refresh", book, "--lang", "en", token=head)
    assert result.exit_code == 0, result.output
    assert "6 manager(s) outside your scope were left out" in result.output
    summary = table_rows(book, "kb_summary")
    assert sorted(r["工号 / Employee ID"] for r in summary) == ["M1001", "M1004"]
    assert {r["工号 / Employee ID"] for r in table_rows(book, "kb_scores")} == \
        {"M1001", "M1004"}
    assert row_counts(app) == counts


def test_kpibook_xl_over_http_sends_results_by_digest_and_resends_when_asked(
        app, hr_token, xl, book, caplog):
    """Sheet digests over real HTTP (docs/protocol.md): after Score the output sheets go by
    digest; a total HR typed over makes the server answer 409, `kpibook xl` sends the request
    again with that sheet's values and Submit restores the cell as always."""
    import logging

    for button, *options in (("new_period", "--period", "2026-10"), ("pull",), ("score",)):
        result = xl(button, book, *options, token=hr_token)
        assert result.exit_code == 0, result.output
    stamp = str(meta(book)["sheet_digests"])
    assert "=" in stamp and len(stamp.split("&")) == 4  # data, adjustments, the results

    wb = openpyxl.load_workbook(book)
    ws = next(w for w in wb.worksheets if "kb_summary" in w.tables)
    header = [c.value for c in ws[1]]
    total_col = next(i for i, v in enumerate(header, start=1) if str(v).startswith("总分"))
    was = ws.cell(2, total_col).value
    ws.cell(2, total_col).value = 100
    wb.save(book)

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        result = xl("submit", book, token=hr_token)
    assert result.exit_code == 0, result.output
    statuses = [r.getMessage() for r in caplog.records
                if r.name == "werkzeug" and "/xl/submit" in r.getMessage()]
    assert len(statuses) == 2 and '" 409' in statuses[0] and '" 200' in statuses[1], statuses
    assert openpyxl.load_workbook(book)[ws.title].cell(2, total_col).value == was
