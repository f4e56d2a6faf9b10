"""The column fast paths of plan_to_actions give exactly what to_wire gives cell by cell."""

import datetime as dt
from decimal import Decimal

import pytest

from server.xlwire.actions import _column_to_wire
from server.xlwire.textsafe import to_wire

INF, NAN = float("inf"), float("nan")


@pytest.mark.parametrize("column", [
    [1.5, None, 2, True, None], [None, 3, 4], [None, "a", "", None, "=x", "+1"],
    [1.0, NAN, None], [None, INF], [INF, -INF, None], [1e308, 1e308, None],
    ["a", None, 1.5], [Decimal("2.50"), None], [dt.date(2026, 10, 1), None], [None, None],
    ["=SUM(A1)", "00123"], [1, 2.5], [],
])
def test_same_as_to_wire(column):
    got = _column_to_wire(list(column), {v.__class__ for v in column})
    assert [repr(v) for v in got] == [repr(to_wire(v)) for v in column]
