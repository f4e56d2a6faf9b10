"""Fixtures for the history write path: a workbook through the headless client per user."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "workbook_templates" / "manufacturing.xlsx"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "HISTORY_DURABLE": False}


@pytest.fixture
def headless():
    return pytest.importorskip("addin.headless")


@pytest.fixture
def book(tmp_path) -> Path:
    if not TEMPLATE.is_file():
        pytest.skip("workbook_templates/manufacturing.xlsx not built yet")
    path = tmp_path / "考核.xlsx"
    shutil.copy(TEMPLATE, path)
    return path


@pytest.fixture
def press(client, headless):
    def press(button, path, token, headers=None):
        poster = headless.flask_poster(
            client, headers={"Authorization": f"Bearer {token}", **(headers or {})})
        return headless.run_button(button, path, post=poster)

    return press


def meta(path: Path) -> dict:
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        if "kb_meta" in ws.tables:
            rows = [[c.value for c in r] for r in ws[ws.tables["kb_meta"].ref]]
            return {r[0]: r[1] for r in rows[1:] if r[0]}
    raise KeyError("kb_meta")


def keyed_cells(wb, table: str, columns) -> tuple[object, list[dict]]:
    """(worksheet, one {column key: cell} per body row) of a kpibook table, its captions
    matched as the server matches them (`columns`: e.g. schema.ADJUSTMENTS)."""
    from server.workbook.schema import match_column

    for ws in wb.worksheets:
        if table in ws.tables:
            cells = list(ws[ws.tables[table].ref])
            keys = [getattr(match_column(columns, str(c.value or "")), "key", None)
                    for c in cells[0]]
            return ws, [{k: c for k, c in zip(keys, row, strict=True) if k}
                        for row in cells[1:]]
    raise KeyError(table)


def adjustment_rows(path: Path) -> dict[tuple[str, str], dict]:
    """(employee, indicator) -> {key: cell} of kb_adjustments (cells, to see fills)."""
    from server.workbook.schema import ADJUSTMENTS

    _ws, rows = keyed_cells(openpyxl.load_workbook(path), "kb_adjustments", ADJUSTMENTS)
    return {(d["employee_id"].value, d["indicator"].value): d for d in rows}


def set_adjustment(path: Path, employee_id: str, indicator: str, points, reason) -> None:
    from server.workbook.schema import ADJUSTMENTS, match_column

    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        if "kb_adjustments" not in ws.tables:
            continue
        cells = list(ws[ws.tables["kb_adjustments"].ref])
        keys = [getattr(match_column(ADJUSTMENTS, str(c.value or "")), "key", None)
                for c in cells[0]]
        for row in cells[1:]:
            d = {k: c for k, c in zip(keys, row, strict=True) if k}
            if (d["employee_id"].value, d["indicator"].value) == (employee_id, indicator):
                d["points"].value = points
                d["reason"].value = reason
                if isinstance(reason, str) and reason.startswith("="):
                    d["reason"].data_type = "s"  # typed as text (a leading ' in Excel)
                wb.save(path)
                return
    raise AssertionError(f"no row {employee_id}/{indicator}")


def table_rows(path: Path, table: str) -> list[dict]:
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        if table in ws.tables:
            rows = [[c.value for c in r] for r in ws[ws.tables[table].ref]]
            return [dict(zip(rows[0], r, strict=False)) for r in rows[1:]]
    raise KeyError(table)
