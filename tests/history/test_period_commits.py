"""period_commits: the per-process index of commits that change no cell (baseline, re-score,
approval, reopen) equals a full walk of the history, and follows the head incrementally."""

from __future__ import annotations

import subprocess

from server.ledger import EmployeeInfo, History, Kind, ScoreLine, ScoreSnapshot, TotalLine
from server.ledger.store import PERIOD_LEVEL_KINDS

from .conftest import ALICE, BOB, CAROL, PERIOD, adj

OTHER = "2026-11"


def _walk(history: History, period: str) -> list[str]:
    """The old way: every commit of the branch, filtered in Python."""
    return [i.commit for i in history.timeline(period, limit=None)
            if i.kind in PERIOD_LEVEL_KINDS]


def _snap(points: str) -> ScoreSnapshot:
    from decimal import Decimal

    d = Decimal(points)
    return ScoreSnapshot({("E1", "Q"): ScoreLine(d, Decimal(0), d)},
                         {"E1": TotalLine(d, "A", 1, 1)}, {"E1": EmployeeInfo("一", "A")})


def test_index_equals_a_full_walk_and_follows_the_head(history):
    history.record_scores(PERIOD, _snap("80"), CAROL, "base")
    history.record_scores(OTHER, _snap("70"), CAROL, "base-other")
    history.submit(PERIOD, None, {("E1", "Q"): adj("1")}, ALICE, "s1")
    history.set_status(PERIOD, "approved", BOB, "ok", "e1")
    first = history.period_commits(PERIOD)
    assert [i.commit for i in first] == _walk(history, PERIOD)
    assert [i.kind for i in first] == ["approval", "baseline"]
    assert [i.kind for i in history.period_commits(OTHER)] == ["baseline"]

    # new commits after the index was built: only they are read
    history.set_status(PERIOD, "in_review", CAROL, "again", "e2", kind=Kind.REOPEN)
    history.submit(PERIOD, None, {("E1", "Q"): adj("2")}, ALICE, "s2")
    history.record_scores(PERIOD, _snap("81"), CAROL, "re", kind=Kind.RESCORE)
    assert [i.commit for i in history.period_commits(PERIOD)] == _walk(history, PERIOD)
    assert [i.kind for i in history.period_commits(PERIOD)] == [
        "rescore", "reopen", "approval", "baseline"]

    # timeline(kind=...) answers from the index, with editor, skip and limit
    assert [i.kind for i in history.timeline(PERIOD, kind="approval")] == ["approval"]
    assert history.timeline(PERIOD, kind="reopen", editor=BOB.email) == []
    assert [i.author for i in history.timeline(PERIOD, kind="reopen", editor=CAROL.name)] == [
        CAROL]
    assert history.timeline(PERIOD, kind="baseline", employee="E1") == []
    assert len(history.timeline(PERIOD, kind="baseline", limit=1, skip=1)) == 0

    # a fresh instance (another process) builds the same index with one walk
    other = History(history.path, durable=False, maintenance_every=0)
    try:
        assert ([i.commit for i in other.period_commits(PERIOD)]
                == [i.commit for i in history.period_commits(PERIOD)])
    finally:
        other.close()


def test_index_starts_over_when_the_head_does_not_descend(history):
    history.record_scores(PERIOD, _snap("80"), CAROL, "base")
    history.set_status(PERIOD, "approved", BOB, "ok", "e1")
    assert len(history.period_commits(PERIOD)) == 2
    # a restored repository: the branch moved back to the baseline, then on elsewhere
    base = history.timeline(PERIOD, kind="baseline")[0].commit
    subprocess.run(["git", f"--git-dir={history.path}", "update-ref", "refs/heads/main", base],
                   check=True)
    history.set_status(PERIOD, "in_review", CAROL, "x", "e9", kind=Kind.REOPEN)
    assert [i.kind for i in history.period_commits(PERIOD)] == ["reopen", "baseline"]
    assert [i.commit for i in history.period_commits(PERIOD)] == _walk(history, PERIOD)


def _filtered(history: History, period: str, employee: str, indicator=None, kind=None,
              editor=None) -> list[str]:
    """The old way: the full walk, filtered in Python."""
    return [i.commit for i in history.timeline(period, limit=None)
            if any(c.employee_id == employee and indicator in (None, c.indicator)
                   for c in i.cells)
            and kind in (None, i.kind) and editor in (None, i.author.name, i.author.email)]


def test_employee_timeline_from_the_index_equals_the_full_walk(history):
    import random

    rnd = random.Random(3)
    history.record_scores(PERIOD, _snap("80"), CAROL, "base")
    people, codes, editors = ["E1", "E2", "E/3"], ["Q", "S"], [ALICE, BOB]

    def churn(n: int, start: int) -> None:
        for i in range(start, start + n):
            period = rnd.choice([PERIOD, PERIOD, OTHER])
            edits = {(rnd.choice(people), rnd.choice(codes)): adj(str(rnd.randint(-3, 3)),
                                                                  f"r{i}")
                     for _ in range(rnd.randint(1, 2))}
            r = history.submit(period, None, edits, rnd.choice(editors), f"s{i}")
            if r.commit and i % 7 == 0:
                history.revert(period, r.commit, CAROL, "undo", f"v{i}")

    churn(40, 0)
    cases = [dict(), dict(indicator="Q"), dict(kind="revert"), dict(editor=BOB.email)]
    for emp in people + ["nobody"]:
        for case in cases:
            want = _filtered(history, PERIOD, emp, **case)
            got = [i.commit for i in history.timeline(PERIOD, employee=emp, limit=None, **case)]
            assert got == want, (emp, case)
            assert [i.commit for i in history.timeline(
                PERIOD, employee=emp, limit=3, skip=2, **case)] == want[2:5]
    churn(15, 100)  # the index follows the head
    for emp in people:
        assert ([i.commit for i in history.timeline(PERIOD, employee=emp, limit=None)]
                == _filtered(history, PERIOD, emp))
        assert ([i.commit for i in history.timeline(OTHER, employee=emp, limit=None)]
                == _filtered(history, OTHER, emp))


def test_cell_history_from_the_index_equals_the_walk_of_the_file(history):
    """cell_history reads only the index's commits; the versions are those of a walk of
    the employee's file (`git log --raw -- <file>`, the old way)."""
    from server.ledger import layout

    head = history.head
    history.submit(PERIOD, head(), {("E1", "Q"): adj("1", "a"), ("E2", "Q"): adj("2")}, ALICE,
                   "s1")
    history.submit(PERIOD, head(), {("E1", "S"): adj("1")}, BOB, "s2")  # E1's file, not Q
    r = history.submit(PERIOD, history.head(), {("E1", "Q"): adj("3", "b")}, BOB, "s3")
    history.submit(OTHER, history.head(), {("E1", "Q"): adj("9")}, BOB, "s4")  # another period
    history.revert(PERIOD, r.commit, CAROL, "undo", "v3")
    history.submit(PERIOD, head(), {("E1", "Q"): None}, ALICE, "s5",
                   reasons={("E1", "Q"): "x"})
    path = layout.adjustments_path(PERIOD, "E1")
    walked = subprocess.run(["git", f"--git-dir={history.path}", "log", "--format=%H",
                             "--reverse", "main", "--", path],
                            capture_output=True, text=True, check=True).stdout.split()
    versions = history.cell_history(PERIOD, "E1", "Q")
    assert [v.change.submission_id for v in versions] == ["s1", "s3", "v3", "s5"]
    assert [v.value.points if v.value else None for v in versions] == [1, 3, 1, None]
    assert {v.change.commit for v in versions} <= set(walked) and len(walked) == 5
    assert history.cell_history(PERIOD, "E1", "S")[0].change.submission_id == "s2"
    assert history.cell_history(PERIOD, "nobody", "Q") == []


def test_warm_builds_the_index_up_to_the_head(history):
    history.record_scores(PERIOD, _snap("80"), CAROL, "base")
    history.submit(PERIOD, None, {("E1", "Q"): adj("1")}, ALICE, "s1")
    assert history._index_state[0] is None  # nothing read yet
    history.warm()
    assert history._index_state[0] == history.head()
    assert [i.kind for i in history.period_commits(PERIOD)] == ["baseline"]
