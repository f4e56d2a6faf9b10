"""Workbooks for the Office stub (tests/browser/office_stub.js), as JSON-ready dicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl

# openpyxl's SheetProtection flags are "this is protected" (False = users may do it); Office.js
# WorksheetProtectionOptions are "users may do it".
_OFFICE_OPTION_FOR = {
    "allowAutoFilter": "autoFilter",
    "allowDeleteColumns": "deleteColumns",
    "allowDeleteRows": "deleteRows",
    "allowEditObjects": "objects",
    "allowEditScenarios": "scenarios",
    "allowFormatCells": "formatCells",
    "allowFormatColumns": "formatColumns",
    "allowFormatRows": "formatRows",
    "allowInsertColumns": "insertColumns",
    "allowInsertHyperlinks": "insertHyperlinks",
    "allowInsertRows": "insertRows",
    "allowPivotTables": "pivotTables",
    "allowSort": "sort",
}


def meta_workbook(period: str | None = "2024-Q3") -> dict[str, Any]:
    """A workbook with only the hidden metadata sheet (kb_meta, with a period if given)."""
    rows = [["键 / Key", "值 / Value"], ["format", "1"]]
    if period is not None:
        rows.insert(1, ["period", period])
    cells = {f"{r},{c}": value for r, row in enumerate(rows) for c, value in enumerate(row)}
    return {
        "name": "KPI.xlsx",
        "activeSheet": 0,
        "selection": "A1",
        "names": [],
        "sheets": [
            {"name": "说明", "cells": {"0,0": "kpibook"}},
            {"name": "_kpibook", "cells": cells, "tables": [
                {"name": "kb_meta", "address": f"A1:B{len(rows)}", "showHeaders": True,
                 "showTotals": False, "style": "TableStyleLight1"}]},
        ],
    }


def protection_of(ws: Any) -> dict[str, Any]:
    """The sheet's protection as Office.js reports it (protected, options; password if any)."""
    flags = ws.protection
    return {
        "protected": bool(flags.sheet),
        "password": flags.password or None,
        "options": {office: not bool(getattr(flags, name))
                    for office, name in _OFFICE_OPTION_FOR.items()},
    }


def stub_workbook_from_xlsx(path: Path) -> dict[str, Any]:
    """The .xlsx as the stub's model: values as the headless client reads them, tables, names
    and sheet protection (kpibook's templates protect the output sheets without a password)."""
    from addin.headless import workbook_to_payload

    payload = workbook_to_payload(path)
    protections = {ws.title: protection_of(ws) for ws in openpyxl.load_workbook(path).worksheets}
    sheets = []
    for sheet in payload["sheets"]:
        cells = {f"{r},{c}": value
                 for r, row in enumerate(sheet["values"]) for c, value in enumerate(row)
                 if value not in ("", None)}
        tables = [{"name": t["name"], "address": t["range_address"].replace("$", ""),
                   "showHeaders": t["show_headers"], "showTotals": t["show_totals"],
                   "style": t["table_style"]} for t in sheet["tables"]]
        sheets.append({"name": sheet["name"], "cells": cells, "tables": tables,
                       "protection": protections[sheet["name"]]})
    names = [{"name": n["name"], "sheet": n["sheet_index"], "address": n["address"]}
             for n in payload["names"] if n["book_scope"]]
    return {"name": payload["book"]["name"], "activeSheet": payload["book"]["active_sheet_index"],
            "selection": payload["book"]["selection"], "names": names, "sheets": sheets}


def table_rows(model: dict[str, Any], table_name: str) -> list[dict[str, Any]]:
    """The rows of a table of the stub's model as dicts keyed by the header texts."""
    for sheet in model["sheets"]:
        for table in sheet["tables"]:
            if table["name"] != table_name:
                continue
            first, _, last = table["address"].partition(":")
            r0, c0 = _cell(first)
            r1, c1 = _cell(last or first)
            grid = [[sheet["cells"].get(f"{r},{c}", "") for c in range(c0, c1 + 1)]
                    for r in range(r0, r1 + 1)]
            return [dict(zip(grid[0], row, strict=True)) for row in grid[1:]]
    raise KeyError(table_name)


def _cell(ref: str) -> tuple[int, int]:
    letters = "".join(ch for ch in ref if ch.isalpha())
    column = 0
    for ch in letters:
        column = column * 26 + ord(ch) - 64
    return int(ref[len(letters):]) - 1, column - 1


def _sheet(name: str, rows: list[list[Any]], tables: list[dict[str, Any]],
           **extra: Any) -> dict[str, Any]:
    cells = {f"{r},{c}": v for r, row in enumerate(rows) for c, v in enumerate(row)
             if v not in ("", None)}
    return {"name": name, "cells": cells, "tables": tables, **extra}


def _table(name: str, address: str) -> dict[str, Any]:
    return {"name": name, "address": address, "showHeaders": True, "showTotals": False,
            "style": "TableStyleMedium2"}


def line_workbook(period: str = "2025-03") -> dict[str, Any]:
    """kb_scores, kb_adjustments and kb_data for the add-in tests' server world (M1001 of
    一车间, M1002 of 二车间; tests/addin/conftest.py) and kb_meta with `period`. The
    adjustments sheet is protected without a password, its points and reason cells unlocked,
    as the templates ship it."""
    scores = _sheet("得分明细", [
        ["工号 / Employee ID", "姓名 / Name", "部门 / Department", "指标代码 / Indicator",
         "得分 / Score", "计算说明 / Explanation"],
        ["M1001", "张伟", "一车间", "PROD_EFF", 40, "达成率 98%"],
        ["M1001", "张伟", "一车间", "QUALITY", 50, "不良率 2%"],
        ["M1002", "王芳", "二车间", "PROD_EFF", 35, "达成率 91%"],
    ], [_table("kb_scores", "A1:F4")])
    adjustments = _sheet("调整", [
        ["工号 / Employee ID", "指标代码 / Indicator", "调整分 / Adjustment", "调整理由 / Reason"],
        ["M1001", "PROD_EFF", "", ""],
        ["M1001", "QUALITY", "", ""],
        ["M1002", "PROD_EFF", "", ""],
    ], [_table("kb_adjustments", "A1:D4")],
        protection={"protected": True, "password": None, "options": {}},
        unlocked=[f"{r},{c}" for r in (1, 2, 3) for c in (2, 3)])
    data = _sheet("源数据", [
        ["工号 / Employee ID", "指标代码 / Indicator", "字段 / Field", "数值 / Value"],
        ["M1001", "PROD_EFF", "actual", 0.98],
    ], [_table("kb_data", "A1:D2")])
    meta = _sheet("_kpibook", [["键 / Key", "值 / Value"], ["period", period]],
                  [_table("kb_meta", "A1:B2")])
    return {"name": "KPI_2025-03.xlsx", "activeSheet": 0, "selection": "A1", "names": [],
            "sheets": [scores, adjustments, data, meta]}
