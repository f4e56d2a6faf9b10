"""parse_payload: shape validation with clear messages, and cell conversion."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from server.xlwire.cells import ERROR_CODES, parse_iso_datetime
from server.xlwire.protocol import PayloadError, parse_payload
from server.xlwire.snapshot import CellError, RangeRef


def _payload(**sheet_overrides) -> dict:
    sheet = {
        "name": "Scores",
        "values": [["id", "score"], ["E1", 1.5]],
        "pictures": [],
        "tables": [{
            "name": "kb_scores", "range_address": "$A$1:$B$2",
            "header_row_range_address": "$A$1:$B$1", "data_body_range_address": "$A$2:$B$2",
            "total_row_range_address": None, "show_headers": True, "show_totals": False,
            "table_style": "TableStyleMedium2", "show_autofilter": True,
        }],
    }
    sheet.update(sheet_overrides)
    return {
        "client": "VBA", "version": "0.37.8",
        "book": {"name": "KPI.xlsx", "active_sheet_index": 0, "selection": "A1"},
        "names": [],
        "sheets": [{"name": "Intro", "values": [[]], "pictures": [], "tables": []}, sheet],
    }


def _error(data) -> str:
    with pytest.raises(PayloadError) as info:
        parse_payload(data)
    return info.value.message


def test_well_formed_payload() -> None:
    book = parse_payload(_payload())
    assert book.client == "VBA" and book.name == "KPI.xlsx" and book.selection == "A1"
    sheet, table = book.find_table("KB_SCORES")
    assert sheet.name == "Scores" and sheet.index == 1
    assert table.range == RangeRef(0, 0, 2, 2)
    assert table.header == RangeRef(0, 0, 1, 2) and table.body == RangeRef(1, 0, 1, 2)
    assert table.style == "TableStyleMedium2"
    assert book.sheets[0].values == [[]]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda p: p.pop("sheets"), "'sheets' is missing"),
        (lambda p: p.update(sheets=[]), "lists no sheets"),
        (lambda p: p.update(sheets="Scores"), "'sheets' must be a list of sheets"),
        (lambda p: p.pop("book"), "'book' is missing"),
        (lambda p: p["book"].update(active_sheet_index="1"), "active_sheet_index' must be"),
        (lambda p: p["book"].update(active_sheet_index=7), "active_sheet_index 7 is not"),
        (lambda p: p.update(client=None), "'client' must be text"),
        (lambda p: p["sheets"][1].update(values="oops"),
         "sheet 2 'Scores': values must be a list of rows"),
        (lambda p: p["sheets"][1].update(values=[["a"], "b"]),
         "sheet 2 'Scores': values must be a list of rows (row 2 is not)"),
        (lambda p: p["sheets"][1].update(values=[["a", {"x": 1}]]),
         "sheet 2 'Scores': cell in row 1, column 2 is not a plain value"),
        (lambda p: p["sheets"][1].pop("values"), "sheet 2 'Scores': values are missing"),
        (lambda p: p["sheets"][1].pop("name"), "sheet 2: 'name' is missing"),
        (lambda p: p["sheets"][1]["tables"][0].update(range_address="A1:ZZZZ9"),
         "sheet 2 'Scores': table 'kb_scores': 'range_address' is not a range address"),
        (lambda p: p["sheets"][1]["tables"][0].update(data_body_range_address=5),
         "'data_body_range_address' must be a range address"),
        (lambda p: p["sheets"][1].update(tables={}), "'tables' must be a list"),
        (lambda p: p.update(names=[{"name": "x", "sheet_index": 9, "address": "A1"}]),
         "defined name 'x': sheet_index 9 is not a sheet"),
        (lambda p: p.update(names=[{"name": "x", "sheet_index": 0, "address": "nope"}]),
         "defined name 'x': 'address' is not a range address"),
    ],
)
def test_malformed_payloads_give_clear_messages(mutate, expected: str) -> None:
    payload = _payload()
    mutate(payload)
    assert expected in _error(payload)


@pytest.mark.parametrize("body", [b"{not json", "[1, 2]", b"\xff\xfe", "null"])
def test_non_json_or_non_object_bodies(body) -> None:
    assert "request body" in _error(body)


def test_cell_conversion() -> None:
    row = ["", "2021-03-01T00:00:00.000Z", "2021-03-01T10:11:12Z", "2021-03-01T10:11:12",
           "2021-03-01T10:11:12.25", "2021-03-01T10:11:12+08:00", "2021-02-30T00:00:00Z",
           "2021-03-01", 44256, 44256.5, True, "text", "#N/A", "#n/a", 0, None]
    for data in (_payload(values=[row]), json.dumps(_payload(values=[row])).encode()):
        got = parse_payload(data).sheets[1].values[0]
        assert got == [
            None, dt.datetime(2021, 3, 1), dt.datetime(2021, 3, 1, 10, 11, 12),
            dt.datetime(2021, 3, 1, 10, 11, 12), dt.datetime(2021, 3, 1, 10, 11, 12, 250000),
            dt.datetime(2021, 3, 1, 10, 11, 12), "2021-02-30T00:00:00Z", "2021-03-01",
            44256, 44256.5, True, "text", CellError("#N/A"), "#n/a", 0, None,
        ]
        assert type(got[8]) is int and type(got[10]) is bool


@pytest.mark.parametrize("code", ERROR_CODES)
def test_every_error_code(code: str) -> None:
    assert parse_payload(_payload(values=[[code]])).sheets[1].cell(0, 0) == CellError(code)


def test_required_error_codes_are_known() -> None:
    wanted = {"#DIV/0!", "#N/A", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!",
              "#CALC!", "#GETTING_DATA", "#BUSY!"}
    assert wanted <= set(ERROR_CODES)


def test_parse_iso_datetime_rejects_non_dates() -> None:
    assert parse_iso_datetime("2021-03-01T00:00") is None
    assert parse_iso_datetime("E001T00:00:00Z") is None
    assert parse_iso_datetime("2021-13-01T00:00:00Z") is None


def test_large_payload_parses_completely() -> None:
    """20,000 managers x 10 indicators in a long table (speed: bench/bench_protocol.py)."""
    rows = [["工号", "指标", "值", "日期", "状态"]] + [
        [f"E{i:05d}", f"K{j}", i * 0.5, "2024-03-31T00:00:00.000Z" if j == 0 else "", "ok"]
        for i in range(20_000) for j in range(10)
    ]
    body = json.dumps(_payload(values=rows)).encode()
    book = parse_payload(body)
    assert len(book.sheets[1].values) == 200_001
    assert book.sheets[1].values[1][3] == dt.datetime(2024, 3, 31)
