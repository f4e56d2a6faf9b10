"""plan_to_actions with column lists two tables share (kb_adjustments takes kb_scores' lists
as they are): the same actions as with a copy of each list. The classes of a column are
found once per list (`actions._ClassMemo`), so a memo that mixed two lists up would show
here as a column converted or compared as another kind."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from server.xlwire.actions import plan_to_actions
from server.xlwire.plan import TableWrite, WritePlan
from tests.xlwire.test_actions import ROWS3, _book

SCORES = ["employee_id", "points", "status", "actual", "target"]
SUMMARY = ["employee_id", "name", "total", "grade", "status"]
KINDS = [
    lambda r: r.choice([1, 2, 3]),  # ints: equal to the sheet's 1, 2, 3 sometimes
    lambda r: r.choice([1.0, 2.5, float("nan")]),
    lambda r: r.choice([True, False, 1]),
    lambda r: r.choice(["x", "y", "=1+1", "", "E1"]),
    lambda r: r.choice([None, "z", 3]),
    lambda r: r.choice([dt.date(2026, 1, 2), dt.datetime(2026, 1, 2, 3, 4)]),
]


def _plan(columns: dict[str, list[list[object]]], copy: bool) -> WritePlan:
    own = list if copy else (lambda values: values)
    return WritePlan(tables=[
        TableWrite.from_columns(table, list(keys), [own(v) for v in columns[table]],
                                skip_unchanged=True)
        for table, keys in (("kb_scores", SCORES), ("kb_summary", SUMMARY))],
        create_missing=frozenset({"kb_summary"}))


@pytest.mark.parametrize("seed", range(40))
def test_shared_lists_give_the_actions_of_copies(seed):
    r = random.Random(seed)
    pool = [[kind(r) for _ in range(3)] for kind in r.choices(KINDS, k=6)]
    pool.append(["E1", "E2", "E3"])  # what the sheet holds: a held column
    pool.append([1, 2, 3])
    columns = {"kb_scores": [r.choice(pool) for _ in SCORES],
               "kb_summary": [r.choice(pool) for _ in SUMMARY]}
    shared = plan_to_actions(_book(ROWS3), _plan(columns, copy=False))
    copied = plan_to_actions(_book(ROWS3), _plan(columns, copy=True))
    assert repr(shared) == repr(copied)  # repr: NaN is not equal to itself
