"""The server owns the inputs (docs/records.md): every tampering of issue #13 through the
headless client and the real app — refused with its located cell, or ignored and written
back — with the records unchanged and nothing of the tamperer's stored."""

from __future__ import annotations

import json
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from server.db import session_scope
from server.models import Adjustment, Employee, InputRecord, ScoreRun
from server.services import stored_run

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "workbook_templates" / "manufacturing.xlsx"
H = pytest.importorskip("addin.headless")

# 一车间: M1001, M1004. Everyone else is in another department.
HEAD_AUTHORITY = {"departments": ["一车间"], "max_points": "3"}


@pytest.fixture
def book(tmp_path) -> Path:
    path = tmp_path / "考核.xlsx"
    shutil.copy(TEMPLATE, path)
    return path


@pytest.fixture
def press(client, hr_token):
    def press(button, path, token=hr_token, query=""):
        poster = H.flask_poster(client, headers={"Authorization": f"Bearer {token}"})
        return H.run_button(button + query, path, post=poster)

    return press


@pytest.fixture
def scored(book, press):
    """HR's workbook after New period, Pull and the first Score (the first record)."""
    press("new_period?period=2026-10", book)
    press("pull", book)
    press("score", book)
    return book


def _table(ws_book, name):
    for ws in ws_book.worksheets:
        if name in ws.tables:
            return ws, ws.tables[name]
    raise KeyError(name)


def rows_of(path: Path, name: str) -> list[dict]:
    wb = openpyxl.load_workbook(path)
    ws, table = _table(wb, name)
    cells = [[c.value for c in r] for r in ws[table.ref]]
    return [dict(zip([h.split(" / ")[-1] for h in cells[0]], r, strict=False))
            for r in cells[1:]]


def set_cell(path: Path, name: str, match: dict[str, str], column: str, value) -> None:
    """Type `value` into `column` (English caption) of the row of table `name` matching."""
    wb = openpyxl.load_workbook(path)
    ws, table = _table(wb, name)
    rng = ws[table.ref]
    header = [str(c.value).split(" / ")[-1] for c in rng[0]]
    for row in rng[1:]:
        values = dict(zip(header, (c.value for c in row), strict=False))
        if all(str(values.get(k)) == v for k, v in match.items()):
            row[header.index(column)].value = value
            wb.save(path)
            return
    raise AssertionError(f"no row {match} in {name}")


def remove_person(path: Path, employee_id: str) -> None:
    """Take every row of the employee out of the input tables (moving the rows below up):
    a manager removed from the results."""
    wb = openpyxl.load_workbook(path)
    for name in ("kb_roster", "kb_data", "kb_targets", "kb_adjustments"):
        ws, table = _table(wb, name)
        rows = list(ws[table.ref])
        keep = [[c.value for c in r] for r in rows[1:] if str(r[0].value) != employee_id]
        blank = [[None] * len(rows[0])] * (len(rows) - 1 - len(keep))
        for r, values in zip(rows[1:], keep + blank, strict=True):
            for c, v in zip(r, values, strict=True):
                c.value = v
    wb.save(path)


def state(app) -> dict:
    """What a tampering must not change: the records, the roster, runs' inputs."""
    with session_scope(app) as s:
        return {
            "records": s.scalar(select(func.count()).select_from(InputRecord)),
            "roster": sorted(s.execute(select(Employee.employee_id, Employee.department,
                                              Employee.name)).all()),
            "adjustments": s.scalar(select(func.count()).select_from(Adjustment)),
            "latest_rules": s.scalars(select(InputRecord.rules_digest)
                                      .order_by(InputRecord.id.desc())).first(),
        }


def latest_run(app) -> ScoreRun:
    with session_scope(app) as s:
        run = s.scalar(select(ScoreRun).order_by(ScoreRun.id.desc()).limit(1))
        s.expunge(run)
        return run


def total_of(run: ScoreRun, employee_id: str) -> str:
    return next(t["total"] for t in run.totals if t["employee_id"] == employee_id)


def test_first_score_adopts_the_record_with_who_and_why(app, scored):
    with session_scope(app) as s:
        (row,) = s.scalars(select(InputRecord)).all()
        assert (row.kind, row.created_by) == ("adopted", "hr")
        assert "第一次计算" in row.reason
        assert len(row.payload["employees"]) == 8


def test_moved_manager_is_ignored_and_written_back(app, scored, press, make_token):
    """A department head who moves another department's manager into his own gains
    nothing: the roster of record is unchanged, the manager is not in his answer."""
    head = make_token("zhangwei", "dept_head", HEAD_AUTHORITY)
    before = state(app)
    set_cell(scored, "kb_roster", {"Employee ID": "M1002"}, "Department", "一车间")
    r = press("score", scored, token=head)
    assert state(app)["roster"] == before["roster"]
    assert state(app)["records"] == before["records"]
    assert {row["Employee ID"] for row in rows_of(scored, "kb_roster")} == {"M1001", "M1004"}
    assert "M1002" not in json.dumps(r.actions, ensure_ascii=False)


def test_rules_changed_by_others_are_refused_located(app, scored, press, make_token):
    """Raising Max up or changing Adjustable by is refused at its cell; nothing stored."""
    head = make_token("zhangwei", "dept_head", HEAD_AUTHORITY)
    execu = make_token("gm", "executive", {})
    set_cell(scored, "kb_rules", {"Code": "SALES"}, "Adjustable by", "部门总监")
    set_cell(scored, "kb_rules", {"Code": "PROD_EFF"}, "Max up", 30)
    set_cell(scored, "kb_rules", {"Code": "TEAMWORK"}, "Adjustable by", "部门总监")
    before = state(app)
    runs_before = latest_run(app).run_no
    for token in (head, execu):
        with pytest.raises(H.ServerError) as exc:
            press("score", scored, token=token)
        assert exc.value.status == 422
        text = str(exc.value)
        assert "PROD_EFF" in text and "TEAMWORK" in text
        assert ("最多上调" in text or "Max up" in text) and "P" in text  # the located cell
        with pytest.raises(H.ServerError) as exc:
            press("submit", scored, token=token)
        assert exc.value.status == 422
    assert state(app) == before
    assert latest_run(app).run_no == runs_before


def test_other_departments_data_zeroed_is_ignored(app, scored, press, make_token):
    """An executive's zeroed source value and removed manager change no stored result."""
    execu = make_token("gm", "executive", {})
    before_run = latest_run(app)
    set_cell(scored, "kb_data", {"Employee ID": "M1003", "Indicator": "PROD_EFF"}, "Value", 0)
    remove_person(scored, "M1006")
    r = press("score", scored, token=execu)
    after_run = latest_run(app)
    assert after_run.run_no > before_run.run_no
    assert total_of(after_run, "M1003") == total_of(before_run, "M1003")
    assert "M1006" in {t["employee_id"] for t in after_run.totals}
    alert = "\n".join(m for m, _t in r.alerts)
    assert "M1003 PROD_EFF" in alert and "M1006" in alert
    # written back: the workbook shows the record again
    data = {(row["Employee ID"], row["Indicator"]): row["Value"]
            for row in rows_of(scored, "kb_data")}
    assert data[("M1003", "PROD_EFF")] != 0
    assert "M1006" in {row["Employee ID"] for row in rows_of(scored, "kb_roster")}


def test_department_heads_answer_holds_only_his_people(app, scored, press, make_token):
    head = make_token("zhangwei", "dept_head", HEAD_AUTHORITY)
    with session_scope(app) as s:
        others = {e.employee_id: e.name for e in s.scalars(select(Employee))
                  if e.department != "一车间"}
    r = press("score", scored, token=head)
    body = json.dumps(r.actions, ensure_ascii=False)
    for eid, name in others.items():
        assert eid not in body and name not in body
    for table in ("kb_scores", "kb_summary", "kb_adjustments", "kb_roster", "kb_data",
                  "kb_targets"):
        ids = {row["Employee ID"] for row in rows_of(scored, table) if row["Employee ID"]}
        assert ids <= {"M1001", "M1004"}, table
    # and his workbook still works: he adjusts his own manager
    set_cell(scored, "kb_adjustments", {"Employee ID": "M1001", "Indicator": "PROD_EFF"},
             "Adjustment", 2)
    set_cell(scored, "kb_adjustments", {"Employee ID": "M1001", "Indicator": "PROD_EFF"},
             "Reason", "紧急订单")
    press("submit", scored, token=head)
    with session_scope(app) as s:
        row = s.scalar(select(Adjustment))
        assert (row.employee_id, row.points) == ("M1001", Decimal("2.00"))


def test_hr_rule_change_waits_for_a_reason_then_is_recorded(app, scored, press):
    """HR's workbook differing from the record: Score shows it and scores the record; with a
    reason it is applied, recorded with who and why, and scored."""
    before_run = latest_run(app)
    set_cell(scored, "kb_rules", {"Code": "PROD_EFF"}, "Weight", 35)
    set_cell(scored, "kb_rules", {"Code": "QUALITY"}, "Weight", 20)
    r = press("score", scored)
    alert = "\n".join(m for m, _t in r.alerts)
    assert "PROD_EFF" in alert and "35" in alert and "30" in alert
    pending_run = latest_run(app)
    assert pending_run.rules_digest == before_run.rules_digest  # the record was scored
    with session_scope(app) as s:
        assert s.scalar(select(func.count()).select_from(InputRecord)) == 1

    r = press("score", scored, query="?apply_reason=总经理要求提高生产效率权重")
    with session_scope(app) as s:
        latest = s.scalars(select(InputRecord).order_by(InputRecord.id.desc())).first()
        assert (latest.kind, latest.created_by) == ("applied", "hr")
        assert latest.reason == "总经理要求提高生产效率权重"
        assert {(c["key"][0], c["column"], c["record"], c["workbook"])
                for c in latest.changes} >= {("PROD_EFF", "weight", "30", "35")}
    assert latest_run(app).rules_digest != before_run.rules_digest
    weights = {(line["indicator"]) : line["weight"] for line in stored_run.lines(latest_run(app))
               if line["employee_id"] == "M1001"}
    assert Decimal(weights["PROD_EFF"]) == 35


def test_adjusting_needs_the_first_record(app, book, press, make_token):
    head = make_token("zhangwei", "dept_head", HEAD_AUTHORITY)
    press("new_period?period=2026-10", book)
    with pytest.raises(H.ServerError) as exc:
        press("score", book, token=head)
    assert exc.value.status == 409
    assert "人力资源部" in str(exc.value)


def append_rows(path: Path, name: str, rows: list[list]) -> None:
    """Add rows at the bottom of table `name`, growing the table (as Excel does when HR
    types under it)."""
    from openpyxl.utils import range_boundaries
    from openpyxl.utils.cell import get_column_letter

    wb = openpyxl.load_workbook(path)
    ws, table = _table(wb, name)
    min_col, min_row, max_col, max_row = range_boundaries(table.ref)
    for n, values in enumerate(rows, start=1):
        for c, v in enumerate(values):
            ws.cell(row=max_row + n, column=min_col + c, value=v)
    table.ref = (f"{get_column_letter(min_col)}{min_row}:"
                 f"{get_column_letter(max_col)}{max_row + len(rows)}")
    if table.autoFilter is not None:
        table.autoFilter.ref = table.ref
    wb.save(path)


def test_an_indicator_added_mid_month_is_recomputed_and_in_the_history(
        app, client, scored, press, web_login):
    """The executive asks for 客户复购率 after scoring started: HR adds it (and rebalances
    the weights) with a reason; every total is recomputed, and the records page and the git
    history show the rule change with the totals before and after."""
    from server.services.history import history_for

    before_run = latest_run(app)
    set_cell(scored, "kb_rules", {"Code": "PROD_EFF"}, "Weight", 20)
    append_rows(scored, "kb_rules", [[
        "REPURCHASE", "客户复购率", "定量", 10, "crm", "ratio", 0.3, None, 1.2, None, "%",
        None, None, None, "部门总监", 2, 2, "复购客户 ÷ 客户数"]])
    ids = [row["Employee ID"] for row in rows_of(scored, "kb_roster")]
    append_rows(scored, "kb_data", [
        [eid, "REPURCHASE", "actual", 0.3 + n / 100, "%", "crm", "2026-10", None, None, None]
        for n, eid in enumerate(ids)])
    r = press("score", scored)  # no reason: shown, not applied
    assert "REPURCHASE" in "\n".join(m for m, _t in r.alerts)
    assert latest_run(app).rules_digest == before_run.rules_digest

    reason = "总经理要求增加客户复购率指标"
    press("score", scored, query=f"?apply_reason={reason}")
    after_run = latest_run(app)
    assert {line["indicator"] for line in stored_run.lines(after_run)} >= {"REPURCHASE"}
    changed = [t["employee_id"] for t in after_run.totals
               if t["total"] != total_of(before_run, t["employee_id"])]
    assert changed  # totals were recomputed with the new rule

    web_login(client, "hr", "hr_admin")
    page = client.get("/periods/2026-10/records").get_data(as_text=True)
    assert reason in page and "REPURCHASE" in page and "应用更改" in page
    assert total_of(before_run, changed[0]) in page and total_of(after_run, changed[0]) in page
    history_for(app)  # the history the server writes: its commit messages carry the note
    log = subprocess.run(["git", "-C", app.config["HISTORY_DIR"], "log", "--all",
                          "--format=%B"], capture_output=True, text=True, check=True).stdout
    assert reason in log and "PROD_EFF weight: 30 -> 20" in log and "REPURCHASE" in log
