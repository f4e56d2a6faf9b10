"""server/xlwire/actions.py `_sheet_columns`: what the answer compares its columns with, cut
out of the rows one column at a time or by one transposition: the same either way."""

from __future__ import annotations

import contextlib
from operator import itemgetter

from hypothesis import given, settings
from hypothesis import strategies as st

from server.xlwire.actions import _sheet_columns, _Target
from server.xlwire.snapshot import SheetSnapshot


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
