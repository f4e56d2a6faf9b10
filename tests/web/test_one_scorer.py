"""One scorer, one check (docs/roles.md, "Adjustments"): web adjustments, appeal answers and
reverts are re-scored by the engine from the latest run's input with the adjustments of
record, exactly as Submit is; the authority check is `policy.change_refusals` for all of
them, from records only."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from server.db import session_scope
from server.models import Adjustment, HistoryCommit, Period, ScoreRun
from server.services import stored_run
from tests.web.conftest import (
    OTHER,
    OWN,
    PERIOD,
    csrf_from,
    make_world,
    sign_in,
    store_scores,
    world_input,
    world_rules,
)

pytestmark = pytest.mark.both_databases

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "workbook_templates" / "manufacturing.xlsx"


def _post(client, page_url: str, url: str, **form):
    page = client.get(page_url)
    return client.post(url, data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                  **form})


def _latest(app) -> dict:
    with session_scope(app) as s:
        period = s.scalar(select(Period).where(Period.code == PERIOD))
        run = s.scalar(select(ScoreRun).where(ScoreRun.period_id == period.id)
                       .order_by(ScoreRun.run_no.desc()).limit(1))
        return {"totals": {t["employee_id"]: t for t in run.totals}, "commit": run.commit,
                "kind": run.kind, "lines": {(ln["employee_id"], ln["indicator"]): ln
                                            for ln in stored_run.lines(run)}}


def _stored(app) -> dict[str, int]:
    with session_scope(app) as s:
        return {m.__name__: s.scalar(select(func.count()).select_from(m))
                for m in (ScoreRun, Adjustment, HistoryCommit)}


def _forced():
    from server.scoring.model import GradeQuota, GradingMethod

    return world_rules(grading=GradingMethod.FORCED, bands=(), distribution_group="",
                       quotas=(GradeQuota("A", Decimal("0.5")),
                               GradeQuota("B", Decimal("0.5"))))


def test_forced_grades_follow_web_adjustments_and_reverts(app):
    """Under forced distribution a web adjustment moves grades and ranks as the engine
    does (the old patching scorer left them stale); a revert moves them back."""
    make_world(app, state="scored")
    store_scores(app, PERIOD, world_input(_forced()))
    before = _latest(app)
    assert (before["totals"][OWN]["grade"], before["totals"][OTHER]["grade"]) == ("A", "B")
    hr = app.test_client()
    sign_in(hr, "hr")
    url = f"/periods/{PERIOD}/results/{OTHER}"
    for indicator in ("PROD_EFF", "QUALITY"):
        resp = _post(hr, url, url + "/adjust", indicator=indicator, points="5",
                     reason="复核后上调")
        assert resp.status_code == 302, resp.get_data(as_text=True)
    after = _latest(app)
    assert after["totals"][OTHER]["total"] == "95.00"
    assert (after["totals"][OTHER]["grade"], after["totals"][OTHER]["rank"]) == ("A", 1)
    assert (after["totals"][OWN]["grade"], after["totals"][OWN]["rank"]) == ("B", 2)
    assert after["kind"] == "adjust" and after["commit"]
    assert Decimal(after["lines"][(OTHER, "QUALITY")]["adjustment"]) == 5

    # the history commit carries the engine's totals
    from server.services.history import history_for

    history = history_for(app)
    assert history.head() == after["commit"]
    resp = _post(hr, f"/review/{PERIOD}/submission?commit={after['commit']}",
                 f"/review/{PERIOD}/revert", commit=after["commit"], reason="撤回质量调整")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    reverted = _latest(app)
    assert reverted["kind"] == "revert" and reverted["totals"][OTHER]["total"] == "90.00"
    assert Decimal(reverted["lines"][(OTHER, "QUALITY")]["adjustment"]) == 0


def test_appeal_answer_is_scored_by_the_engine(app):
    make_world(app, state="published")
    store_scores(app, PERIOD, world_input(_forced()))
    hr = app.test_client()
    sign_in(hr, "hr")
    with session_scope(app) as s:
        from server.models import Appeal

        appeal_id = s.scalar(select(Appeal.id).where(Appeal.employee_id == OTHER))
    resp = _post(hr, f"/appeals/{appeal_id}", f"/appeals/{appeal_id}/answer",
                 answer="核实后上调", indicator="PROD_EFF", points="5.5",
                 adjust_reason="停机两天")
    assert resp.status_code == 403  # more than the rules table's +5: nothing stored
    assert "超出规则表允许的调整范围（+5 / -5）" in resp.get_data(as_text=True)
    resp = _post(hr, f"/appeals/{appeal_id}", f"/appeals/{appeal_id}/answer",
                 answer="核实后上调", indicator="PROD_EFF", points="5",
                 adjust_reason="停机两天")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    totals = _latest(app)["totals"]
    assert totals[OTHER]["total"] == "90.00"  # a tie at 90: the engine's forced grades
    assert {totals[OWN]["grade"], totals[OTHER]["grade"]} <= {"A", "B"}
    assert totals[OWN]["rank"] == totals[OTHER]["rank"] == 1


def test_web_adjustment_past_a_line_cap_is_refused_and_stores_nothing(app):
    """The engine's line bounds apply to web adjustments as to Submit: a located refusal,
    nothing stored, and later changes and Scores still work."""
    make_world(app, state="scored")
    store_scores(app, PERIOD, world_input(world_rules(max_up="10")))
    hr = app.test_client()
    sign_in(hr, "hr")
    from server.services.history import history_for

    head = history_for(app).head()
    before = _stored(app)
    url = f"/periods/{PERIOD}/results/{OWN}"
    resp = _post(hr, url, url + "/adjust", indicator="PROD_EFF", points="6", reason="超额")
    text = resp.get_data(as_text=True)
    assert resp.status_code == 400, text
    assert f"{OWN} PROD_EFF" in text and "46.00" in text and "45.00" in text
    assert _stored(app) == before and history_for(app).head() == head
    # a change within the line's bounds is taken; the engine scores the stored input again
    resp = _post(hr, url, url + "/adjust", indicator="PROD_EFF", points="5", reason="超额")
    assert resp.status_code == 302
    assert _latest(app)["totals"][OWN]["total"] == "95.00"
    from server.scoring.engine import score
    from server.services.adjust import web_input
    from server.services.runs import score_with_record

    with session_scope(app) as s:
        period = s.scalar(select(Period).where(Period.code == PERIOD))
        inp = web_input(s, period, "zh")
        trial, result = score_with_record(s, period, inp, "zh")
        assert score(trial, "zh").employees == result.employees


# --- Submit and web adjustment: the same check ------------------------------------------------

OTHER_DEPARTMENT = "该员工不在您的授权部门内"
# (user, authority, employee_id of the user, cell, points, expected reason)
CASES = [
    ("head1", "dept_head", {"departments": ["一车间"], "max_points": "2"}, "",
     ("M1002", "PROD_EFF"), "1", OTHER_DEPARTMENT),
    ("head2", "dept_head", {"departments": ["一车间"], "max_points": "2"}, "",
     ("M1001", "PROD_EFF"), "2.5", "加分超过您的上限 +2 分"),
    ("head3", "dept_head", {"departments": ["一车间"]}, "",
     ("M1001", "TEAMWORK"), "1", "指标 TEAMWORK 只能由 人力资源部 调整"),
    # the workbook says Max up 10; the rules of record say 3
    ("hr2", "hr_admin", {}, "", ("M1001", "PROD_EFF"), "4",
     "超出规则表允许的调整范围（+3 / -3）"),
    ("zhangwei", "dept_head", {"departments": ["一车间"]}, "M1001",
     ("M1001", "PROD_EFF"), "1", "不能调整自己的考核结果"),
]


@pytest.fixture
def scored_book(app, client, tmp_path, make_token):
    if not TEMPLATE.is_file():
        pytest.skip("workbook_templates/manufacturing.xlsx not built yet")
    from addin.headless import flask_poster, run_button

    book = tmp_path / "考核.xlsx"
    shutil.copy(TEMPLATE, book)
    hr = make_token("hr", "hr_admin")
    post = flask_poster(client, headers={"Authorization": f"Bearer {hr}"})
    for button in ("new_period?period=2026-10", "pull", "score"):
        run_button(button, book, post=post)
    code = next(r for r in openpyxl.load_workbook(book)["_kpibook"].iter_rows(values_only=True)
                if r and r[0] == "period")[1]
    return book, code


def _set_cell(book: Path, table: str, match: dict, column: str, value) -> None:
    wb = openpyxl.load_workbook(book)
    for ws in wb.worksheets:
        if table not in ws.tables:
            continue
        ref = ws.tables[table].ref
        rows = list(ws[ref])
        header = [str(c.value).split(" / ")[-1].strip().lower() for c in rows[0]]
        keys = {"employee id": "employee_id", "indicator": "indicator", "code": "code",
                "adjustment": "points", "reason": "reason", "max up": "max_up"}
        col = {keys.get(h, h): i for i, h in enumerate(header)}
        for row in rows[1:]:
            if all(row[col[k]].value == v for k, v in match.items()):
                row[col[column]].value = value
                wb.save(book)
                return
    raise AssertionError(f"no row {match} in {table}")


@pytest.mark.parametrize("name,role,authority,employee_id,cell,points,reason", CASES)
def test_submit_and_web_adjustment_refuse_alike(app, client, scored_book, web_login, name,
                                                 role, authority, employee_id, cell, points,
                                                 reason):
    """The same change through the ribbon's Submit and the web's adjust form gets the same
    refusal from the one check (`policy.change_refusals`), and stores nothing."""
    from addin.headless import ServerError, flask_poster, run_button
    from server import policy
    from server.auth import create_token
    from server.models import User

    book, code = scored_book
    web = app.test_client()
    web_login(web, name, role, authority=authority, employee_id=employee_id)
    with session_scope(app) as s:
        user = s.scalar(select(User).where(User.name == name))
        token = create_token(s, user, "ribbon")
        period = s.scalar(select(Period).where(Period.code == code))
        expected = policy.change_refusals(s, user, period, {cell: Decimal(points)}, "zh")
    assert reason in expected[cell]
    before = _stored(app)

    url = f"/periods/{code}/results/{cell[0]}"
    resp = _post(web, url, url + "/adjust", indicator=cell[1], points=points, reason="理由")
    assert resp.status_code == 403
    web_text = resp.get_data(as_text=True)

    if role == "hr_admin":
        # HR's workbook raises Max up without applying it to the record (no reason given):
        # the check still uses the rules of record (anyone else's differing rule is refused
        # as a whole by the records, docs/records.md)
        _set_cell(book, "kb_rules", {"code": "PROD_EFF"}, "max_up", 10)
    _set_cell(book, "kb_adjustments", {"employee_id": cell[0], "indicator": cell[1]},
              "points", float(points))
    _set_cell(book, "kb_adjustments", {"employee_id": cell[0], "indicator": cell[1]},
              "reason", "理由")
    post = flask_poster(client, headers={"Authorization": f"Bearer {token}"})
    with pytest.raises(ServerError) as exc:
        run_button("submit", book, post=post)
    assert exc.value.status == 403
    for why in expected[cell]:
        assert why in str(exc.value)
        # another department's result cannot even be opened on the web: refused before
        assert why in web_text or (reason == OTHER_DEPARTMENT and "其他部门" in web_text)
    assert _stored(app) == before


def test_an_identical_web_resubmit_is_a_no_op_that_says_so(app):
    """Issue #14: the same web adjustment sent again (a second click, a resent form) records
    nothing — no adjustment row, run or history commit — and the page says so. Before, it
    left an active database row without a git commit, or answered 409."""
    make_world(app, state="scored")
    store_scores(app, PERIOD, world_input(world_rules(max_up="10")))
    hr = app.test_client()
    sign_in(hr, "hr")
    from server.services.history import history_for

    url = f"/periods/{PERIOD}/results/{OWN}"
    first = _post(hr, url, url + "/adjust", indicator="PROD_EFF", points="2", reason="补录")
    assert first.status_code == 302
    head, before = history_for(app).head(), _stored(app)
    again = _post(hr, url, url + "/adjust", indicator="PROD_EFF", points="2.00", reason="补录")
    assert again.status_code == 302
    assert _stored(app) == before and history_for(app).head() == head
    page = hr.get(again.headers["Location"]).get_data(as_text=True)
    assert "未重复记录" in page or "nothing was recorded again" in page
