"""Workbook -> engine input: located problems for broken workbooks, nothing else."""

from __future__ import annotations

from decimal import Decimal

import pytest

from server.scoring.model import IndicatorKind, MissingPolicy, ValidationError
from server.workbook.contract import read_tables, to_score_input
from server.workbook.schema import DATA, ROSTER, RULES
from tests.workbook.books import edited_template, make_book

RULE_HEADER = ["Code", "Indicator", "Kind", "Weight", "Source", "Rule", "Target", "Parameters"]
ROSTER_HEADER = ["Employee ID", "Name", "Department"]
DATA_HEADER = ["Employee ID", "Indicator", "Value"]


def small_book(rules=None, roster=None, data=None, adjustments=None, headers=None):
    headers = headers or {}
    tables = {
        "kb_rules": (headers.get("kb_rules", RULE_HEADER), rules if rules is not None else [
            ["OUT", "产量", "定量", 60, "erp", "ratio", 100, None],
            ["TEAM", "协作", "定性", 40, "rating", "rating", None, None],
        ]),
        "kb_roster": (headers.get("kb_roster", ROSTER_HEADER), roster if roster is not None else [
            ["E1", "张三", "一车间"], ["E2", "李四", "二车间"],
        ]),
        "kb_data": (headers.get("kb_data", DATA_HEADER), data if data is not None else [
            ["E1", "OUT", 90], ["E1", "TEAM", "A"], ["E2", "OUT", 110], ["E2", "TEAM", "B"],
        ]),
    }
    if adjustments is not None:
        tables["kb_adjustments"] = (["Employee ID", "Indicator", "Adjustment", "Reason"],
                                    adjustments)
    return make_book(tables)


def problems_of(book, lang: str = "en") -> list:
    """Every problem, worded in `lang` (English here: the tests below read English words)."""
    with pytest.raises(ValidationError) as caught:
        to_score_input(read_tables(book, lang=lang), lang=lang)
    return caught.value.problems


def test_a_small_book_converts():
    inp = to_score_input(read_tables(small_book()))
    assert [e.employee_id for e in inp.employees] == ["E1", "E2"]
    assert inp.rules.indicator("OUT").kind is IndicatorKind.QUANTITATIVE
    assert inp.rules.indicator("OUT").params["target"] == Decimal(100)
    assert {(f.employee_id, f.indicator, f.value) for f in inp.facts} >= {
        ("E1", "OUT", Decimal(90)), ("E1", "TEAM", "A")}


def test_missing_table_is_named_with_its_sheet():
    book = small_book()
    book.sheets = [s for s in book.sheets if s.name != RULES.zh]
    problems = problems_of(book)
    assert len(problems) == 1
    assert "kb_rules" in problems[0].message and "考核规则" in problems[0].message


def test_renamed_required_column_names_table_sheet_and_captions():
    header = ["Employee ID", "Name", "Abteilung"]
    problems = problems_of(small_book(headers={"kb_roster": header}))
    assert len(problems) == 1
    p = problems[0]
    assert p.table == "kb_roster" and p.sheet == ROSTER.zh
    assert "部门 / Department" in p.message and "'Department'" in p.message


def test_duplicate_header_is_reported():
    header = ["Employee ID", "Name", "Department", "部门"]
    problems = problems_of(small_book(headers={"kb_roster": header},
                                      roster=[["E1", "张三", "一车间", "一车间"]]))
    assert len(problems) == 1
    assert problems[0].cell == "D1" and "both mean" in problems[0].message


def test_duplicate_employee_ids_name_both_rows():
    problems = problems_of(small_book(roster=[["E1", "张三", "一车间"], ["E1", "李四", "二车间"]],
                                      data=[["E1", "OUT", 90], ["E1", "TEAM", "A"]]))
    assert len(problems) == 1
    p = problems[0]
    assert (p.sheet, p.row, p.cell) == (ROSTER.zh, 3, "A3")
    assert "rows 2 and 3" in p.message


def test_text_in_a_number_cell_names_the_cell_and_85_percent_text_is_accepted():
    data = [["E1", "OUT", "abc"], ["E1", "TEAM", "A"], ["E2", "OUT", "85%"], ["E2", "TEAM", "B"]]
    problems = problems_of(small_book(data=data))
    assert len(problems) == 1
    p = problems[0]
    assert (p.sheet, p.row, p.column, p.cell) == (DATA.zh, 2, "Value", "C2")
    assert "abc" in p.message
    data[0][2] = "85"  # a number typed as text
    inp = to_score_input(read_tables(small_book(data=data)))
    values = {(f.employee_id, f.indicator): f.value for f in inp.facts}
    assert values[("E1", "OUT")] == Decimal(85)
    assert values[("E2", "OUT")] == Decimal("0.85")


def test_excel_error_cell_is_named(tmp_path):
    def edit(wb):
        wb[DATA.zh]["D2"] = "#DIV/0!"

    problems = problems_of(edited_template(tmp_path, edit))
    assert len(problems) == 1
    p = problems[0]
    assert (p.sheet, p.row, p.cell) == (DATA.zh, 2, "D2") and "#DIV/0!" in p.message


def test_nonzero_adjustment_without_reason(tmp_path):
    def edit(wb):
        ws = wb["调整"]
        ws["G2"] = 2  # points on the first generated row, reason left blank
        ws["G3"] = 0  # zero needs no reason

    problems = problems_of(edited_template(tmp_path, edit))
    assert len(problems) == 1
    p = problems[0]
    assert (p.sheet, p.row, p.cell) == ("调整", 2, "H2") and "reason" in p.message


def test_all_problems_come_together_and_nothing_is_converted(tmp_path):
    def edit(wb):
        wb[DATA.zh]["D2"] = "abc"
        wb["调整"]["G5"] = -1
        wb[RULES.zh]["C3"] = "sometimes"  # kind of QUALITY

    problems = problems_of(edited_template(tmp_path, edit))
    assert sorted(p.cell for p in problems) == ["C3", "D2", "H5"]
    assert [p.sheet for p in problems] == [RULES.zh, DATA.zh, "调整"]  # workbook order


@pytest.mark.parametrize("captions", [
    (["指标代码", "指标名称", "类型", "权重", "数据来源", "计分规则", "目标值", "规则参数"],
     ["工号", "姓名", "部门"], ["工号", "指标代码", "数值"]),
    (RULE_HEADER, ROSTER_HEADER, DATA_HEADER),
    ([c.caption for c in RULES.columns if c.key in
      ("code", "name", "kind", "weight", "source", "rule", "target", "params")],
     ["工号 / Employee ID", "姓名 / Name", "部门 / Department"],
     ["工号 / Employee ID", "指标代码 / Indicator", "数值 / Value"]),
], ids=["chinese", "english", "bilingual"])
def test_caption_languages(captions):
    rules, roster, data = captions
    book = small_book(headers={"kb_rules": rules, "kb_roster": roster, "kb_data": data})
    inp = to_score_input(read_tables(book))
    assert len(inp.employees) == 2 and len(inp.facts) == 4


def test_extra_columns_are_reported_as_extra():
    header = ["Employee ID", "Name", "Department", "备注 HR"]
    tables = read_tables(small_book(headers={"kb_roster": header},
                                    roster=[["E1", "张三", "一车间", "x"],
                                            ["E2", "李四", "二车间", None]]))
    assert tables.problems == []
    assert tables["kb_roster"].extra_columns == {"备注 HR": 3}


def test_blank_rows_are_skipped_and_rows_keep_their_excel_numbers():
    roster = [["E1", "张三", "一车间"], [None, "  ", None], ["E2", "李四", "二车间"]]
    frame = read_tables(small_book(roster=roster))["kb_roster"]
    assert frame.excel_rows == [2, 4]
    assert frame.cell(1, "name") == "B4"


def test_chinese_synonyms_for_kinds_policies_and_rules():
    rules = [["OUT", "产量", "定量", 60, "erp", "比率", 100, None],
             ["TEAM", "协作", "定性", 40, "rating", "评级", None, None],
             ["AWARD", "表彰", "加分", None, "manual", "per_item", None, "per=1；cap=3"]]
    header = [*RULE_HEADER, "缺数据处理"]
    book = small_book(rules=[[*r, m] for r, m in zip(rules, ["阻断", "记零", "排除"],
                                                       strict=True)],
                      headers={"kb_rules": header})
    inp = to_score_input(read_tables(book))
    award = inp.rules.indicator("AWARD")
    assert award.kind is IndicatorKind.BONUS and award.missing is MissingPolicy.EXCLUDE
    assert inp.rules.indicator("OUT").rule == "ratio"
    assert inp.rules.indicator("TEAM").missing is MissingPolicy.ZERO


def test_bad_params_cell_and_unknown_rule():
    rules = [["OUT", "产量", "定量", 60, "erp", "ratio", 100, "cap 1.2"],
             ["TEAM", "协作", "定性", 40, "rating", "guess", None, None]]
    problems = problems_of(small_book(rules=rules))
    assert [(p.cell, p.column) for p in problems] == [("H2", "Parameters"), ("F3", "Rule")]
    assert "'cap 1.2' has no '='" in problems[0].message


def test_dates_serial_iso_and_garbage():
    header = [*DATA_HEADER, "获取时间"]
    data = [["E1", "OUT", 90, 46327.5], ["E1", "TEAM", "A", "2026-11-02 08:00"],
            ["E2", "OUT", 110, "yesterday"], ["E2", "TEAM", "B", None]]
    problems = problems_of(small_book(data=data, headers={"kb_data": header}))
    assert [p.cell for p in problems] == ["D4"]
    assert "yesterday" in problems[0].message


def test_engine_problems_are_located():
    rules = [["OUT", "产量", "定量", 50, "erp", "ratio", 100, None],
             ["TEAM", "协作", "定性", 40, "rating", "rating", None, None]]
    data = [["E1", "OUT", 90], ["E1", "TEAM", "E"], ["E2", "OUT", 110], ["E2", "TEAM", "B"]]
    problems = problems_of(small_book(rules=rules, data=data))
    weights = [p for p in problems if p.table == "kb_rules"]
    assert weights and weights[0].sheet == RULES.zh and "90" in weights[0].message
    ratings = [p for p in problems if p.table == "kb_data"]
    assert ratings and (ratings[0].row, ratings[0].cell) == (3, "C3")


def test_unknown_employee_and_indicator_in_data():
    data = [["E1", "OUT", 90], ["E1", "TEAM", "A"], ["E2", "OUT", 110], ["E2", "TEAM", "B"],
            ["E9", "OUT", 1], ["E1", "NOPE", 1]]
    problems = problems_of(small_book(data=data))
    assert [(p.cell, "E9" in p.message or "NOPE" in p.message) for p in problems] == [
        ("A6", True), ("B7", True)]


def test_cell_and_rule_problems_come_in_one_report_in_sheet_order():
    """Issue #14: an off-scale rating used to show up only after 'abc' was fixed."""
    problems = problems_of(small_book(data=[
        ["E1", "OUT", "abc"], ["E1", "TEAM", "Z"], ["E2", "OUT", 110], ["E2", "TEAM", "B"]]))
    texts = [(p.sheet, p.row, p.message) for p in problems]
    assert len(problems) == 2, texts
    assert [p.row for p in problems] == [2, 3]  # sheet and row order
    assert "abc" in problems[0].message and "Z" in problems[1].message


def test_a_cell_problem_does_not_bring_false_followers():
    """A weight that is not a number is one problem: no "weights do not add up to 100" and no
    "no indicator applies" beside it, which only follow from the unreadable cell."""
    problems = problems_of(small_book(rules=[
        ["OUT", "产量", "定量", "abc", "erp", "ratio", 100, None],
        ["TEAM", "协作", "定性", 40, "rating", "rating", None, None]]))
    assert len(problems) == 1, [p.message for p in problems]
    assert "abc" in problems[0].message
