"""parse_payload's shortcuts for raw bodies give exactly what cell-by-cell conversion gives.

Raw bytes go through a lookup (empties, errors, the body's dates) applied to a whole sheet at
C speed; the body's dates are found from their time part (`_RAW_TIME`, a search that starts
at a fixed "T") and must be the matches of `_RAW_ISO`. A dict body is converted row by row
with `convert_row`: both must agree.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.xlwire.cells import (
    _RAW_ISO,
    _SPECIAL,
    ERROR_CODES,
    lookup_with_dates,
    parse_iso_datetime,
)
from server.xlwire.protocol import PayloadError, parse_payload


def _payload(values: list) -> dict:
    return {"client": "test", "version": "0.37.8",
            "book": {"name": "b.xlsx", "active_sheet_index": 0},
            "sheets": [{"name": "S", "values": values}]}


fragments = st.one_of(st.from_regex(_RAW_ISO, fullmatch=True),
                      st.sampled_from([b'"', b'T', b'\\"', b'2021-03-01', b'T10:11:12Z"',
                                       b'"2021-03-01T10:11:12"', b',', b'12:00:00', b'Z"']),
                      st.binary(max_size=6))


@settings(max_examples=500, deadline=None)
@given(st.lists(fragments, max_size=8))
def test_dates_found_are_the_matches_of_the_iso_pattern(parts: list[bytes]) -> None:
    raw = b"".join(parts)
    expected = {text for m in _RAW_ISO.findall(raw)
                if parse_iso_datetime(text := m.decode("ascii")) is not None}
    found = set(lookup_with_dates(raw)) - set(_SPECIAL)
    # findall does not overlap its matches: a closing quote that opens the next date is
    # consumed; the time-part search finds that second date too (a harmless extra entry:
    # only a cell that is exactly such a text is converted, and JSON never puts two
    # strings next to each other)
    assert expected <= found
    assert all(_RAW_ISO.fullmatch(f'"{text}"'.encode()) for text in found)


cells = st.one_of(
    st.sampled_from(["", " ", "#N/A", "#n/a", "2021-03-01T10:11:12Z", "2021-03-01T10:11:12.5",
                     "2021-02-30T00:00:00Z", "2021-03-01", "TT12:00:00", "text", *ERROR_CODES]),
    st.integers(-10**6, 10**6), st.floats(allow_nan=False), st.booleans(), st.none(),
    st.text(max_size=4))


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.lists(cells, max_size=6), max_size=6))
def test_raw_body_converts_as_cell_by_cell(rows) -> None:
    by_cell = parse_payload(_payload(rows)).sheets[0].values
    raw = parse_payload(json.dumps(_payload(rows)).encode()).sheets[0].values
    assert [[repr(v) for v in row] for row in raw] == [[repr(v) for v in row] for row in by_cell]


def test_dates_found_when_hinted() -> None:
    rows = [["2021-03-01T10:11:12Z", "x"], ["", 1]]
    got = parse_payload(json.dumps(_payload(rows)).encode()).sheets[0].values
    assert got == [[dt.datetime(2021, 3, 1, 10, 11, 12), "x"], [None, 1]]


@pytest.mark.parametrize("bad, where", [([["a", ["b"]]], "row 1, column 2"),
                                        ([["a"], ["b", "c", {"d": 1}]], "row 2, column 3")])
def test_unhashable_cell_is_named(bad, where) -> None:
    for body in (_payload(bad), json.dumps(_payload(bad)).encode()):
        with pytest.raises(PayloadError, match=f"cell in {where} is not a plain value"):
            parse_payload(body)


def test_a_row_that_is_not_a_list() -> None:
    with pytest.raises(PayloadError, match=r"row 2 is not"):
        parse_payload(json.dumps(_payload([["a"], "b"])).encode())



shared_cells = st.one_of(
    st.sampled_from(["", "M1", "M1 ", "#N/A", "1", "True", "2021-03-01T10:11:12"]),
    st.sampled_from([0, 1, -1, 0.0, -0.0, 1.0, 2.5, True, False, None]),
    st.text(max_size=3))


@given(st.lists(st.lists(shared_cells, min_size=1, max_size=5), min_size=1, max_size=8))
@settings(max_examples=200, deadline=None)
def test_equal_texts_become_one_object_and_nothing_else_changes(rows: list) -> None:
    # A raw body's texts are shared (one object per distinct text); every cell keeps the
    # value and type cell-by-cell conversion gives it: 1, 1.0 and True stay apart, and so
    # do 0.0 and -0.0 (repr tells them apart).
    got = parse_payload(json.dumps(_payload(rows)).encode()).sheets[0].values
    want = parse_payload(_payload(json.loads(json.dumps(rows)))).sheets[0].values
    assert [[(type(c), repr(c)) for c in row] for row in got] == \
        [[(type(c), repr(c)) for c in row] for row in want]
    first_of: dict[str, int] = {}
    for row in got:
        for cell in row:
            if type(cell) is str:
                assert first_of.setdefault(cell, id(cell)) == id(cell)
