"""Build BookSnapshots for tests from rows in code; .xlsx files go through addin.headless.

`edited_template` copies a shipped template, lets a test change cells with openpyxl, and reads
it back the way the headless client sends it, so broken-workbook tests start from a real file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import openpyxl
from openpyxl.workbook.workbook import Workbook

from addin.headless import snapshot_from_xlsx
from server.workbook.schema import TABLES
from server.xlwire.snapshot import BookSnapshot, RangeRef, SheetSnapshot, TableSnapshot

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "workbook_templates"


def table_snapshot(name: str, sheet_index: int, row: int, col: int, n_rows: int, n_cols: int):
    rng = RangeRef(row, col, n_rows + 1, n_cols)
    body = RangeRef(row + 1, col, n_rows, n_cols) if n_rows else None
    return TableSnapshot(name, sheet_index, rng, RangeRef(row, col, 1, n_cols), body)


def make_book(tables: dict[str, tuple[list[str], list[list[object]]]],
              sheet_names: dict[str, str] | None = None, origin: tuple[int, int] = (0, 0)
              ) -> BookSnapshot:
    """One sheet per table, header at `origin` (0-based row, col)."""
    sheets = []
    for index, (name, (header, rows)) in enumerate(tables.items()):
        r0, c0 = origin
        values: list[list[object]] = [[None] * (c0 + len(header)) for _ in range(r0)]
        values.append([None] * c0 + list(header))
        for row in rows:
            values.append([None] * c0 + list(row) + [None] * (len(header) - len(row)))
        sheet_name = (sheet_names or {}).get(name) or TABLES[name].zh
        sheet = SheetSnapshot(index, sheet_name, values)
        sheet.tables.append(table_snapshot(name, index, r0, c0, len(rows), len(header)))
        sheets.append(sheet)
    return BookSnapshot("test", "0", "test.xlsx", 0, None, sheets)


def edited_template(tmp_path: Path, edit: Callable[[Workbook], None],
                    template: str = "manufacturing") -> BookSnapshot:
    """A shipped template changed by `edit`, saved and read back as a client sends it."""
    wb = openpyxl.load_workbook(TEMPLATE_DIR / f"{template}.xlsx")
    edit(wb)
    path = tmp_path / f"{template}-edited.xlsx"
    wb.save(path)
    return snapshot_from_xlsx(path)
