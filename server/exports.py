"""Exports of the review pages: CSV and .xlsx, safe to open in Excel.

* CSV: UTF-8 with a byte-order mark (Excel then reads Chinese correctly), one header row.
  Text cells starting with ``= + - @`` (or tab / CR) get a leading ``'`` so Excel never runs
  them as formulas (CSV injection); numbers we produced ourselves are written as numbers,
  with the pages' format (2 decimals, half away from zero, never "-0.00"). Times are text in
  the company's time zone (the view formats them, server/display.py).
* XLSX (openpyxl): untrusted text is stored as a *string* cell (data type ``s``), never as a
  formula, whatever it starts with; numbers are numbers; one sheet per table, the header row
  bold and frozen, column widths sized to the content.

A table is `Table(title, header, rows)`: rows are lists of str / int / Decimal / None.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from server.display import number
from server.scoring.numbers import round_half_up

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Value = str | int | float | Decimal | None


@dataclass(frozen=True, slots=True)
class Table:
    title: str  # the sheet name (xlsx)
    header: Sequence[str]
    rows: Sequence[Sequence[Value]]


def csv_text(value: Value) -> str:
    """One CSV cell: numbers as they are, text neutralised against formula injection."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, Decimal):
        return number(value)  # the pages' format: 2 decimals, never "-0.00"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(table: Table) -> bytes:
    out = io.StringIO()
    out.write("\ufeff")
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([csv_text(h) for h in table.header])
    for row in table.rows:
        w.writerow([csv_text(v) for v in row])
    return out.getvalue().encode("utf-8")


_SHEET_BAD = set('[]:*?/\\')


def _sheet_name(title: str, used: set[str]) -> str:
    name = "".join("_" if c in _SHEET_BAD else c for c in title).strip("'")[:31] or "Sheet"
    base, n = name, 2
    while name in used:
        suffix = f" ({n})"
        name = base[:31 - len(suffix)] + suffix
        n += 1
    used.add(name)
    return name


def to_xlsx(tables: Sequence[Table]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="E6F2EE")
    for table in tables:
        ws = wb.create_sheet(_sheet_name(table.title, used))
        widths = [len(str(h)) for h in table.header]
        for c, h in enumerate(table.header, start=1):
            cell = ws.cell(row=1, column=c)
            _set(cell, h)
            cell.font, cell.fill = bold, fill
        for r, row in enumerate(table.rows, start=2):
            for c, v in enumerate(row, start=1):
                cell = ws.cell(row=r, column=c)
                _set(cell, v)
                if isinstance(v, str) and "\n" in v:
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
                if c <= len(widths):
                    text = "" if v is None else str(v)
                    longest = max((len(x) for x in text.split("\n")), default=0)
                    # CJK characters are about twice as wide as Latin ones
                    longest += sum(1 for ch in text if ord(ch) > 0x2E80)
                    widths[c - 1] = max(widths[c - 1], min(longest, 60))
        for c, w in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(c)].width = max(8, w + 2)
        ws.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _set(cell, value: Value) -> None:
    if value is None:
        return
    if isinstance(value, Decimal):
        cell.value = float(round_half_up(value)) or 0.0  # no negative zero
        cell.number_format = "0.00"
    elif isinstance(value, int | float) and not isinstance(value, bool):
        cell.value = value
    else:
        # openpyxl makes any string starting with "=" a formula: force a string cell.
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        cell.value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", str(value))
        cell.data_type = "s"


def filename(text: str) -> str:
    """A safe ASCII-ish file name part (period codes, commit ids)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:80] or "export"
