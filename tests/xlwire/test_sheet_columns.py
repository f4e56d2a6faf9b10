"""server/xlwire/actions.py `_sheet_columns`: what the answer compares its columns with, cut
out of the rows one column at a time or by one transposition: the same either way."""

from __future__ import annotations

import contextlib
from operator import itemgetter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.xlwire.actions import _sheet_columns, _Target
from server.xlwire.snapshot import ColumnRows, RangeRef, SheetSnapshot


def _column_by_column(rows, target, keys, n):
    """The first written form: one itemgetter pass per key, a short row drops the key."""
    first = target.first_body_row
    body = rows[first: first + n]
    if len(body) != n or not n:
        return {}
    out = {}
    for key in keys:
        with contextlib.suppress(IndexError):
            out[key] = list(map(itemgetter(target.column_of[key]), body))
    return out


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.lists(st.sampled_from([None, 1, 1.0, True, "a", ""]), max_size=6),
                     max_size=7),
       wanted=st.lists(st.integers(0, 7), max_size=8, unique=True),
       first=st.integers(0, 2), n=st.integers(0, 6))
def test_transposing_or_not_gives_the_same_columns(rows, wanted, first, n):
    target = _Target(0, first, {f"k{c}": c for c in wanted})
    keys = list(target.column_of)
    sheet = SheetSnapshot(0, "s", rows)
    got = _sheet_columns(sheet, target, keys, n)
    expected = _column_by_column(rows, target, keys, n)
    assert got == expected
    assert all(type(v) is list for v in got.values())
    assert {k: list(map(type, v)) for k, v in got.items()} == \
        {k: list(map(type, v)) for k, v in expected.items()}


@settings(max_examples=300, deadline=None)
@given(rows=st.integers(1, 3).flatmap(lambda w: st.lists(st.lists(
           st.sampled_from([None, 1, 1.0, True, "a", ""]), min_size=w, max_size=w),
           min_size=1, max_size=7)),
       start=st.integers(-9, 9), stop=st.integers(-9, 9), step=st.sampled_from([1, 2, -1]),
       i=st.integers(-9, 9))
def test_column_rows_read_as_the_rows_would(rows, start, stop, step, i):
    """A stored copy's rows are a view of its columns (snapshot.ColumnRows): every way the
    server reads rows (length, index, slice, iteration, comparison) gives what the list of
    rows gives."""
    view = ColumnRows([list(c) for c in zip(*rows, strict=True)])
    assert len(view) == len(rows) and list(view) == rows and view == rows
    part, expected = view[start:stop:step], rows[start:stop:step]
    assert len(part) == len(expected) and list(part) == expected and part == expected
    if step == 1:  # a view of a view
        assert list(part[1:]) == expected[1:] and list(part[-2:]) == expected[-2:]
    if -len(rows) <= i < len(rows):
        assert view[i] == rows[i]
    else:
        with pytest.raises(IndexError):
            view[i]
    assert view != [*rows, [0]] and view != rows[:-1] + [["changed"]]


def test_a_sheet_sent_by_digest_reads_its_cells_from_the_copy_columns():
    from server.xlwire import digest as wire_digest

    rows = [["工号", "得分"], ["E1", 1], ["E2", None]]
    got, columns, _, _ = wire_digest.decode_columns(wire_digest.encode_columns(
        [["工号", "得分"], ["E1", 1], ["E2", ""]], []))
    sheet = SheetSnapshot(0, "s", got, columns=columns)
    assert sheet.values == rows and [sheet.cell(r, 1) for r in range(4)] == [
        "得分", 1, None, None]
    assert sheet.block(RangeRef.parse("A2:B3")) == rows[1:]
