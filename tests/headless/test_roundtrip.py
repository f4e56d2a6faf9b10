"""Headless round trips on real .xlsx files: only kpibook's cells change, byte for byte."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pytest
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table, TableStyleInfo

import server.xlwire.actions as actions_module
from addin.headless import (
    ServerError,
    apply_actions,
    run_button,
    snapshot_from_xlsx,
    workbook_to_payload,
)
from server.xlwire.plan import TableWrite, WritePlan
from server.xlwire.protocol import parse_payload
from server.xlwire.snapshot import RangeRef

INJECTIONS = ['=HYPERLINK("http://evil.example","click")', "+1", "-2", "@SUM(A1)",
              "=1+1", "\t=cmd", "'quoted", "00123"]


def plan_to_actions(*args, **kwargs):
    return actions_module.plan_to_actions(*args, **kwargs)  # the session-logged wrapper


def _table(ws, name: str, ref: str) -> None:
    table = Table(displayName=name, ref=ref)
    table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    ws.add_table(table)


def build_workbook(path: Path, n_rows: int = 4) -> Path:
    wb = openpyxl.Workbook()
    intro = wb.active
    intro.title = "说明"
    intro["A1"] = "HR 的说明页"
    intro["A1"].font = Font(bold=True, color="FF0000")
    intro["A2"].fill = PatternFill("solid", fgColor="FFFF00")
    intro["A2"] = dt.datetime(2024, 3, 1, 8, 30)
    intro["A3"].comment = Comment("HR note", "HR")
    intro["B3"] = "=A2+1"
    intro.merge_cells("C1:D2")

    scores = wb.create_sheet("得分明细")
    scores["B1"] = "2024 年一季度考核"
    header = ["工号 / Employee ID", "HR 备注", "得分 / Score", "状态 / Status", "HR 公式"]
    for c, caption in enumerate(header, start=2):
        scores.cell(3, c, caption)
    for i in range(n_rows):
        scores.cell(4 + i, 2, f"E{i:03d}")
        scores.cell(4 + i, 3, f"备注 {i}")
        scores.cell(4 + i, 4, i * 1.5)
        scores.cell(4 + i, 5, "old")
        scores.cell(4 + i, 6, f"=D{4 + i}*2")
        scores.cell(4 + i, 3).fill = PatternFill("solid", fgColor="DDEBF7")
    scores["C4"].comment = Comment("备注的批注", "HR")
    _table(scores, "kb_scores", f"B3:F{3 + n_rows}")
    validation = DataValidation(type="list", formula1='"A,B,C"')
    validation.add(f"C4:C{3 + n_rows}")
    scores.add_data_validation(validation)
    scores["H3"] = "HR side table"

    summary = wb.create_sheet("汇总")
    summary["A1"] = "合计"
    summary["B1"] = f"=SUM(得分明细!D4:D{3 + n_rows})"
    summary["B1"].number_format = "0.00"

    locked = wb.create_sheet("Protected")
    locked["A1"] = "locked"
    locked.protection.sheet = True
    locked.protection.password = "hr"

    hidden = wb.create_sheet("Hidden")
    hidden["A1"] = 42
    hidden.sheet_state = "hidden"

    wb.create_sheet("_kpibook")
    meta = wb["_kpibook"]
    meta.append(["键 / Key", "值 / Value"])
    meta.append(["format_version", "1"])
    _table(meta, "kb_meta", "A1:B2")
    wb.defined_names["kb_anchor"] = openpyxl.workbook.defined_name.DefinedName(
        "kb_anchor", attr_text="'得分明细'!$B$3")
    wb.save(path)
    return path


def _touched_cells(actions: list[dict], wb) -> set[tuple[str, int, int]]:
    """(sheet, row, col), 1-based, of every cell an action names."""
    cells = set()
    for a in actions:
        if a["start_row"] is None:
            continue
        title = wb.worksheets[a["sheet_position"]].title
        for r in range(a["start_row"] + 1, a["start_row"] + a["row_count"] + 1):
            for c in range(a["start_column"] + 1, a["start_column"] + a["column_count"] + 1):
                cells.add((title, r, c))
    return cells


def _cell_state(cell) -> tuple:
    return (cell.value, cell.data_type, cell.number_format, repr(cell.font), repr(cell.fill),
            repr(cell.border), repr(cell.alignment), repr(cell.protection), cell.quotePrefix,
            cell.comment.text if cell.comment else None)


def _assert_unchanged_outside(before_path: Path, after_path: Path, touched: set) -> None:
    before, after = openpyxl.load_workbook(before_path), openpyxl.load_workbook(after_path)
    for ws in before.worksheets:
        other = after[ws.title]
        for row in ws.iter_rows():
            for cell in row:
                if (ws.title, cell.row, cell.column) in touched:
                    continue
                assert _cell_state(cell) == _cell_state(other[cell.coordinate]), \
                    (ws.title, cell.coordinate)
        assert repr(ws.protection) == repr(other.protection)
        assert [str(v.sqref) for v in ws.data_validations.dataValidation] == \
            [str(v.sqref) for v in other.data_validations.dataValidation]
        assert sorted(map(str, ws.merged_cells.ranges)) == \
            sorted(map(str, other.merged_cells.ranges))
        assert ws.sheet_state == other.sheet_state
        for name, table in ws.tables.items():
            if name not in ("kb_scores", "kb_meta"):
                assert other.tables[name].ref == table.ref
    assert [ws.title for ws in before.worksheets] == [ws.title for ws in after.worksheets]
    assert set(before.defined_names) == set(after.defined_names)


def _round_trip(tmp_path: Path, plan: WritePlan, n_rows: int = 4):
    src = build_workbook(tmp_path / "kpi.xlsx", n_rows)
    book = snapshot_from_xlsx(src)
    actions = plan_to_actions(book, plan)
    wb = openpyxl.load_workbook(src)
    alerts: list = []
    apply_actions(wb, actions, alerts)
    out = tmp_path / "out.xlsx"
    wb.save(out)
    return src, out, actions, alerts


def _score_plan(n: int, statuses=None) -> WritePlan:
    rows = [[f"E{i:03d}", float(i), (statuses or ["ok"] * n)[i]] for i in range(n)]
    return WritePlan(
        tables=[TableWrite("kb_scores", ["employee_id", "points", "status"], rows,
                           number_formats={"points": "0.00"},
                           row_fills=["#FCE4B6" if i % 2 else None for i in range(n)],
                           text_columns=frozenset({"employee_id", "status"}))],
        meta={"scored_at": "2024-04-01T00:00:00Z"}, alert=("完成", "kpibook"),
        activate_table="kb_scores")


def test_snapshot_of_a_real_file(tmp_path: Path) -> None:
    book = snapshot_from_xlsx(build_workbook(tmp_path / "kpi.xlsx"))
    assert [s.name for s in book.sheets] == ["说明", "得分明细", "汇总", "Protected", "Hidden",
                                              "_kpibook"]
    sheet, table = book.find_table("kb_scores")
    assert table.range == RangeRef.parse("B3:F7") and table.body == RangeRef.parse("B4:F7")
    assert sheet.cell(3, 1) == "E000" and sheet.cell(4, 3) == 1.5
    assert sheet.cell(3, 5) is None  # formula without a cached value: openpyxl wrote it
    assert book.sheets[0].cell(1, 0) == dt.datetime(2024, 3, 1, 8, 30)
    assert book.sheets[4].cell(0, 0) == 42  # hidden sheets are sent too
    assert [(n.name, n.sheet_index, n.address) for n in book.names] == [
        ("kb_anchor", 1, "B3")]
    payload = workbook_to_payload(tmp_path / "kpi.xlsx")
    assert payload["sheets"][1]["tables"][0]["range_address"] == "$B$3:$F$7"
    assert payload["sheets"][0]["values"][1][0] == "2024-03-01T08:30:00.000Z"
    json.dumps(payload)  # the payload is plain JSON


@pytest.mark.parametrize("n", [4, 2, 7])  # same size, shrink, grow
def test_only_kpibook_cells_change(tmp_path: Path, n: int) -> None:
    src, out, actions, alerts = _round_trip(tmp_path, _score_plan(n))
    wb = openpyxl.load_workbook(out)
    touched = _touched_cells(actions, wb)
    # the header row of a resized table is re-synchronised with its columns
    touched |= {("得分明细", 3, c) for c in range(2, 7)}
    _assert_unchanged_outside(src, out, touched)
    ws = wb["得分明细"]
    assert ws.tables["kb_scores"].ref == f"B3:F{3 + n}"
    assert [ws.cell(4 + i, 2).value for i in range(n)] == [f"E{i:03d}" for i in range(n)]
    assert [ws.cell(4 + i, 4).value for i in range(n)] == [float(i) for i in range(n)]
    assert ws.cell(4, 4).number_format == "0.00"
    assert ws.cell(5, 2).fill.fgColor.rgb.endswith("FCE4B6")
    # HR's column of the table is untouched where rows stay
    assert ws.cell(4, 3).value == "备注 0" and ws.cell(4, 6).value == "=D4*2"
    assert ws.cell(4, 3).comment.text == "备注的批注"
    if n < 4:  # rows that left the table are cleared
        assert all(ws.cell(r, c).value is None for r in range(4 + n, 8) for c in range(2, 7))
    assert wb["_kpibook"]["A3"].value == "scored_at"
    assert wb.active.title == "得分明细"
    assert alerts == [("完成", "kpibook")]
    again = snapshot_from_xlsx(out)  # and the result is a valid workbook for the next run
    assert again.find_table("kb_scores")[1].body.n_rows == n


def test_formula_injection_is_stored_as_text(tmp_path: Path) -> None:
    statuses = INJECTIONS[:4]
    plan = _score_plan(4, statuses)
    plan.tables[0].rows[0][0] = INJECTIONS[4]
    plan.meta = {"note": INJECTIONS[5]}
    src, out, actions, _ = _round_trip(tmp_path, plan)
    for a in actions:
        for row in a["values"] or []:
            for v in row:
                assert not isinstance(v, str) or v == "" or v.startswith("'")
    ws = openpyxl.load_workbook(out)["得分明细"]
    for i, text in enumerate(statuses):
        cell = ws.cell(4 + i, 5)
        assert (cell.value, cell.data_type, cell.quotePrefix) == (text, "s", True)
    assert ws["B4"].value == "=1+1" and ws["B4"].data_type == "s"
    book = snapshot_from_xlsx(out)
    assert book.sheets[1].cell(3, 4) == statuses[0]
    meta_sheet = openpyxl.load_workbook(out)["_kpibook"]
    assert meta_sheet["B3"].value == "\t=cmd" and meta_sheet["B3"].data_type == "s"


def test_apply_actions_text_prefix_and_unknown_action(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    base = {"args": [None], "sheet_position": 0, "start_row": 0, "start_column": 0,
            "row_count": 1, "column_count": len(INJECTIONS)}
    apply_actions(wb, [{**base, "func": "setValues",
                        "values": [["'" + t for t in INJECTIONS]]}])
    assert [c.value for c in wb.active[1]] == INJECTIONS
    assert {c.data_type for c in wb.active[1]} == {"s"}
    with pytest.raises(ValueError, match="unsupported function 'setFormula'"):
        apply_actions(wb, [{**base, "func": "setFormula"}])


def test_each_supported_action_applies(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.title = "S"
    A = actions_module
    ref = RangeRef(0, 0, 2, 2)
    alerts: list = []
    apply_actions(wb, [
        A.set_values(0, 0, 0, [["'a", 1], [2.5, True]]),
        A.set_number_format(0, ref, "0.0"),
        A.set_range_color(0, ref, "#00ff00"),
        A.add_sheet(1, "新表"),
        A.set_sheet_name(1, "新表2"),
        A.add_table(0, ref, "T1"),
        A.set_table_name(0, 0, "T2"),
        A.resize_table(0, 0, RangeRef(0, 0, 3, 2)),
        A.set_range_name(0, ref, "rng"),
        A.names_add("nm", "=S!$A$1"),
        A.names_add("local", "=S!$B$1", sheet=0),
        A.name_delete("nm", "=S!$A$1", "nm", 0, True, None),
        A.add_hyperlink(0, 4, 0, "https://example.com", "link", "tip"),
        A.set_autofit(0, ref),
        A.activate_sheet(1),
        A.range_clear_contents(0, RangeRef(1, 0, 1, 1)),
        A.range_clear_formats(0, RangeRef(1, 1, 1, 1)),
        A.range_clear(0, RangeRef(0, 1, 1, 1)),
        A.alert("hello", "title"),
    ], alerts)
    ws = wb["S"]
    assert ws["A1"].value == "a" and ws["A2"].value is None
    assert ws["B1"].value == "Column2"  # an emptied table header is renamed, as Excel does
    assert ws["B2"].value is True and ws["B2"].number_format == "General"
    assert ws["A1"].number_format == "0.0" and ws["A1"].fill.fgColor.rgb.endswith("00FF00")
    assert list(ws.tables) == ["T2"] and ws.tables["T2"].ref == "A1:B3"
    assert "rng" in wb.defined_names and "nm" not in wb.defined_names
    assert "local" in ws.defined_names
    assert ws["A5"].hyperlink.target == "https://example.com" and ws["A5"].value == "link"
    assert wb.active.title == "新表2" and alerts == [("hello", "title")]
    wb.save(tmp_path / "all.xlsx")
    assert snapshot_from_xlsx(tmp_path / "all.xlsx").find_table("T2") is not None


def test_run_button_applies_and_saves(tmp_path: Path) -> None:
    src = build_workbook(tmp_path / "kpi.xlsx")

    def post(button: str, payload: dict):
        assert button == "score"
        book = parse_payload(json.dumps(payload).encode())
        return 200, json.dumps({"actions": plan_to_actions(book, _score_plan(3))})

    result = run_button("score", src, tmp_path / "scored.xlsx", post=post)
    assert result.alerts == [("完成", "kpibook")]
    assert openpyxl.load_workbook(result.out_path)["得分明细"].tables["kb_scores"].ref == "B3:F6"


def test_run_button_reports_server_text_on_error(tmp_path: Path) -> None:
    src = build_workbook(tmp_path / "kpi.xlsx")
    before = src.read_bytes()

    class FlaskLikeResponse:
        status_code = 422

        def get_data(self) -> bytes:
            return "得分明细 第 4 行：工号为空".encode()

    with pytest.raises(ServerError) as info:
        run_button("score", src, post=lambda button, payload: FlaskLikeResponse())
    assert info.value.status == 422 and info.value.message == "得分明细 第 4 行：工号为空"
    assert src.read_bytes() == before  # nothing saved on error
