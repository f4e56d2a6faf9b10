"""Our parser must see a payload the way xlwings' reference engine does.

The reference engine (`xlwings.pro._xlremote`, behind `xw.Book(json=...)`) is PolyForm
Noncommercial: it is used here only as an oracle, never by the server. It refuses to import
without XLWINGS_LICENSE_KEY, so the key is set before xlwings is imported.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os

import pytest

from server.xlwire.protocol import parse_payload
from server.xlwire.snapshot import CellError

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")


@pytest.fixture(scope="module")
def xw():
    try:
        import xlwings

        xlwings.Book(json=_vba_payload("0.0.0", office_js=True))  # the engine really loads
    except Exception as exc:  # ImportError, licence refusal, missing pro package
        pytest.skip(f"xlwings reference engine unavailable: {exc}")
    return xlwings


def _table(name: str, whole: str, header: str | None, body: str | None,
           totals: str | None = None) -> dict:
    return {
        "name": name, "range_address": whole, "header_row_range_address": header,
        "data_body_range_address": body, "total_row_range_address": totals,
        "show_headers": header is not None, "show_totals": totals is not None,
        "table_style": "TableStyleMedium2", "show_autofilter": True,
    }


def _vba_payload(version: str, office_js: bool = False) -> dict:
    """Shaped like Remote.bas builds it: local dates with a literal Z and .000 millis,
    error cells from ConvertToJson's vbError branch, $-addresses from Range.Address."""
    return {
        "client": "Office.js" if office_js else "VBA",
        "version": version,
        "book": {"name": "绩效考核 2024.xlsx", "active_sheet_index": 1, "selection": "B3:C4"},
        "names": [
            {"name": "kb_anchor", "sheet_index": 0, "address": "A1:B4", "book_scope": True,
             "scope_sheet_name": None, "scope_sheet_index": None},
            {"name": "得分明细!local_total", "sheet_index": 1, "address": "C2",
             "book_scope": False, "scope_sheet_name": "得分明细", "scope_sheet_index": 1},
        ],
        "sheets": [
            {
                "name": "_kpibook",
                "values": [["键", "值"], ["format_version", "1"], ["period", "2024-Q1"],
                           ["generated", "2024-03-31T17:45:10.000Z"]],
                "pictures": [],
                "tables": [_table("kb_meta", "$A$1:$B$4", "$A$1:$B$1", "$A$2:$B$4")],
            },
            {
                "name": "得分明细",
                "values": [
                    ["工号 / Employee ID", "得分", "日期", "备注", ""],
                    ["E001", 91.5, "2021-03-01T00:00:00.000Z", "", ""],
                    ["E002", "#N/A", "2021-03-01T13:05:09.000Z", "#DIV/0!", ""],
                    ["E003", 0, "", "#VALUE!", True],
                    ["E004", -2.25, "2024-02-29T23:59:59.000Z", "#REF!", False],
                    ["", "", "", "", ""],
                    ["#NAME?", "#NUM!", "#NULL!", "=not a formula", "2021-03-01"],
                ],
                "pictures": [{"name": "logo", "width": 20, "height": 10}],
                "tables": [_table("kb_scores", "$A$1:$D$5", "$A$1:$D$1", "$A$2:$D$5")],
            },
            {"name": "Excluded", "values": [[]], "pictures": [], "tables": []},
        ],
    }


def _office_scripts_payload(version: str) -> dict:
    """Shaped like js/xlwings.ts: addresses without $ after split('!'), dates from
    Date.toISOString() (always millis + Z), sheet-scoped names after book-scoped ones."""
    return {
        "client": "Microsoft Office Scripts",
        "version": version,
        "book": {"name": "KPI.xlsx", "active_sheet_index": 0, "selection": "A1"},
        "names": [
            {"name": "Roster", "sheet_index": 0, "address": "A1:C3", "scope_sheet_name": None,
             "scope_sheet_index": None, "book_scope": True},
        ],
        "sheets": [
            {
                "name": "人员名单",
                "values": [["工号", "姓名", "入职日期"],
                           ["E001", "张三", "2019-07-01T00:00:00.000Z"],
                           ["E002", "李四", "1999-12-31T12:30:00.500Z"]],
                "pictures": [],
                "tables": [_table("kb_roster", "A1:C3", "A1:C1", "A2:C3")],
            },
            {
                "name": "Totals",
                "values": [["Dept", "Sum"], ["HR", 10], ["IT", 20], ["Total", 30]],
                "pictures": [],
                "tables": [_table("HRTotals", "A1:B4", "A1:B1", "A2:B3", totals="A4:B4")],
            },
        ],
    }


def _excel2016_payload(version: str) -> dict:
    """Office.js on Excel 2016/2019 (no ExcelApi 1.12): dates arrive as serial numbers."""
    return {
        "client": "Office.js",
        "version": version,
        "book": {"name": "KPI.xlsx", "active_sheet_index": 0, "selection": None},
        "names": [],
        "sheets": [
            {
                "name": "Data",
                "values": [["id", "date", "value"], ["E1", 44256, 1.5], ["E2", 44256.5, 2]],
                "pictures": [],
                "tables": [_table("kb_data", "A1:C3", "A1:C1", "A2:C3")],
            },
        ],
    }


def _payloads(version: str) -> list[dict]:
    return [_vba_payload(version), _office_scripts_payload(version),
            _excel2016_payload(version), _vba_payload(version, office_js=True)]


def _reference_values(xw, payload: dict) -> list[list[list[object]]]:
    book = xw.Book(json=copy.deepcopy(payload))
    out = []
    for sheet_json, sheet in zip(payload["sheets"], book.sheets, strict=True):
        rows = sheet_json["values"]
        if rows == [[]]:
            out.append([[]])
            continue
        rng = sheet.range((1, 1), (len(rows), len(rows[0])))
        out.append(rng.options(ndim=2, err_to_str=True).value)
    return out


def _ours_as_reference(value: object) -> object:
    return value.code if isinstance(value, CellError) else value


@pytest.mark.parametrize("kind", range(4))
@pytest.mark.parametrize("as_bytes", [False, True])
def test_values_match_reference(xw, kind: int, as_bytes: bool) -> None:
    payload = _payloads(xw.__version__)[kind]
    ours = parse_payload(json.dumps(payload).encode() if as_bytes else payload)
    reference = _reference_values(xw, payload)
    for sheet, ref_values in zip(ours.sheets, reference, strict=True):
        mine = [[_ours_as_reference(v) for v in row] for row in sheet.values]
        assert mine == ref_values, sheet.name


def test_error_cells_become_none_in_reference_and_cellerror_here(xw) -> None:
    payload = _vba_payload(xw.__version__)
    sheet = xw.Book(json=copy.deepcopy(payload)).sheets[1]
    assert sheet.range("B3").value is None  # the reference maps #N/A to None ...
    assert parse_payload(payload).sheets[1].cell(2, 1) == CellError("#N/A")  # ... we keep it


@pytest.mark.parametrize("kind", range(4))
def test_tables_match_reference(xw, kind: int) -> None:
    payload = _payloads(xw.__version__)[kind]
    book = xw.Book(json=copy.deepcopy(payload))
    ours = parse_payload(payload)
    for ref_sheet, sheet in zip(book.sheets, ours.sheets, strict=True):
        ref_tables = list(ref_sheet.tables)
        assert [t.name for t in ref_tables] == [t.name for t in sheet.tables]
        for ref, mine in zip(ref_tables, sheet.tables, strict=True):
            assert ref.range.address.replace("$", "") == mine.range.address
            assert ref.header_row_range.address.replace("$", "") == mine.header.address
            assert ref.data_body_range.address.replace("$", "") == mine.body.address


@pytest.mark.parametrize("kind", range(4))
def test_names_match_reference(xw, kind: int) -> None:
    payload = _payloads(xw.__version__)[kind]
    book = xw.Book(json=copy.deepcopy(payload))
    ours = parse_payload(payload)
    ref = [(n.refers_to_range.sheet.index - 1, n.refers_to_range.address.replace("$", ""))
           for n in book.names]
    mine = [(n.sheet_index, n.address) for n in ours.names]
    assert mine == ref
    # book-scoped flags agree; VBA already prefixes sheet-scoped names with "Sheet!"
    assert [n.book_scope for n in ours.names] == [n["book_scope"] for n in payload["names"]]


def test_vba_local_dates_are_naive_wall_clock(xw) -> None:
    payload = _vba_payload(xw.__version__)
    ref = xw.Book(json=copy.deepcopy(payload)).sheets[1].range("C3").value
    ours = parse_payload(payload).sheets[1].cell(2, 2)
    assert ours == ref == dt.datetime(2021, 3, 1, 13, 5, 9)
    assert ours.tzinfo is None
