"""Build BookSnapshots for tests: from rows in code, or from an .xlsx via openpyxl.

`snapshot_from_xlsx` stands in for addin.headless (the real client) so these tests do not
depend on the protocol layer; it reads what a client would send: values, tables, sheet order.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl

from server.workbook.schema import TABLES
from server.xlwire.snapshot import BookSnapshot, CellError, RangeRef, SheetSnapshot, TableSnapshot

_ERRORS = {"#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!"}


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


def _cell_value(value: object) -> object:
    if isinstance(value, str) and value in _ERRORS:
        return CellError(value)
    return value


def snapshot_from_xlsx(path: str | Path) -> BookSnapshot:
    wb = openpyxl.load_workbook(path, data_only=False)
    sheets = []
    for index, ws in enumerate(wb.worksheets):
        values = [[_cell_value(c) for c in row] for row in ws.iter_rows(
            min_row=1, min_col=1, max_row=ws.max_row, max_col=ws.max_column, values_only=True)]
        sheet = SheetSnapshot(index, ws.title, values)
        for table in ws.tables.values():
            rng = RangeRef.parse(table.ref)
            shown = table.headerRowCount != 0
            header = RangeRef(rng.row, rng.col, 1, rng.n_cols) if shown else None
            n_body = rng.n_rows - 1 - (1 if table.totalsRowCount else 0)
            body = RangeRef(rng.row + 1, rng.col, n_body, rng.n_cols) if n_body > 0 else None
            sheet.tables.append(TableSnapshot(table.name, index, rng, header, body,
                                              bool(table.totalsRowCount)))
        sheets.append(sheet)
    return BookSnapshot("test", "0", Path(path).name, 0, None, sheets)
