"""Commits, reading back, conflicts, revert, timeline, trailers, scores."""

from __future__ import annotations

import random
import subprocess
from decimal import Decimal

import pytest

from server.ledger import (
    EmployeeInfo,
    History,
    Kind,
    LayoutError,
    PeriodClosed,
    ScoreLine,
    ScoreSnapshot,
    TotalLine,
    apply_edits,
    layout,
)

from .conftest import ALICE, BOB, CAROL, PERIOD, adj


def git(h: History, *args: str) -> str:
    return subprocess.run(["git", f"--git-dir={h.path}", *args], capture_output=True,
                          text=True, check=True).stdout


def test_commit_is_attributed_and_carries_trailers(history):
    r = history.submit(PERIOD, None, {("E001", "SALES"): adj("2", "客户表扬")}, ALICE, "sub-1")
    assert r.commit and r.head == r.commit and r.complete and not r.duplicate
    fmt = "%an|%ae|%cn|%ce|%(trailers:key=Kind,valueonly)|%(trailers:key=Submission-Id,valueonly)"
    out = git(history, "log", "-1", f"--format={fmt}", r.commit)
    assert out.split("|")[:4] == ["Alice 张", "alice@example.cn", "Alice 张", "alice@example.cn"]
    assert "adjustment" in out and "sub-1" in out
    trailers = git(history, "log", "-1", "--format=%(trailers:only,unfold)", r.commit)
    assert "Period: 2026-10\n" in trailers and "Employee: E001\n" in trailers
    assert "Indicator: SALES\n" in trailers and "Old: -\n" in trailers
    assert "New: +2.00\n" in trailers and 'Reason: "客户表扬"\n' in trailers
    git(history, "fsck", "--strict", "--no-dangling")


def test_blame_names_who_set_each_cell(history):
    history.submit(PERIOD, None, {("E001", "SALES"): adj("2", "a"),
                                  ("E001", "QUALITY"): adj("-1", "b")}, ALICE, "s1")
    history.submit(PERIOD, history.head(), {("E001", "QUALITY"): adj("1", "c")}, BOB, "s2")
    path = layout.adjustments_path(PERIOD, "E001")
    blame = git(history, "blame", "--line-porcelain", "main", "--", path)
    authors = [line.split(" ", 1)[1] for line in blame.splitlines() if line.startswith("author ")]
    lines = [line[1:] for line in blame.splitlines() if line.startswith("\t")]
    assert [ln.split("\t")[0] for ln in lines] == ["QUALITY", "SALES"]  # stable order
    assert authors == ["Bob", "Alice 张"]  # per cell, not per file
    assert lines[0].startswith("QUALITY\t+1.00\tc\tBob <bob@example.cn>\t")


def test_state_at_every_version_is_rebuilt_from_the_repository(history):
    rnd = random.Random(3)
    model: dict = {}
    versions = []
    for n in range(40):
        edits = {}
        for _ in range(rnd.randint(1, 3)):
            cell = (f"E{rnd.randint(1, 6)}", f"K{rnd.randint(1, 3)}")
            edits[cell] = (None if cell in model and rnd.random() < 0.3
                           else adj(str(rnd.randint(-20, 20) / 4), f"r{n}\n第二行"))
        r = history.submit(PERIOD, history.head(), edits, [ALICE, BOB][n % 2], f"s{n}",
                           reasons={c: "removed" for c, v in edits.items() if v is None})
        model = apply_edits(model, edits)
        if r.commit:
            versions.append((r.commit, dict(model)))
    for commit, expected in versions:
        assert history.state_at(commit, PERIOD).adjustments == expected
    # a fresh instance (no caches) reads the same
    with History(history.path, durable=False, maintenance_every=0) as again:
        assert again.cells_at(versions[5][0], PERIOD) == versions[5][1]


def test_conflict_reports_both_values_and_who_made_the_first(history):
    base = history.submit(PERIOD, None, {("E1", "K1"): adj("1", "start")}, CAROL, "s0").commit
    first = history.submit(PERIOD, base, {("E1", "K1"): adj("2", "alice's")}, ALICE, "s1")
    second = history.submit(PERIOD, base, {("E1", "K1"): adj("3", "bob's"),
                                           ("E2", "K1"): adj("4", "fine")}, BOB, "s2")
    assert second.commit is not None and not second.complete
    (c,) = second.conflicts
    assert c.cell == ("E1", "K1")
    assert (c.base, c.head, c.submitted) == (adj("1", "start"), adj("2", "alice's"),
                                            adj("3", "bob's"))
    assert c.head_change.author == ALICE and c.head_change.commit == first.commit
    assert [ch.cell for ch in second.applied] == [("E2", "K1")]  # the rest is committed
    assert history.cells_at(None, PERIOD) == {("E1", "K1"): adj("2", "alice's"),
                                              ("E2", "K1"): adj("4", "fine")}


def test_identical_concurrent_edit_is_not_a_conflict(history):
    base = history.submit(PERIOD, None, {("E1", "K1"): adj("1")}, CAROL, "s0").commit
    history.submit(PERIOD, base, {("E1", "K1"): adj("2", "same")}, ALICE, "s1")
    r = history.submit(PERIOD, base, {("E1", "K1"): adj("2.00", "same")}, BOB, "s2")
    assert r.conflicts == () and r.commit is None  # nothing left to change


def test_delete_versus_change_is_a_conflict(history):
    base = history.submit(PERIOD, None, {("E1", "K1"): adj("1")}, CAROL, "s0").commit
    history.submit(PERIOD, base, {("E1", "K1"): None}, ALICE, "s1",
                   reasons={("E1", "K1"): "not needed"})
    r = history.submit(PERIOD, base, {("E1", "K1"): adj("5", "more")}, BOB, "s2")
    (c,) = r.conflicts
    assert c.head is None and c.submitted == adj("5", "more") and c.head_change.author == ALICE
    assert history.cells_at(None, PERIOD) == {}


def test_same_submission_id_twice_commits_once(history):
    edits = {("E1", "K1"): adj("1")}
    r1 = history.submit(PERIOD, None, edits, ALICE, "same-id")
    r2 = history.submit(PERIOD, None, edits, ALICE, "same-id")
    assert r2.duplicate and r2.commit == r1.commit and r2.applied == r1.applied
    assert git(history, "rev-list", "--count", "main").strip() == "1"


def test_reasons_are_mandatory_and_keys_validated(history):
    with pytest.raises(ValueError):
        history.submit(PERIOD, None, {("E1", "K1"): adj("1", "  ")}, ALICE, "s1")
    with pytest.raises(LayoutError):
        history.submit(PERIOD, None, {("E1\nEmployee: X", "K1"): adj("1")}, ALICE, "s2")
    with pytest.raises(LayoutError):
        history.submit("../x", None, {("E1", "K1"): adj("1")}, ALICE, "s3")
    assert history.head() is None


@pytest.mark.parametrize("reason", [
    "客户投诉已处理，经理确认",
    "line one\nline two\n\nline four",
    "Employee: E999\nIndicator: FORGED\nOld: 1\nNew: 99\nKind: approval",
    "a: b: c",
    "<script>alert(1)</script>",
    '"quoted" \\ back\tslash',
    "---\nSigned-off-by: mallory",
])
def test_reasons_round_trip_and_cannot_forge_trailers(history, reason):
    r = history.submit(PERIOD, None, {("E1", "K1"): adj("1.5", reason)}, ALICE, "s1")
    (entry,) = history.timeline(PERIOD)
    assert entry.kind == "adjustment" and entry.submission_id == "s1"
    assert [(c.employee_id, c.indicator, c.new, c.reason) for c in entry.cells] == [
        ("E1", "K1", Decimal("1.5"), reason)]
    assert history.cells_at(r.commit, PERIOD) == {("E1", "K1"): adj("1.5", reason)}
    trailers = git(history, "log", "-1", "--format=%(trailers:only,unfold)").splitlines()
    keys = [line.split(":", 1)[0] for line in trailers if line]
    assert keys == ["Period", "Kind", "Submission-Id", "Employee", "Indicator", "Old", "New",
                    "Reason"]  # git itself sees no forged trailer
    assert "Kind: adjustment" in trailers and "Indicator: K1" in trailers


def test_revert_restores_previous_values_and_conflicts_when_changed_since(history):
    c0 = history.submit(PERIOD, None, {("E1", "K1"): adj("1", "orig"),
                                       ("E2", "K1"): adj("2", "orig")}, CAROL, "s0").commit
    c1 = history.submit(PERIOD, c0, {("E1", "K1"): adj("5", "up"),
                                     ("E2", "K1"): None, ("E3", "K1"): adj("3", "new")},
                        ALICE, "s1", reasons={("E2", "K1"): "drop"}).commit
    history.submit(PERIOD, c1, {("E3", "K1"): adj("4", "changed later")}, BOB, "s2")
    r = history.revert(PERIOD, c1, BOB, "wrong month", "s3")
    assert [c.cell for c in r.conflicts] == [("E3", "K1")]
    assert history.cells_at(None, PERIOD) == {("E1", "K1"): adj("1", "orig"),
                                              ("E2", "K1"): adj("2", "orig"),
                                              ("E3", "K1"): adj("4", "changed later")}
    info = history.commit_info(r.commit)
    assert info.kind == Kind.REVERT and info.reverts == c1 and info.author == BOB
    assert {c.reason for c in info.cells} == {"wrong month"}


def test_timeline_filters(history):
    people = {"E1": EmployeeInfo("张三", "Sales"), "E2": EmployeeInfo("李四", "QA"),
              "E3": EmployeeInfo("王五", "Sales")}
    history.record_scores(PERIOD, ScoreSnapshot({}, {}, people), CAROL, "base")
    history.submit(PERIOD, history.head(), {("E1", "K1"): adj("1")}, ALICE, "a1")
    history.submit(PERIOD, history.head(), {("E2", "K2"): adj("1")}, BOB, "b1")
    history.submit(PERIOD, history.head(), {("E3", "K2"): adj("1"), ("E2", "K1"): adj("2")},
                   ALICE, "a2")
    history.submit("2026-11", None, {("E1", "K1"): adj("1")}, ALICE, "other-period")

    def ids(**filters):
        return [e.submission_id for e in history.timeline(PERIOD, **filters)]

    assert ids() == ["a2", "b1", "a1", "base"]
    assert ids(employee="E2") == ["a2", "b1"]
    assert ids(indicator="K1") == ["a2", "a1"]
    assert ids(employee="E2", indicator="K2") == ["b1"]
    assert ids(department="Sales") == ["a2", "a1"]
    assert ids(department="Sales", indicator="K1") == ["a1"]
    assert ids(editor="bob@example.cn") == ["b1"]
    assert ids(editor="Alice 张") == ["a2", "a1"]
    assert ids(kind="baseline") == ["base"]
    assert ids(limit=2) == ["a2", "b1"] and ids(limit=2, skip=2) == ["a1", "base"]
    assert ids(department="Nobody") == []


def test_cell_history_lists_each_value_with_who_and_why(history):
    history.submit(PERIOD, None, {("E1", "K1"): adj("1", "first")}, ALICE, "s1")
    history.submit(PERIOD, history.head(), {("E1", "K2"): adj("9", "other cell")}, BOB, "s2")
    history.submit(PERIOD, history.head(), {("E1", "K1"): adj("2", "second")}, BOB, "s3")
    history.submit(PERIOD, history.head(), {("E1", "K1"): None}, CAROL, "s4",
                   reasons={("E1", "K1"): "gone"})
    versions = history.cell_history(PERIOD, "E1", "K1")
    assert [(v.value, v.change.author.name, v.change.submission_id) for v in versions] == [
        (adj("1", "first"), "Alice 张", "s1"), (adj("2", "second"), "Bob", "s3"),
        (None, "Carol", "s4")]
    assert versions[-1].change.cells[0].reason == "gone"


def test_diff_names_changed_cells_who_and_reason_and_totals(history):
    lines = {("E1", "K1"): ScoreLine(Decimal(80), Decimal(0), Decimal(80)),
             ("E2", "K1"): ScoreLine(Decimal(90), Decimal(0), Decimal(90))}
    totals = {"E1": TotalLine(Decimal(80), "B", 2, 1), "E2": TotalLine(Decimal(90), "A", 1, 1)}
    v0 = history.record_scores(PERIOD, ScoreSnapshot(lines, totals, rules={"v": 1}), CAROL,
                               "base")
    history.submit(PERIOD, v0, {("E1", "K1"): adj("15", "great"), ("E2", "K1"): adj("1", "x")},
                   ALICE, "s1")
    history.submit(PERIOD, history.head(), {("E2", "K1"): None}, BOB, "s2",
                   reasons={("E2", "K1"): "undo"})
    lines2 = {("E1", "K1"): ScoreLine(Decimal(80), Decimal(15), Decimal(95)),
              ("E2", "K1"): ScoreLine(Decimal(90), Decimal(0), Decimal(90))}
    totals2 = {"E1": TotalLine(Decimal(95), "A", 1, 1), "E2": TotalLine(Decimal(90), "A", 2, 1)}
    v3 = history.record_scores(PERIOD, ScoreSnapshot(lines2, totals2), CAROL, "re",
                               kind=Kind.RESCORE)
    d = history.diff(PERIOD, v0, v3)
    rows = [(c.employee_id, c.indicator, c.old, c.new, c.changed_by.editor.name, c.reason)
            for c in d.cells]
    # E2 K1 was added and removed in between: not a difference between v0 and v3
    assert rows == [("E1", "K1", None, adj("15", "great"), "Alice 张", "great")]
    assert [(s.employee_id, s.old.points, s.new.points) for s in d.scores] == [
        ("E1", Decimal(80), Decimal(95))]
    assert [(t.employee_id, t.total_delta, t.rank_delta) for t in d.totals] == [
        ("E1", Decimal(15), 1), ("E2", Decimal(0), -1)]
    backwards = history.diff(PERIOD, v3, v0)
    assert [(c.old, c.new) for c in backwards.cells] == [(adj("15", "great"), None)]
    snap = history.state_at(v3, PERIOD)
    assert snap.rules == {"v": 1} and snap.totals == totals2 and snap.scores == lines2


def test_diff_reports_removal_with_who_removed(history):
    v0 = history.submit(PERIOD, None, {("E1", "K1"): adj("1", "a")}, ALICE, "s1").commit
    history.submit(PERIOD, v0, {("E1", "K1"): None}, BOB, "s2", reasons={("E1", "K1"): "why"})
    (c,) = history.diff(PERIOD, v0, history.head()).cells
    assert c.new is None and c.changed_by.editor == BOB and c.reason == "why"


def test_approval_closes_the_period_until_reopened(history):
    history.submit(PERIOD, None, {("E1", "K1"): adj("1")}, ALICE, "s1")
    history.set_status(PERIOD, "approved", CAROL, "looks right", "ap1")
    with pytest.raises(PeriodClosed):
        history.submit(PERIOD, history.head(), {("E1", "K1"): adj("2")}, ALICE, "s2")
    history.set_status(PERIOD, "open", CAROL, "send back: check E1", "re1", kind=Kind.REOPEN)
    assert history.submit(PERIOD, history.head(), {("E1", "K1"): adj("2")}, ALICE, "s2").commit
    kinds = [e.kind for e in history.timeline(PERIOD)]
    assert kinds == ["adjustment", "reopen", "approval", "adjustment"]
    assert history.status(PERIOD)["status"] == "open"


def test_rescore_with_same_content_commits_nothing(history):
    snap = ScoreSnapshot({("E1", "K1"): ScoreLine(Decimal(1), Decimal(0), Decimal(1))},
                         {"E1": TotalLine(Decimal(1), None, 1, None)})
    assert history.record_scores(PERIOD, snap, CAROL, "b1")
    assert history.record_scores(PERIOD, snap, CAROL, "b2", kind=Kind.RESCORE) is None


def test_holds_scores_until_the_head_moves(history):
    snap = ScoreSnapshot({("E1", "K1"): ScoreLine(Decimal(1), Decimal(0), Decimal(1))},
                         {"E1": TotalLine(Decimal(1), None, 1, None)})
    assert not history.holds_scores(PERIOD, "fp1")  # nothing recorded yet
    history.record_scores(PERIOD, snap, CAROL, "b1", fingerprint="fp1")
    assert history.holds_scores(PERIOD, "fp1")
    assert not history.holds_scores(PERIOD, "fp2") and not history.holds_scores("2026-11", "fp1")
    # found there already (nothing to commit): held at the same head
    assert history.record_scores(PERIOD, snap, CAROL, "b2", kind=Kind.RESCORE,
                                 fingerprint="fp1") is None
    assert history.holds_scores(PERIOD, "fp1")
    # any commit moves the head: the scores must be compared again
    history.submit(PERIOD, history.head(), {("E1", "K1"): adj("1")}, ALICE, "s1")
    assert not history.holds_scores(PERIOD, "fp1")
    # another History on the same repository (another process) knows nothing
    other = History(history.path, durable=False, maintenance_every=0)
    try:
        other.record_scores(PERIOD, snap, CAROL, "b3", kind=Kind.RESCORE, fingerprint="fp1")
        assert other.holds_scores(PERIOD, "fp1") and not history.holds_scores(PERIOD, "fp1")
    finally:
        other.close()


def test_odd_employee_ids_stay_file_names(history):
    cells = {("A/1", "K1"): adj("1"), ("..", "K1"): adj("2"), ("工号7", "K1"): adj("3")}
    history.submit(PERIOD, None, cells, ALICE, "s1")
    assert history.cells_at(None, PERIOD) == cells
    files = git(history, "ls-tree", "-r", "--name-only", "main").split()
    assert all(f.count("/") == 4 for f in files)


def test_large_rescore_writes_only_changed_files_and_is_fsck_clean(history):
    # 300 employees: the baseline's blobs go into one pack, later re-scores write loose
    # objects for the changed files only; the trees equal a from-scratch write.
    people = [f"E{i:03d}" for i in range(300)]
    lines = {(e, k): ScoreLine(Decimal(i % 7), Decimal(0), Decimal(i % 7))
             for i, e in enumerate(people) for k in ("K1", "K2")}
    totals = {e: TotalLine(Decimal(i % 7) * 2, "B", i + 1, None) for i, e in enumerate(people)}
    v0 = history.record_scores(PERIOD, ScoreSnapshot(lines, totals, rules={"v": 1}), CAROL,
                               "base")
    assert list((history.path / "objects" / "pack").glob("*.pack"))
    assert history.state_at(v0, PERIOD).scores == lines
    same = ScoreSnapshot(dict(lines), dict(totals), rules={"v": 1})
    assert history.record_scores(PERIOD, same, CAROL, "same", kind=Kind.RESCORE) is None
    lines2 = {cell: line for cell, line in lines.items() if cell[0] != "E299"}
    lines2[("E007", "K1")] = ScoreLine(Decimal(9), Decimal(1), Decimal(10))
    totals2 = {e: t for e, t in totals.items() if e != "E299"}
    v1 = history.record_scores(PERIOD, ScoreSnapshot(lines2, totals2, rules={"v": 1}), CAROL,
                               "re", kind=Kind.RESCORE)
    changed = git(history, "diff-tree", "-r", "--name-only", "--no-commit-id", v0, v1).split()
    assert sorted(changed) == sorted([layout.scores_path(PERIOD, "E007"),
                                      layout.scores_path(PERIOD, "E299"),
                                      f"periods/{PERIOD}/{layout.TOTALS}"])
    snap = history.state_at(v1, PERIOD)
    assert snap.scores == lines2 and snap.totals == totals2 and snap.rules == {"v": 1}
    git(history, "fsck", "--strict", "--no-dangling")
