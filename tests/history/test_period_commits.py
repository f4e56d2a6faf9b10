"""period_commits: the per-process index of commits that change no cell (baseline, re-score,
approval, reopen) equals a full walk of the history, and follows the head incrementally."""

from __future__ import annotations

import subprocess

from sync.history import EmployeeInfo, History, Kind, ScoreLine, ScoreSnapshot, TotalLine
from sync.history.store import PERIOD_LEVEL_KINDS

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
