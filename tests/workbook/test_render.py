"""Results -> write plans: only kpibook's columns, typed adjustments kept, located messages."""

from __future__ import annotations

from addin.headless import snapshot_from_xlsx
from server.scoring.engine import score
from server.scoring.model import Problem, ValidationError
from server.workbook.contract import read_tables, to_score_input
from server.workbook.render import (
    MISSING_FILL,
    check_plan,
    problem_text,
    score_plan,
    validation_message,
)
from tests.workbook.books import TEMPLATE_DIR, edited_template


def plan_for(book, lang="zh"):
    tables = read_tables(book)
    inp = to_score_input(tables)
    return score_plan(score(inp, lang=lang), inp, tables, lang), tables


def write_of(plan, name):
    return next(w for w in plan.tables if w.table == name)


def test_plan_writes_only_kpibook_tables_and_columns():
    plan, _ = plan_for(snapshot_from_xlsx(TEMPLATE_DIR / "manufacturing.xlsx"))
    assert {w.table for w in plan.tables} == {"kb_scores", "kb_summary", "kb_adjustments"}
    adjustments = write_of(plan, "kb_adjustments")
    # rows already in order: executives' points and reason are not even written
    assert "points" not in adjustments.columns and "reason" not in adjustments.columns
    summary = write_of(plan, "kb_summary")
    assert summary.columns[4:11] == ["PROD_EFF", "QUALITY", "SALES", "ATTEND", "TEAMWORK",
                                     "SAFETY_AWARD", "QUALITY_INCIDENT"]
    assert summary.number_formats["total"] == "0.00"
    assert summary.cell_fills[(0, "grade")]  # M1001's grade is coloured
    assert "explanation" in write_of(plan, "kb_scores").text_columns
    assert set(plan.meta) == {"scored_at", "engine_version"}


def test_extra_columns_are_left_alone(tmp_path):
    def edit(wb):
        ws = wb["调整"]
        ws["K1"] = "HR 备注"
        ws.tables["kb_adjustments"].ref = "A1:K54"
        ws["K2"] = "keep me"

    plan, tables = plan_for(edited_template(tmp_path, edit))
    assert tables["kb_adjustments"].extra_columns == {"HR 备注": 10}
    assert all("HR 备注" not in w.columns for w in plan.tables)


def test_regenerated_adjustment_rows_keep_typed_points_by_key(tmp_path):
    def edit(wb):
        ws = wb["调整"]
        ws["G2"], ws["H2"] = 1.5, "月度突击任务 / rush order"
        ws.move_range("A2:J3", rows=60)  # shuffle: the first two rows go to the bottom
        ws.move_range("A62:J63", rows=-60 + 52)
        ws.delete_rows(2, 2)

    book = edited_template(tmp_path, edit)
    plan, tables = plan_for(book)
    adjustments = write_of(plan, "kb_adjustments")
    assert adjustments.columns[-2:] == ["points", "reason"]
    row = next(r for r in adjustments.rows if r[0] == "M1001" and r[3] == "PROD_EFF")
    assert row[-2:] == [1.5, "月度突击任务 / rush order"]
    assert row[6] == 32.7  # adjusted = 31.20 + 1.5
    assert adjustments.rows[0][:4] == ["M1001", "张伟", "一车间", "PROD_EFF"]


def test_missing_data_rows_are_amber(tmp_path):
    def edit(wb):
        wb["源数据"]["D2"] = None  # M1001 PROD_EFF: policy block -> no total

    plan, _ = plan_for(edited_template(tmp_path, edit), lang="en")
    summary = write_of(plan, "kb_summary")
    assert summary.rows[0][summary.columns.index("total")] is None
    assert summary.row_fills[0] == MISSING_FILL
    assert write_of(plan, "kb_scores").row_fills[0] == MISSING_FILL


def test_problem_messages_put_the_place_first():
    problem = Problem("kb_data", 7, "数值 / Value", "expected a number: 'abc' is not a number",
                      sheet="源数据", cell="D7")
    assert problem_text(problem, "zh").startswith(
        "工作表“源数据”，第 7 行，列“数值 / Value”，单元格 D7：")
    assert problem_text(problem, "en").startswith(
        "sheet '源数据', row 7, column '数值 / Value', cell D7: ")
    plan = check_plan([problem], "en")
    message, title = plan.alert
    assert "1 problem" in message and "cell D7" in message and title
    text = validation_message(ValidationError([problem] * 40), "zh")
    assert "另有 10 个问题" in text
