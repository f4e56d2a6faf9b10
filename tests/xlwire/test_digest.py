"""server/xlwire/digest.py: the digest every client computes (pinned on both sides: the same
figures are in addin/test/digest.test.js), its header, and the sheet the server predicts."""

from __future__ import annotations

import pytest

from server.xlwire import digest as wire_digest
from server.xlwire.protocol import parse_payload

VALUES = [["工号 / Employee ID", "得分", ""], ["E001", 91.5, ""], ["'00123", True, ""],
          ["=1+1", -3, ""], ["", "", ""]]
TABLES = [{"name": "kb_scores", "range_address": "$A$1:$B$4", "show_headers": True,
           "show_totals": False}]


def test_digest_is_pinned_as_in_the_office_js_test():
    keys = wire_digest.payload_table_keys(TABLES)
    assert keys == [["kb_scores", "A1:B4", True, False]]
    assert wire_digest.sheet_digest([list(r) for r in VALUES], keys) == \
        "c517efa9f63fcd6a65a7b493149f3e0eb603c71024a4e014507e78176cfebe05"
    assert wire_digest.sheet_digest([], []) == \
        "643d5437104296e21d906ecb15b2c96ad278f20cfc4af53b12bb6069bd853726"


def test_trailing_empty_rows_and_columns_do_not_count():
    keys = wire_digest.payload_table_keys(TABLES)
    wider = [[*row, "", ""] for row in VALUES] + [["", "", "", "", ""]] * 3
    assert wire_digest.sheet_digest(wider, keys) == wire_digest.sheet_digest(
        [list(r) for r in VALUES], keys)
    changed = [list(r) for r in VALUES]
    changed[1][1] = 91.6
    assert wire_digest.sheet_digest(changed, keys) != wire_digest.sheet_digest(
        [list(r) for r in VALUES], keys)


def test_header_round_trip_and_refusals():
    digests = {"得分 & 明细": "ab" * 32, "汇总": "cd" * 32}
    text = wire_digest.format_digests(digests)
    assert wire_digest.parse_digests_header(text) == digests
    assert wire_digest.parse_digests_header(None) is None
    assert wire_digest.parse_digests_header("-") == {}
    for bad in ("a=zz", "a", "=" + "ab" * 32, "a=" + "ab" * 31):
        with pytest.raises(wire_digest.DigestHeaderError):
            wire_digest.parse_digests_header(bad)
    assert wire_digest.parse_names(wire_digest.format_names(["汇总", "a&b"])) == ["汇总", "a&b"]


def _payload(values, tables):
    return {"client": "t", "version": "0", "book": {"name": "b.xlsx", "active_sheet_index": 0},
            "sheets": [{"name": "结果", "values": values, "tables": tables}]}


def test_the_predicted_sheet_is_what_the_client_reads_back():
    """setValues with the text prefix, numbers that Excel stores as doubles, a clear and a
    resize: the server's prediction has the digest of the sheet as a client reads it."""
    table = {"name": "kb_scores", "range_address": "$A$1:$B$2",
             "header_row_range_address": "$A$1:$B$1", "data_body_range_address": "$A$2:$B$2",
             "show_headers": True, "show_totals": False}
    book = parse_payload(_payload([["工号", "得分"], ["E1", 1]], [table]))
    after = wire_digest.AfterAnswer(book, {})
    actions = [
        {"func": "resizeTable", "args": [0, "$A$1:$B$3"], "sheet_position": 0},
        {"func": "setValues", "values": [["'E1", 2.0], ["'=x", 2.5]], "sheet_position": 0,
         "start_row": 1, "start_column": 0, "row_count": 2, "column_count": 2},
        {"func": "rangeClearContents", "sheet_position": 0, "start_row": 0,
         "start_column": 3, "row_count": 1, "column_count": 1},
    ]
    [copy] = after.apply(actions)
    read_back = [["工号", "得分"], ["E1", 2], ["=x", 2.5]]
    tables = [["kb_scores", "A1:B3", True, False]]
    assert copy.compute_digest() == wire_digest.sheet_digest(read_back, tables)
    assert copy.tables[0]["data_body_range_address"] == "$A$2:$B$3"


def test_an_untouched_sheet_keeps_the_digest_it_came_with():
    table = {"name": "kb_summary", "range_address": "$A$1:$A$2", "show_headers": True}
    book = parse_payload(_payload([["总分"], [90]], [table]))
    [copy] = wire_digest.AfterAnswer(book, {"结果": "ab" * 32}).apply([])
    assert copy.digest == "ab" * 32 and not copy.changed


def test_stamp_placeholder_is_replaced_in_the_meta_write():
    from server.xlwire.textsafe import to_wire

    actions = [{"func": "setValues", "values": [[to_wire(wire_digest.STAMP_PLACEHOLDER)]],
                "row_count": 1, "column_count": 1}]
    assert wire_digest.stamp_digests(actions, "a=b")
    assert actions[0]["values"] == [[to_wire("a=b")]]


# --- copies stored column by column (issue #16): the same cells as the JSON copy --------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from server.xlwire.actions import _holds, _sheet_columns, _stored_classes, _Target  # noqa: E402
from server.xlwire.digest import _read_back, _read_back_block  # noqa: E402

_CELLS = st.one_of(st.booleans(), st.integers(-3, 3), st.sampled_from([0.0, 1.0, -2.5, 1e300]),
                   st.text(max_size=3), st.sampled_from(["", "E1", "'x", "a b", "#N/A",
                                                         "2021-03-01T00:00:00.000Z"]))


def _book_from(stored: bytes, values_sent=None):
    """The book a request naming sheet '结果' by digest parses to, with `stored` its copy."""
    payload = _payload([[]], [])
    return parse_payload(orjson_dumps(payload), {"结果": bytearray(stored)})


def orjson_dumps(payload) -> bytes:
    import orjson

    return orjson.dumps(payload)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4).flatmap(lambda w: st.lists(st.lists(_CELLS, min_size=w, max_size=w),
                                                     min_size=1, max_size=12)))
def test_a_column_copy_parses_to_the_cells_of_the_json_copy(rows):
    """Differential: the column form against the JSON form of the same wire cells, as the
    parse reads them (values and classes alike, 1 vs 1.0 vs True), and its columns are its
    rows' columns."""
    import orjson

    tables = TABLES
    encoded = wire_digest.encode_columns(rows, tables)
    as_json = orjson.dumps({"values": rows, "tables": tables, "cells": "wire"})
    old = _book_from(as_json).sheets[0]
    if encoded is None:  # a cell the parse converts beyond "" -> None: the JSON form
        assert any(v in ("#N/A", "2021-03-01T00:00:00.000Z") for r in rows for v in r)
        return
    assert wire_digest.is_columns(encoded)
    new = _book_from(encoded).sheets[0]
    assert new.values == old.values
    assert [list(map(type, r)) for r in new.values] == [list(map(type, r)) for r in old.values]
    assert new.tables == old.tables and old.columns is None
    assert new.columns == [list(c) for c in zip(*new.values, strict=True)]
    # the answer's comparison reads the same columns either way
    target = _Target(0, 1, {f"k{c}": c for c in range(len(rows[0]) + 1)})
    keys = list(target.column_of)
    for n in range(0, len(rows)):
        old_cols = _sheet_columns(old, target, keys, n)
        new_cols = _sheet_columns(new, target, keys, n)
        assert new_cols == old_cols
        assert {k: list(map(type, v)) for k, v in new_cols.items()} == \
            {k: list(map(type, v)) for k, v in old_cols.items()}
        # and holds the same answer columns: from the copy, the classes of the cells come
        # from its distinct values (`_stored_classes`), never a pass over the cells
        for key, have in old_cols.items():
            col = target.column_of[key]
            assert _stored_classes(new, col) is not None and _stored_classes(old, col) is None
            for values in _answer_columns(have):
                classes = set(map(type, values))
                assert _holds(new_cols[key], values, classes, new, col) == \
                    _holds(have, values, classes, old, col) == _holds(have, values, classes)


def _answer_columns(have: list) -> list[list]:
    """Columns an answer might hold up against `have`: the very cells, and cells equal to
    them of another kind (2 for 2.0, 1.0 for True, True for 1)."""
    def other(v):
        if v.__class__ is bool or v.__class__ is int:
            return float(v)
        if v.__class__ is float and v in (0.0, 1.0):
            return bool(v)
        return v
    return [list(have), list(map(other, have)),
            [int(v) if v.__class__ is float and v.is_integer() else v for v in have]]


def test_a_copy_with_rows_of_different_widths_or_odd_cells_stays_json():
    assert wire_digest.encode_columns([[1, 2], [3]], []) is None
    assert wire_digest.encode_columns([], []) is None
    assert wire_digest.encode_columns([[2 ** 70]], []) is None
    assert wire_digest.encode_columns([["#DIV/0!"]], []) is None
    assert wire_digest.encode_columns([[[1]]], []) is None


def test_the_stored_form_of_an_output_sheet_is_columns_and_reads_back_the_same():
    table = {"name": "kb_scores", "range_address": "$A$1:$B$3", "show_headers": True}
    book = parse_payload(_payload([["工号", "得分"], ["E1", 1], ["E2", ""]], [table]))
    [copy] = wire_digest.AfterAnswer(book, {}).apply([])
    copy.compute_digest()
    stored = copy.to_bytes()
    assert wire_digest.is_columns(stored)
    sheet = _book_from(stored).sheets[0]
    assert sheet.values == [["工号", "得分"], ["E1", 1], ["E2", None]]
    assert sheet.tables[0].name == "kb_scores"


def test_a_damaged_column_copy_is_a_payload_error():
    from server.xlwire.protocol import PayloadError

    stored = wire_digest.encode_columns([["a", 1], ["b", 2]], [])
    with pytest.raises(PayloadError):
        _book_from(stored[:-1])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.one_of(st.booleans(), st.integers(-2, 2), st.floats(
    allow_nan=True), st.sampled_from(["", "'", "'x", "x", "'=1"])), max_size=4), max_size=6))
def test_a_block_reads_back_as_cell_by_cell(rows):
    expected = [list(map(_read_back, row)) for row in rows]
    got = _read_back_block(rows)
    assert [list(map(repr, r)) for r in got] == [list(map(repr, r)) for r in expected]


def _trimmed_cell_by_cell(values):
    """The trim as first written, cell by cell: the reference for the fast path."""
    end = len(values)
    while end and not any(v != "" for v in values[end - 1]):
        end -= 1
    rows, width = values[:end], 0
    for row in rows:
        w = len(row)
        while w > width and row[w - 1] == "":
            w -= 1
        width = max(width, w)
    return [row[:width] + [""] * (width - len(row)) if len(row) != width else row
            for row in rows]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["", "x", 0, 1.5, False]), max_size=4), max_size=6))
def test_trimming_is_the_cell_by_cell_trim(values):
    assert wire_digest._trimmed(values) == _trimmed_cell_by_cell(values)


_WRITE_CELLS = st.one_of(st.integers(-2, 2), st.sampled_from([0.0, 2.0, 1.5]),
                         st.sampled_from(["", "'E1", "'x", "'"]), st.booleans())


@st.composite
def _sheet_and_writes(draw):
    width = draw(st.integers(1, 4))
    rows = draw(st.lists(st.lists(_CELLS.filter(lambda v: v not in (
        "#N/A", "2021-03-01T00:00:00.000Z")), min_size=width, max_size=width),
        min_size=1, max_size=8))
    rows[0][0] = "工号"  # never an empty sheet
    actions = []
    for _ in range(draw(st.integers(0, 3))):
        r0, c0 = draw(st.integers(0, len(rows) + 1)), draw(st.integers(0, width))
        h, w = draw(st.integers(1, 3)), draw(st.integers(1, 2))
        if draw(st.booleans()):
            block = [[draw(_WRITE_CELLS) for _ in range(w)] for _ in range(h)]
            actions.append({"func": "setValues", "values": block, "sheet_position": 0,
                            "start_row": r0, "start_column": c0, "row_count": h,
                            "column_count": w})
        else:
            actions.append({"func": "rangeClearContents", "sheet_position": 0,
                            "start_row": r0, "start_column": c0, "row_count": h,
                            "column_count": w})
    return rows, actions


@settings(max_examples=200, deadline=None)
@given(_sheet_and_writes())
def test_storing_a_copy_again_re_uses_only_what_it_would_encode_the_same(case):
    """Differential: the columns an answer leaves alone are stored as the copy held them;
    the bytes are exactly those of encoding the whole sheet anew."""
    rows, actions = case
    table = {"name": "kb_scores", "range_address": "$A$1:$A$1", "show_headers": True,
             "show_totals": False, "header_row_range_address": "$A$1:$A$1",
             "data_body_range_address": None, "total_row_range_address": None,
             "table_style": "", "show_autofilter": True}
    stored = wire_digest.encode_columns(rows, [table])
    assert stored is not None
    book = _book_from(stored)
    assert book.sheets[0].stored_columns is not None
    [copy] = wire_digest.AfterAnswer(book, {"结果": "ab" * 32}).apply(actions)
    copy.compute_digest()
    again = copy.to_bytes()
    anew = wire_digest.SheetCopy(copy.name, [list(r) for r in copy.values], copy.tables)
    assert again == anew.to_bytes()
