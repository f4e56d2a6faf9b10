"""Adjustment and revert commits carry the recomputed score lines and totals (`rescore`)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from server.ledger import EmployeeInfo, Kind, ScoreLine, ScoreSnapshot, TotalLine

from .conftest import ALICE, BOB, CAROL, PERIOD, adj

D = Decimal
PEOPLE = {"E1": EmployeeInfo("一", "A"), "E2": EmployeeInfo("二", "A"),
          "E3": EmployeeInfo("三", "B")}
BASE = {"E1": D(80), "E2": D(70), "E3": D(60)}


def snapshot(adjustments: dict[tuple[str, str], Decimal], employees=None) -> ScoreSnapshot:
    """What a server would compute: one indicator Q per person, base + adjustment, ranks."""
    lines = {(e, "Q"): ScoreLine(b, adjustments.get((e, "Q"), D(0)),
                                 b + adjustments.get((e, "Q"), D(0)))
             for e, b in BASE.items() if employees is None or e in employees}
    totals_of = {e: b + adjustments.get((e, "Q"), D(0)) for e, b in BASE.items()}
    totals = {e: TotalLine(t, "A" if t >= 75 else "B",
                           1 + sum(o > t for o in totals_of.values()), None)
              for e, t in totals_of.items()}
    return ScoreSnapshot(lines, totals, PEOPLE)


def rescorer(record: list):
    """A `rescore` that adds the applied cells to the adjustments so far (like the server)."""
    state: dict[tuple[str, str], Decimal] = {}

    def rescore(applied):
        record.append(applied)
        for c in applied:
            if c.new is None:
                state.pop(c.cell, None)
            else:
                state[c.cell] = c.new
        return snapshot(dict(state), {c.employee_id for c in applied})

    return rescore


def test_adjustment_commit_writes_lines_and_totals_in_the_same_commit(history):
    base = history.record_scores(PERIOD, snapshot({}), CAROL, "base")
    calls: list = []
    rescore = rescorer(calls)
    r = history.submit(PERIOD, base, {("E3", "Q"): adj("25", "大单")}, ALICE, "s1",
                       rescore=rescore)
    assert [[(c.cell, c.old, c.new) for c in applied] for applied in calls] == [
        [(("E3", "Q"), None, D(25))]]
    state = history.state_at(r.commit, PERIOD)
    assert state.scores[("E3", "Q")] == ScoreLine(D(60), D(25), D(85))
    assert state.totals["E3"] == TotalLine(D(85), "A", 1, None)
    assert state.totals["E1"] == TotalLine(D(80), "A", 2, None)  # moved down a rank
    assert state.adjustments[("E3", "Q")] == adj("25", "大单")
    # one commit: cells, the adjusted employee's score file and totals.tsv, nothing else
    files = history._changed_files(base, r.commit, f"periods/{PERIOD}")
    assert sorted(p.split("/", 2)[2].split("/")[0] for p in files) == [
        "adjustments", "scores", "totals.tsv"]
    diff = history.diff(PERIOD, base, r.commit)
    assert {(t.employee_id, t.total_delta, t.rank_delta) for t in diff.totals} == {
        ("E3", D(25), 2), ("E1", D(0), -1), ("E2", D(0), -1)}

    # the revert writes the totals back as they were
    v = history.revert(PERIOD, r.commit, BOB, "撤销", "r1", rescore=rescore)
    state = history.state_at(v.commit, PERIOD)
    assert state.scores == history.state_at(base, PERIOD).scores
    assert state.totals == history.state_at(base, PERIOD).totals
    assert history.commit_info(v.commit).kind == Kind.REVERT


def test_rescore_failure_writes_nothing(history):
    history.record_scores(PERIOD, snapshot({}), CAROL, "base")
    head = history.head()

    def broken(applied):
        raise RuntimeError("engine refused")

    with pytest.raises(RuntimeError):
        history.submit(PERIOD, head, {("E1", "Q"): adj("1")}, ALICE, "s1", rescore=broken)
    assert history.head() == head and history.commit_of("s1") is None


def test_no_scores_before_the_first_score_commit(history):
    # adjustments before any Score: only the cells (the first Score writes every score file)
    r = history.submit(PERIOD, None, {("E1", "Q"): adj("2")}, ALICE, "s1",
                       rescore=lambda applied: snapshot({("E1", "Q"): D(2)}))
    state = history.state_at(r.commit, PERIOD)
    assert state.scores == {} and state.totals == {}
    assert state.adjustments == {("E1", "Q"): adj("2")}


def test_conflicts_and_unchanged_totals(history):
    base = history.record_scores(PERIOD, snapshot({}), CAROL, "base")
    first = history.submit(PERIOD, base, {("E1", "Q"): adj("1")}, ALICE, "s1",
                           rescore=rescorer([]))
    calls: list = []
    # a stale submission: E1 conflicts (not passed to rescore), E2 applies
    r = history.submit(PERIOD, base, {("E1", "Q"): adj("3"), ("E2", "Q"): adj("0.5")}, BOB,
                       "s2", rescore=lambda applied: calls.append(applied) or snapshot(
                           {("E1", "Q"): D(1), ("E2", "Q"): D("0.5")}, {"E2"}))
    assert [c.cell for c in r.conflicts] == [("E1", "Q")]
    assert [[c.cell for c in applied] for applied in calls] == [[("E2", "Q")]]
    state = history.state_at(r.commit, PERIOD)
    assert state.scores[("E1", "Q")].points == D(81)  # E1's file as the first submit left it
    assert state.scores[("E2", "Q")].points == D("70.5")
    assert history.state_at(first.commit, PERIOD).totals["E1"].total == D(81)
    # a rescore that returns None writes the cells only
    r3 = history.submit(PERIOD, r.commit, {("E3", "Q"): adj("1")}, ALICE, "s3",
                        rescore=lambda applied: None)
    assert history.state_at(r3.commit, PERIOD).totals == state.totals
