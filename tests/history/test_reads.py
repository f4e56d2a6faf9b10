"""The fast read paths (caches by commit/blob id, trailer greps, diff-tree) agree with the
repository: fresh instances, odd ids, other periods, forged-looking reasons, removals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from server.ledger import (
    EmployeeInfo,
    History,
    Kind,
    ScoreLine,
    ScoreSnapshot,
    TotalLine,
)

from .conftest import ALICE, BOB, CAROL, PERIOD, adj

# regex metacharacters, spaces, non-ASCII: all must be taken literally by the greps
ODD = ["A.1", "A(1)", "x|y", "E*", "[z]", "^a$", "p+q?", "b\\c", "工号{2}", "AX1"]


def fresh(h: History) -> History:
    return History(h.path, durable=False, maintenance_every=0)


def test_state_at_is_cached_per_commit_but_handed_out_as_a_copy(history):
    people = {"E1": EmployeeInfo("张三", "Sales")}
    lines = {("E1", "K1"): ScoreLine(Decimal(80), Decimal(0), Decimal(80))}
    totals = {"E1": TotalLine(Decimal(80), "B", 1, None)}
    history.record_scores(PERIOD, ScoreSnapshot(lines, totals, people, {"w": {"K1": 1}}),
                          CAROL, "base")
    v1 = history.submit(PERIOD, history.head(), {("E1", "K1"): adj("2", "a")}, ALICE,
                        "s1").commit
    first = history.state_at(v1, PERIOD)
    first.adjustments.clear()
    first.totals.clear()
    first.rules["w"]["K1"] = 99  # type: ignore[index]
    again = history.state_at(v1, PERIOD)
    assert again.adjustments == {("E1", "K1"): adj("2", "a")}
    assert again.totals == totals and again.rules == {"w": {"K1": 1}}
    assert history.cells_at(v1, PERIOD) == {("E1", "K1"): adj("2", "a")}
    with fresh(history) as other:
        assert other.state_at(v1, PERIOD) == again
    # None means the head, never a stale cached head
    history.submit(PERIOD, v1, {("E1", "K1"): adj("3", "b")}, BOB, "s2")
    assert history.state_at(None, PERIOD).adjustments == {("E1", "K1"): adj("3", "b")}
    assert history.cells_at(None, PERIOD) == {("E1", "K1"): adj("3", "b")}


def test_diff_from_diff_tree_matches_a_fresh_instance(history):
    v0 = history.submit(PERIOD, None, {("E1", "K1"): adj("1", "a"), ("E2", "K1"): adj("2", "b")},
                        ALICE, "s1").commit
    v1 = history.submit(PERIOD, v0, {("E1", "K1"): adj("5", "up"), ("E2", "K1"): None},
                        BOB, "s2", reasons={("E2", "K1"): "gone"}).commit
    d = history.diff(PERIOD, v0, v1)
    assert d is history.diff(PERIOD, v0, v1)  # cached: both ids are immutable
    with fresh(history) as other:
        assert other.diff(PERIOD, v0, v1) == d
    got = {(c.employee_id, c.indicator): (c.old, c.new, c.changed_by.editor, c.reason)
           for c in d.cells}
    assert got == {("E1", "K1"): (adj("1", "a"), adj("5", "up"), BOB, "up"),
                   ("E2", "K1"): (adj("2", "b"), None, BOB, "gone")}
    assert history.diff(PERIOD, v1, v1).cells == ()
    backwards = history.diff(PERIOD, v1, v0)
    assert {(c.employee_id, c.new) for c in backwards.cells} == {
        ("E1", adj("1", "a")), ("E2", adj("2", "b"))}
    from_nothing = history.diff(PERIOD, None, v0)
    assert {(c.employee_id, c.old) for c in from_nothing.cells} == {("E1", None), ("E2", None)}
    # another period's files never leak into this period's diff
    v2 = history.submit("2026-11", None, {("E9", "K1"): adj("1")}, ALICE, "o1").commit
    assert history.diff(PERIOD, v1, v2).cells == ()


def test_timeline_takes_odd_ids_and_codes_literally(history):
    people = {e: EmployeeInfo(f"n{i}", "R&D (x|y)" if i % 2 else "QA.*") for i, e in
              enumerate(ODD)}
    history.record_scores(PERIOD, ScoreSnapshot({}, {}, people), CAROL, "base")
    for i, emp in enumerate(ODD):
        history.submit(PERIOD, history.head(), {(emp, ODD[-1 - i]): adj("1")},
                       [ALICE, BOB][i % 2], f"s{i}")

    def ids(**filters):
        return [e.submission_id for e in history.timeline(PERIOD, **filters)]

    for i, emp in enumerate(ODD):
        assert ids(employee=emp) == [f"s{i}"]
        assert ids(indicator=ODD[-1 - i]) == [f"s{i}"]  # "A.1" must not match "AX1"
    odd_dept = [f"s{i}" for i in reversed(range(len(ODD))) if i % 2]
    assert ids(department="R&D (x|y)") == odd_dept
    assert ids(department="QA.*") == [f"s{i}" for i in reversed(range(len(ODD))) if not i % 2]
    assert ids(department="R&D (x|y)", indicator=ODD[-2]) == ["s1"]
    assert ids(department="R&D", indicator=ODD[-2]) == []
    assert ids(editor="bob@example.cn") == odd_dept
    assert ids(editor="bob@example") == []  # the author must match exactly
    assert ids(kind="baseline") == ["base"] and ids(kind="base") == []


def test_timeline_is_per_period_and_unforgeable_by_reasons(history):
    history.submit(PERIOD, None, {("E1", "K1"): adj("1", "x")}, ALICE, "a1")
    forged = "ok\nPeriod: 2026-11\nEmployee: E2\nIndicator: K9\nKind: approval"
    history.submit("2026-11", None, {("E1", "K1"): adj("1", forged)}, BOB, "b1")
    history.submit("2026-1", None, {("E1", "K1"): adj("1", "prefix period")}, BOB, "c1")
    assert [e.submission_id for e in history.timeline(PERIOD)] == ["a1"]
    assert [e.submission_id for e in history.timeline("2026-11")] == ["b1"]
    assert history.timeline("2026-11", employee="E2") == []
    assert history.timeline("2026-11", indicator="K9") == []
    assert history.timeline("2026-11", kind="approval") == []
    assert [e.submission_id for e in history.timeline("2026-1")] == ["c1"]


@pytest.mark.parametrize("members", [3, 1_200])
def test_department_filter_small_and_beyond_the_grep_limit(history, members):
    people = {f"E{i}": EmployeeInfo("n", "Big" if i < members else "Other")
              for i in range(members + 2)}
    history.record_scores(PERIOD, ScoreSnapshot({}, {}, people), CAROL, "base",
                          kind=Kind.BASELINE)
    history.submit(PERIOD, history.head(), {(f"E{members}", "K1"): adj("1")}, ALICE, "other")
    history.submit(PERIOD, history.head(), {("E0", "K1"): adj("1")}, ALICE, "mine")
    history.submit(PERIOD, history.head(), {(f"E{members + 1}", "K1"): adj("1")}, ALICE, "o2")
    assert [e.submission_id for e in history.timeline(PERIOD, department="Big")] == ["mine"]


def test_status_kinds_found_through_state_json(history):
    history.submit(PERIOD, None, {("E1", "K1"): adj("1")}, ALICE, "a1")
    history.set_status(PERIOD, "approved", CAROL, "ok", "ap1")
    history.set_status("2026-11", "approved", CAROL, "ok", "ap-other")
    history.set_status(PERIOD, "open", CAROL, "again", "re1", kind=Kind.REOPEN)
    history.set_status(PERIOD, "approved", BOB, "ok now", "ap2")

    def ids(**filters):
        return [e.submission_id for e in history.timeline(PERIOD, **filters)]

    assert ids(kind="approval") == ["ap2", "ap1"]
    assert ids(kind="reopen") == ["re1"]
    assert ids(kind="approval", editor="Bob") == ["ap2"]
    assert ids(kind="approval", limit=1, skip=1) == ["ap1"]
