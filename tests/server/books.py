"""Reading and editing a workbook's hidden kb_meta (sheet _kpibook) the way a person with
Excel could: what the binding and scorecard tests tamper with."""

from __future__ import annotations

from pathlib import Path

import openpyxl


def meta(path: Path) -> dict[str, object]:
    ws = openpyxl.load_workbook(path)["_kpibook"]
    return {row[0].value: row[1].value for row in ws.iter_rows(min_row=2)}


def set_meta(path: Path, key: str, value) -> None:
    wb = openpyxl.load_workbook(path)
    for row in wb["_kpibook"].iter_rows(min_row=2):
        if row[0].value == key:
            row[1].value = value
            wb.save(path)
            return
    raise KeyError(key)
