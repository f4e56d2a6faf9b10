"""HR scores; two executives submit from copies of one workbook through the headless client;
the git history, diffs, blame, database and totals say exactly what happened."""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select

from server.db import session_scope
from server.models import Adjustment, HistoryCommit, Period, ScoreRun
from server.services import stored_run
from server.services.history import history_for

from .conftest import adjustment_rows, keyed_cells, meta, set_adjustment

pytestmark = pytest.mark.usefixtures("book")


def summary_totals(path) -> dict[str, Decimal]:
    from server.workbook.schema import SUMMARY

    _ws, rows = keyed_cells(openpyxl.load_workbook(path), "kb_summary", SUMMARY)
    return {d["employee_id"].value: Decimal(repr(d["total"].value)).quantize(Decimal("0.01"))
            for d in rows if d["employee_id"].value and d["total"].value is not None}


def git(app, *args: str) -> str:
    return subprocess.run(["git", f"--git-dir={app.config['HISTORY_DIR']}", *args],
                          check=True, capture_output=True, text=True).stdout


@pytest.fixture
def scored(app, book, press, hr_token):
    for button in ("new_period?period=2026-10", "pull", "score"):
        press(button, book, hr_token)
    return book


def test_two_executives_merge_conflict_and_blame(app, scored, tmp_path, press, make_token):
    wang = make_token("wang", "executive", display_name="王总")
    li = make_token("li", "executive", display_name="李总")
    history = history_for(app)
    [base_info] = history.timeline("2026-10", kind="baseline")
    baseline = base_info.commit
    # the workbook is based on the baseline (the status commit "scored" after it changes
    # no cell)
    assert meta(scored)["base_version"] == baseline
    assert base_info.author.name == "人力资源部 李娜"
    before = summary_totals(scored)

    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    shutil.copy(scored, a)
    shutil.copy(scored, b)
    set_adjustment(a, "M1001", "PROD_EFF", 2, "紧急订单\n见邮件 10/28")
    set_adjustment(a, "M1003", "PROD_EFF", -1, "返工")
    set_adjustment(b, "M1001", "PROD_EFF", 1, "另一个理由")  # overlaps a, differently
    set_adjustment(b, "M1004", "PROD_EFF", 1.5, "=HYPERLINK(\"x\")")  # untrusted text

    ra = press("submit", a, wang)
    assert "接受 2，拒绝 0，冲突 0" in ra.alerts[0][0]
    [first] = [c.commit for c in history.timeline("2026-10", kind="adjustment")]
    assert meta(a)["base_version"] == first

    rb = press("submit", b, li)
    text = rb.alerts[0][0]
    assert "接受 1，拒绝 0，冲突 1" in text
    # the conflict names both values and who made the first
    assert "王总" in text and "+2.00" in text and "+1.00" in text
    rows = adjustment_rows(b)
    m1001 = rows[("M1001", "PROD_EFF")]
    assert m1001["points"].value == 2 and m1001["reason"].value == "紧急订单\n见邮件 10/28"
    assert "王总" in m1001["status"].value and "+1.00" in m1001["status"].value
    assert m1001["status"].fill.fgColor.rgb.endswith("FFD966")
    # b's workbook now shows a's other edit too (authoritative) and its own accepted one
    assert rows[("M1003", "PROD_EFF")]["points"].value == -1
    assert rows[("M1004", "PROD_EFF")]["reason"].value == "=HYPERLINK(\"x\")"  # text, kept
    assert rows[("M1004", "PROD_EFF")]["reason"].data_type == "s"
    second = history.timeline("2026-10", kind="adjustment")[0].commit
    assert meta(b)["base_version"] == second

    # git: one commit per submission, author = committer = the editor, trailers
    log = git(app, "log", "--grep=^Kind: adjustment", "--grep=^Kind: baseline",
              "--format=%an|%cn|%(trailers:key=Kind,valueonly,separator=)|"
                         "%(trailers:key=Submission-Id,valueonly,separator=)|"
                         "%(trailers:key=Base,valueonly,separator=)")
    lines = [ln.split("|") for ln in log.strip().splitlines()]
    assert [(ln[0], ln[1], ln[2]) for ln in lines[:2]] == [
        ("李总", "李总", "adjustment"), ("王总", "王总", "adjustment")]
    assert lines[0][4] == baseline and lines[1][4] == baseline  # both edited the baseline
    assert ("人力资源部 李娜", "人力资源部 李娜", "baseline") in [tuple(x[:3]) for x in lines]
    message = git(app, "log", "-1", "--format=%B", first)
    assert "Reason: \"紧急订单\\n见邮件 10/28\"" in message

    # blame per cell
    versions = history.cell_history("2026-10", "M1001", "PROD_EFF")
    assert [(v.value.points, v.change.author.name) for v in versions] == [
        (Decimal("2.00"), "王总")]
    # diff baseline..head: exactly the three accepted cells
    diff = history.diff("2026-10", baseline, second)
    assert {(c.employee_id, c.indicator, c.new.points, c.changed_by.editor.name)
            for c in diff.cells} == {("M1001", "PROD_EFF", Decimal("2.00"), "王总"),
                                     ("M1003", "PROD_EFF", Decimal("-1.00"), "王总"),
                                     ("M1004", "PROD_EFF", Decimal("1.50"), "李总")}

    # database: keyed by submission id, nothing lost, nothing twice
    with session_scope(app) as s:
        active = s.scalars(select(Adjustment).where(Adjustment.status == "active")).all()
        got = {(r.employee_id, r.points, r.author, r.commit) for r in active}
        assert got == {("M1001", Decimal("2.00"), "wang", first),
                       ("M1003", Decimal("-1.00"), "wang", first),
                       ("M1004", Decimal("1.50"), "li", second)}
        ids = {c.submission_id: c.commit for c in s.scalars(select(HistoryCommit))}
        assert ids[lines[0][3]] == second and ids[lines[1][3]] == first
        run = s.scalar(select(ScoreRun).order_by(ScoreRun.run_no.desc()).limit(1))
        assert (run.kind, run.commit, run.base_commit) == ("submit", second, baseline)
        assert s.scalar(select(Period)).state == "in_review"

    # totals: the engine's, with all three adjustments of record
    after = summary_totals(b)
    assert after["M1001"] - before["M1001"] == Decimal("2.00")
    assert after["M1004"] - before["M1004"] == Decimal("1.50")
    assert after["M1003"] - before["M1003"] == Decimal("-1.00")
    assert all(after[e] == before[e] for e in before if e not in ("M1001", "M1004", "M1003"))
    totals = {t["employee_id"]: Decimal(t["total"]) for t in run.totals}
    assert totals == after

    # a's executive submits the unchanged workbook again: nothing to submit, no commit
    press("submit", b, wang)
    assert history.timeline("2026-10", kind="adjustment")[0].commit == second


def test_authority_and_missing_reason_are_rejected_per_cell(app, scored, press, make_token,
                                                           tmp_path):
    zhao = make_token("zhao", "executive", {"departments": ["一车间"], "max_points": "2"},
                      display_name="赵总")
    shared = tmp_path / "shared.xlsx"  # HR's workbook as it was, for the second part
    shutil.copy(scored, shared)
    set_adjustment(scored, "M1001", "PROD_EFF", 1, "一车间，准")  # accepted
    set_adjustment(scored, "M1004", "QUALITY", 1, None)  # no reason
    set_adjustment(scored, "M1002", "PROD_EFF", -1, "二车间不归我管")  # outside departments
    r = press("submit", scored, zhao)
    alert = r.alerts[0][0]
    assert "接受 1，拒绝 2，冲突 0" in alert
    assert "M1002 PROD_EFF" in alert and "部门" in alert
    rows = adjustment_rows(scored)
    # the answer holds only his department (docs/records.md): M1002's row is gone, and with
    # it nothing of 二车间's is left in his workbook
    assert {eid for eid, _code in rows} == {"M1001", "M1004"}
    no_reason = rows[("M1004", "QUALITY")]
    # refused, not erased: what he typed stays, marked with why (docs/workbook.md, Submit)
    assert no_reason["points"].value == 1 and "理由" in no_reason["status"].value
    assert no_reason["points"].fill.fgColor.rgb.endswith("F8CBAD")
    # his allowed range on every line: his +-2 within the rules' limits
    assert rows[("M1001", "PROD_EFF")]["allowed"].value == "-2.00 … +2.00"
    assert rows[("M1001", "SALES")]["allowed"].value == "-2.00 … +2.00"
    assert rows[("M1001", "TEAMWORK")]["allowed"].value.startswith("—")  # HR's indicator
    assert rows[("M1001", "PROD_EFF")]["points"].value == 1
    assert "已接受" in rows[("M1001", "PROD_EFF")]["status"].value
    with session_scope(app) as s:
        assert [(a.employee_id, a.author) for a in s.scalars(select(Adjustment))] == [
            ("M1001", "zhao")]

    # only refused cells: as before, 403 and nothing stored (all-or-nothing when nothing
    # of the submission can be taken)
    head = history_for(app).head()
    set_adjustment(shared, "M1002", "PROD_EFF", -1, "二车间不归我管")
    from addin.headless import ServerError

    with pytest.raises(ServerError) as exc:
        press("submit", shared, zhao)
    assert exc.value.status == 403
    assert "M1002 PROD_EFF" in exc.value.message and "单元格 G" in exc.value.message
    assert history_for(app).head() == head


def test_typed_over_computed_cell_is_restored_and_explained(app, scored, press, hr_token):
    from server.workbook.schema import SUMMARY

    wb = openpyxl.load_workbook(scored)
    ws, rows = keyed_cells(wb, "kb_summary", SUMMARY)
    row = rows[0]
    eid, was = row["employee_id"].value, row["total"].value
    row["total"].value = 100
    address = row["total"].coordinate
    sheet = ws.title
    wb.save(scored)
    r = press("submit", scored, hr_token)
    text = r.alerts[0][0]
    assert address in text and sheet in text and "kb_adjustments" in text
    assert summary_totals(scored)[eid] == Decimal(repr(was)).quantize(Decimal("0.01"))
    assert history_for(app).timeline("2026-10", kind="adjustment") == []


def test_rescore_status_and_revert_commits(app, scored, press, hr_token, make_token,
                                           web_login):
    history = history_for(app)
    wang = make_token("wang", "executive", display_name="王总")
    set_adjustment(scored, "M1004", "PROD_EFF", 3, "超额")
    press("submit", scored, wang)
    adj = history.timeline("2026-10", kind="adjustment")[0].commit

    # the Submit's commit already carries the recomputed lines and totals, so a re-score
    # with the same data and the adjustments of record changes nothing: no rescore commit
    assert history.state_at(adj, "2026-10").scores[("M1004", "PROD_EFF")].adjustment == 3
    set_adjustment(scored, "M1006", "PROD_EFF", 1, "打了但没提交")
    r = press("score", scored, hr_token)
    assert "1 项未提交" in r.alerts[-1][0]
    assert adjustment_rows(scored)[("M1006", "PROD_EFF")]["points"].value is None
    assert history.timeline("2026-10", kind="rescore") == []
    state = history.state_at(None, "2026-10")
    assert state.scores[("M1004", "PROD_EFF")].adjustment == Decimal("3.00")
    assert state.scores[("M1006", "PROD_EFF")].adjustment == 0  # never submitted

    # workflow moves: approve and reopen (with its reason) are commits by the person
    hr, gm = app.test_client(), app.test_client()
    web_login(hr, "hr")
    web_login(gm, "gm", role="executive", display_name="总经理 王强")
    app.config["PERIOD_APPROVERS"] = ("executive",)  # this deployment: executives approve
    for client, form in ((gm, {"action": "approve"}),
                         (hr, {"action": "reopen", "to_state": "in_review",
                               "reason": "总经理要求复核"})):
        from tests.web.conftest import csrf_from

        page = client.get("/periods/2026-10").get_data(as_text=True)
        assert client.post("/periods/2026-10/transition",
                           data={**form, "csrf_token": csrf_from(page)}).status_code == 302
    kinds = [(c.kind, c.author.name) for c in history.timeline("2026-10", limit=2)]
    assert kinds == [("reopen", "人力资源部 李娜"), ("approval", "总经理 王强")]
    assert history.status("2026-10")["reason"] == "总经理要求复核"

    # revert: one commit, reasons kept, the DB row superseded, totals recomputed
    from server.auth import current_user  # noqa: F401 - the service takes a User row
    from server.models import User
    from server.services.adjust import revert_submission

    with app.test_request_context(), session_scope(app) as s:
        user = s.scalar(select(User).where(User.name == "hr"))
        period = s.scalar(select(Period))
        out = revert_submission(s, period, adj, user, "误操作，撤销", "zh")
    assert out.commit == history.head()
    info = history.commit_info(out.commit)
    assert (info.kind, info.reverts, info.author.name) == ("revert", adj, "人力资源部 李娜")
    with session_scope(app) as s:
        assert s.scalars(select(Adjustment).where(Adjustment.status == "active")).all() == []
        run = s.scalar(select(ScoreRun).order_by(ScoreRun.run_no.desc()).limit(1))
        assert run.kind == "revert" and run.commit == out.commit
        line = next(x for x in stored_run.lines(run)
                    if (x["employee_id"], x["indicator"]) == ("M1004", "PROD_EFF"))
        assert Decimal(line["adjustment"]) == 0


def test_web_adjustment_is_a_history_commit(app, scored, web_login):
    from tests.web.conftest import csrf_from

    history = history_for(app)
    hr = app.test_client()
    web_login(hr, "hr")
    page = hr.get("/periods/2026-10/results/M1005").get_data(as_text=True)
    r = hr.post("/periods/2026-10/results/M1005/adjust", data={
        "indicator": "PROD_EFF", "points": "1.25", "reason": "网页调整理由",
        "csrf_token": csrf_from(page)})
    assert r.status_code == 302
    [info] = history.timeline("2026-10", kind="adjustment")
    assert info.author.name == "人力资源部 李娜"
    assert [(c.employee_id, c.indicator, c.new, c.reason) for c in info.cells] == [
        ("M1005", "PROD_EFF", Decimal("1.25"), "网页调整理由")]
    with session_scope(app) as s:
        row = s.scalar(select(Adjustment).where(Adjustment.status == "active"))
        assert (row.commit, row.submission_id) == (info.commit, info.submission_id)
