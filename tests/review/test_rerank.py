"""Web adjustments re-rank with the engine's competition ranks: the same ranks as comparing
every pair (the definition of "1224" ranking), overall and per department."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from server.services import feedback


def _by_definition(totals: list[dict], departments: dict) -> None:
    scored = [(Decimal(str(t["total"])), t) for t in totals if t.get("total") not in (None, "")]
    for value, t in scored:
        t["rank"] = 1 + sum(1 for other, _ in scored if other > value)
        dept = departments.get(t["employee_id"])
        t["group_rank"] = 1 + sum(1 for other, o in scored if other > value
                                  and departments.get(o["employee_id"]) == dept)


@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C", None]),
                          st.one_of(st.none(), st.just(""), st.integers(60, 66),
                                    st.sampled_from(["65.5", "65.50", "61"]))),
                max_size=30))
def test_rerank_is_competition_ranking(rows):
    departments = {f"E{i}": d for i, (d, _) in enumerate(rows) if d is not None}
    totals = [{"employee_id": f"E{i}", "total": total} for i, (_, total) in enumerate(rows)]
    expected = [dict(t) for t in totals]
    _by_definition(expected, departments)
    original = feedback.departments_of
    feedback.departments_of = lambda db, ids: departments
    try:
        feedback._rerank(None, totals)
    finally:
        feedback.departments_of = original
    assert totals == expected
