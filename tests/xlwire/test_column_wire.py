"""The column fast paths of textsafe.column_to_wire give exactly what to_wire gives cell by
cell (the values plan_to_actions sends)."""

import datetime as dt
from decimal import Decimal

import pytest

from server.xlwire.textsafe import column_to_wire, to_wire

INF, NAN = float("inf"), float("nan")


@pytest.mark.parametrize("column", [
    [1.5, None, 2, True, None], [None, 3, 4], [None, "a", "", None, "=x", "+1"],
    [1.0, NAN, None], [None, INF], [INF, -INF, None], [1e308, 1e308, None],
    ["a", None, 1.5], [Decimal("2.50"), None], [dt.date(2026, 10, 1), None], [None, None],
    ["=SUM(A1)", "00123"], [1, 2.5], [],
    [INF, -INF], [1e308, 1e308], [1e308, 1e308, 2.5, "B"], [NAN, "B", None],
    [1, True, 1.0, "1", None, ""] * 100,  # numbers and text mixed, few distinct
    ["E1", "", "=x", "+1", "@SUM(A1)", "-2"] * 100, [None, "ok", ""] * 100,  # few distinct
    [str(n) for n in range(300)], [*(str(n) for n in range(300)), None, ""],  # all distinct
    [True, False, None] * 100, [0, -0.0, 0.0] * 100,
])
def test_same_as_to_wire(column):
    want = [repr(to_wire(v)) for v in column]
    assert [repr(v) for v in column_to_wire(list(column), set(map(type, column)))] == want
    assert [repr(v) for v in column_to_wire(list(column))] == want
