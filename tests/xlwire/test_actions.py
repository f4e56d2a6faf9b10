"""plan_to_actions on snapshots: locating, grouping, resizing, formats, fills, meta, errors."""

from __future__ import annotations

import datetime as dt

import pytest

import server.xlwire.actions as actions_module
from server.xlwire.actions import (
    ALLOWED_ACTIONS,
    MAX_ROWS_PER_SETVALUES,
    PlanError,
    error_response,
)
from server.xlwire.plan import TableWrite, WritePlan
from server.xlwire.protocol import parse_payload
from server.xlwire.textsafe import as_text, excel_serial, to_wire


def plan_to_actions(*args, **kwargs):
    return actions_module.plan_to_actions(*args, **kwargs)  # the session-logged wrapper


def _book(values, table_ref="$A$1:$D$4", name="kb_scores", extra_sheets=(), meta=None):
    from server.xlwire.snapshot import RangeRef

    ref = RangeRef.parse(table_ref)
    header = RangeRef(ref.row, ref.col, 1, ref.n_cols)
    body = RangeRef(ref.row + 1, ref.col, ref.n_rows - 1, ref.n_cols) if ref.n_rows > 1 else None
    sheets = [*extra_sheets, {
        "name": "得分明细", "values": values, "pictures": [],
        "tables": [{"name": name, "range_address": table_ref,
                    "header_row_range_address": header.address,
                    "data_body_range_address": body.address if body else None,
                    "total_row_range_address": None, "show_headers": True,
                    "show_totals": False, "table_style": "TableStyleLight9",
                    "show_autofilter": True}],
    }]
    if meta is not None:
        sheets.append({"name": "_kpibook", "values": meta, "pictures": [], "tables": [{
            "name": "kb_meta", "range_address": f"A1:B{len(meta)}",
            "header_row_range_address": "A1:B1", "data_body_range_address": f"A2:B{len(meta)}",
            "total_row_range_address": None, "show_headers": True, "show_totals": False,
            "table_style": "TableStyleLight9", "show_autofilter": True}]})
    return parse_payload({"client": "VBA", "version": "0.37.8",
                          "book": {"name": "b.xlsx", "active_sheet_index": 0, "selection": "A1"},
                          "names": [], "sheets": sheets})


HEADER = ["工号 / Employee ID", "HR 备注", "得分 / Score", "状态 / Status"]
ROWS3 = [HEADER, ["E1", "note", 1, "x"], ["E2", "", 2, "y"], ["E3", "n3", 3, "z"]]


def _funcs(actions):
    return [a["func"] for a in actions]


def test_writes_only_kpibook_columns_grouped_into_runs() -> None:
    book = _book(ROWS3)
    plan = WritePlan(tables=[TableWrite("kb_scores", ["employee_id", "points", "status"],
                                        [["E1", 9.5, "ok"], ["E2", 8, "ok"], ["E3", 7, "ok"]])])
    actions = plan_to_actions(book, plan)
    writes = [a for a in actions if a["func"] == "setValues"]
    assert [(a["start_column"], a["column_count"]) for a in writes] == [(0, 1), (2, 2)]
    assert writes[1]["values"] == [[9.5, "'ok"], [8, "'ok"], [7, "'ok"]]
    assert all(a["start_row"] == 1 and a["sheet_position"] == 0 for a in writes)
    assert "resizeTable" not in _funcs(actions)  # same size: no resize


def test_shrink_resizes_and_clears_leftover_rows() -> None:
    book = _book(ROWS3)
    plan = WritePlan(tables=[TableWrite("kb_scores", ["employee_id"], [["E9"]])])
    actions = plan_to_actions(book, plan)
    assert actions[0]["func"] == "resizeTable" and actions[0]["args"] == [0, "$A$1:$D$2"]
    clear = actions[-1]
    assert clear["func"] == "rangeClear"
    assert (clear["start_row"], clear["row_count"], clear["start_column"],
            clear["column_count"]) == (2, 2, 0, 4)


def test_empty_result_keeps_one_cleared_body_row() -> None:
    book = _book(ROWS3)
    actions = plan_to_actions(book, WritePlan(tables=[TableWrite("kb_scores", ["points"], [])]))
    assert actions[0]["args"] == [0, "$A$1:$D$2"]
    assert {"func": "rangeClearContents", "start_row": 1, "start_column": 2,
            "row_count": 1, "column_count": 1}.items() <= actions[1].items()


def test_growth_refuses_to_swallow_hr_cells_below() -> None:
    values = [*ROWS3, ["", "", "", ""], ["", "HR total here", "", ""]]
    book = _book(values)
    plan = WritePlan(tables=[TableWrite("kb_scores", ["employee_id"],
                                        [[f"E{i}"] for i in range(5)])])
    with pytest.raises(PlanError, match=r"A5:D6 below it are not empty"):
        plan_to_actions(book, plan)
    ok = plan_to_actions(book, WritePlan(tables=[TableWrite("kb_scores", ["employee_id"],
                                                            [[f"E{i}"] for i in range(4)])]))
    assert ok[0]["args"] == [0, "$A$1:$D$5"]


def test_missing_column_is_appended_with_caption() -> None:
    book = _book(ROWS3)
    plan = WritePlan(tables=[TableWrite("kb_scores", ["points", "K01"],
                                        [[1, 2], [3, 4], [5, 6]], captions={"K01": "K01"})])
    actions = plan_to_actions(book, plan)
    assert actions[0]["args"] == [0, "$A$1:$E$4"]
    assert actions[1]["func"] == "setValues" and actions[1]["values"] == [["'K01"]]
    assert (actions[1]["start_row"], actions[1]["start_column"]) == (0, 4)
    # run again on the widened table: the indicator column is found by its caption
    widened = [r + [c] for r, c in zip(ROWS3, ["K01", 2, 4, 6], strict=True)]
    again = plan_to_actions(_book(widened, "$A$1:$E$4"), plan)
    assert "resizeTable" not in _funcs(again)


def test_cells_right_of_table_block_new_column() -> None:
    values = [r + ["", "x" if i == 2 else ""] for i, r in enumerate(ROWS3)]
    plan = WritePlan(tables=[TableWrite("kb_scores", ["K01"], [[1]] * 3,
                                        captions={"K01": "K01"})])
    assert plan_to_actions(_book(values), plan)  # column E is empty: fine
    values = [r + ["x" if i == 2 else ""] for i, r in enumerate(ROWS3)]
    with pytest.raises(PlanError, match="E1:E4 are not empty"):
        plan_to_actions(_book(values), plan)


def test_missing_table_is_an_error_unless_the_plan_creates_it() -> None:
    book = _book(ROWS3, name="something_else")
    write = TableWrite("kb_scores", ["employee_id", "points"], [["E1", 1.0]])
    with pytest.raises(PlanError, match="no table named 'kb_scores' \\(得分明细 / Scores\\)"):
        plan_to_actions(book, WritePlan(tables=[write]))
    actions = plan_to_actions(book, WritePlan(tables=[write], create_missing=frozenset({
        "kb_scores"})))
    assert _funcs(actions)[:3] == ["addSheet", "setValues", "addTable"]
    assert actions[0]["args"] == [1, "得分明细 (2)"]  # the name is taken: made unique
    assert actions[2]["args"] == ["$A$1:$B$2", True, "TableStyleMedium2", "kb_scores"]
    assert actions[-1] == {**actions[-1], "func": "activateSheet", "args": [0]}


def test_formats_and_fills_are_grouped() -> None:
    rows = [[f"E{i}", i, "ok"] for i in range(6)]
    fills = ["#ff0000", "#ff0000", None, "#00ff00", "#00ff00", "#00ff00"]
    plan = WritePlan(tables=[TableWrite(
        "kb_scores", ["employee_id", "points", "status"], rows,
        number_formats={"points": "0.00"}, row_fills=fills,
        cell_fills={(0, "status"): "#0000FF", (1, "status"): "#0000FF"})])
    book = _book([HEADER] + [["", "", "", ""]] * 6, "$A$1:$D$7")
    actions = plan_to_actions(book, plan)
    formats = [a for a in actions if a["func"] == "setNumberFormat"]
    assert [(f["args"], f["start_column"], f["row_count"]) for f in formats] == [
        (["0.00"], 2, 6)]
    colors = [(a["args"][0], a["start_row"], a["row_count"], a["start_column"],
               a["column_count"]) for a in actions if a["func"] == "setRangeColor"]
    assert colors == [("#FF0000", 1, 2, 0, 1), ("#FF0000", 1, 2, 2, 2),
                      ("#00FF00", 4, 3, 0, 1), ("#00FF00", 4, 3, 2, 2),
                      ("#0000FF", 1, 2, 3, 1)]


def test_dates_go_as_serials_with_a_date_format() -> None:
    plan = WritePlan(tables=[TableWrite("kb_scores", ["points"], [[dt.date(2024, 3, 1)]] * 3)])
    actions = plan_to_actions(_book(ROWS3), plan)
    assert actions[0]["values"][0] == [45352]
    assert [a["args"] for a in actions if a["func"] == "setNumberFormat"] == [["yyyy-mm-dd"]]
    assert excel_serial(dt.datetime(2024, 3, 1, 12)) == 45352.5


def test_meta_updates_existing_keys_and_appends_new_ones() -> None:
    meta = [["键 / Key", "值 / Value"], ["format_version", "1"], ["scored_at", "old"]]
    book = _book(ROWS3, meta=meta)
    actions = plan_to_actions(book, WritePlan(meta={"scored_at": "new", "by": "=cmd"}))
    assert _funcs(actions) == ["setValues", "resizeTable", "setValues", "setValues"]
    assert actions[0]["values"] == [["'new"]] and actions[0]["start_row"] == 2
    assert actions[1]["args"] == [0, "$A$1:$B$4"] and actions[1]["sheet_position"] == 1
    assert actions[3]["values"] == [["'=cmd"]]


def test_alert_is_last_and_activate_before_it() -> None:
    plan = WritePlan(tables=[TableWrite("kb_scores", ["points"], [[1]] * 3)],
                     alert=("done", "kpibook"), activate_table="kb_scores")
    actions = plan_to_actions(_book(ROWS3), plan)
    assert _funcs(actions)[-2:] == ["activateSheet", "alert"]
    assert actions[-1]["args"] == ["done", "kpibook", "ok", "info", ""]


def test_every_action_has_the_wire_shape() -> None:
    plan = WritePlan(tables=[TableWrite("kb_scores", ["points", "K9"], [[1, 2]],
                                        row_fills=["#123456"])],
                     meta={"a": "b"}, alert=("x", "y"), activate_table="kb_scores")
    for action in plan_to_actions(_book(ROWS3), plan):
        assert set(action) == {"func", "args", "values", "sheet_position", "start_row",
                               "start_column", "row_count", "column_count"}
        assert isinstance(action["args"], list) and action["func"] in ALLOWED_ACTIONS


def test_text_safety_of_injection_strings() -> None:
    for text in ['=HYPERLINK("http://evil","x")', "+1", "-2", "@SUM(A1)", "\tx", "\r=1",
                 "'quoted", "00123", "2024-01-05", "TRUE"]:
        assert as_text(text) == "'" + text
        assert to_wire(text) == "'" + text
    assert to_wire("") == "" and to_wire(None) == "" and to_wire(float("nan")) == ""


def test_error_response() -> None:
    assert error_response("坏了") == ("坏了", 400, {"Content-Type": "text/plain; charset=utf-8"})
    assert error_response("x", 422)[1] == 422


def test_large_plan_is_split_into_client_sized_writes() -> None:
    """20,000 managers x 10 indicators: 200,000 rows of kb_scores (speed: bench/)."""
    n = 200_000
    rows = [[f"E{i // 10:05d}", f"K{i % 10}", float(i % 97), "ok", "explanation text"]
            for i in range(n)]
    header = ["工号", "指标代码", "得分", "状态", "计算说明"]
    values = [header] + [["", "", "", "", ""]] * 10
    book = _book(values, "$A$1:$E$11")
    plan = WritePlan(tables=[TableWrite(
        "kb_scores", ["employee_id", "indicator", "points", "status", "explanation"], rows,
        number_formats={"points": "0.00"}, row_fills=[None] * n)])
    actions = plan_to_actions(book, plan)
    writes = [a for a in actions if a["func"] == "setValues"]
    assert len(writes) == n // MAX_ROWS_PER_SETVALUES
    assert sum(a["row_count"] for a in writes) == n


def test_cell_fills_are_the_actions_set_range_color_makes() -> None:
    """Differential: the grade cells' colour actions, made straight as dicts, are those of
    `set_range_color` for each run of rows of one colour in one column."""
    import random

    from server.xlwire.actions import _fill_actions, _runs, _Target, set_range_color
    from server.xlwire.plan import TableWrite
    from server.xlwire.snapshot import RangeRef

    rng = random.Random(7)
    n = 60
    write = TableWrite.from_columns("kb_summary", ["employee_id", "grade", "total"],
                                    [[f"E{i}" for i in range(n)], ["A"] * n, [1.0] * n])
    write.cell_fills = {(r, k): rng.choice(["#C6E0B4", "#e2efda", "#DDEBF7"])
                        for r in range(n) for k in ("grade", "total") if rng.random() < 0.7}
    target = _Target(2, 5, {"employee_id": 0, "grade": 3, "total": 4})
    got: list = []
    _fill_actions(write, target, n, got)
    by_cell: dict = {}
    for (row, key), color in write.cell_fills.items():
        by_cell.setdefault((color, target.column_of[key]), []).append(row)
    want = [set_range_color(2, RangeRef(5 + start, col, length, 1), color)
            for (color, col), rows in sorted(by_cell.items())
            for start, length in _runs(sorted(rows))]
    assert got == want and len(want) > 10
