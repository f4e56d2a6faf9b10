"""`kpibook verify`: the git history and the database tell the same story.

Checks (each discrepancy is one line of the report; the command exits 1 when there is any):

0. Every period's code is a period code (server/periodcode.py); one stored before codes were
   checked is reported, and skipped by the checks that need its git paths.
1. `git fsck --full` of KPIBOOK_HISTORY_DIR.
2. Every history commit's Submission-Id is in the database (history_commits, or a workflow
   event `event-<id>`), with the same commit; an adjustment/revert commit's cells equal the
   Adjustment rows written for that submission (points and reason).
3. Every database submission (history_commits row, Adjustment row) is in git, same commit,
   same values.
4. The state at the head equals the database's current (active) adjustments, per period.
5. Every stored score run recomputes to its stored figures: each line's points = base +
   adjustment, each employee's total = the sum of the line points (capped by the period's
   total_cap). A run records the digest of its engine input, not the input itself, so the
   rule results (base points) are taken as stored; see docs/deploy.md.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from flask import Flask
from sqlalchemy import select

ADJUSTING_KINDS = ("adjustment", "revert")


@dataclass(frozen=True)
class Discrepancy:
    check: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.message}"


def _dec(value) -> Decimal | None:
    if value in (None, "", "-"):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def verify(app: Flask, limit: int = 200) -> tuple[list[Discrepancy], dict[str, int]]:
    """(discrepancies, figures checked). `limit` caps the lines reported per check."""
    from server.db import session_scope
    from server.models import Adjustment, HistoryCommit, Period, PeriodEvent, ScoreRun
    from server.services.history import history_for
    from server.services.periods import bad_codes
    from server.services.scoring import active_adjustments

    found: list[Discrepancy] = []
    per_check: dict[str, int] = {}
    figures = {"commits": 0, "db_submissions": 0, "adjustment_rows": 0, "periods": 0,
               "score_runs": 0}

    def report(check: str, message: str) -> None:
        per_check[check] = per_check.get(check, 0) + 1
        if per_check[check] <= limit:
            found.append(Discrepancy(check, message))
        elif per_check[check] == limit + 1:
            found.append(Discrepancy(check, f"... more (only the first {limit} shown)"))

    repo = Path(os.path.realpath(str(app.config["HISTORY_DIR"])))
    has_history = (repo / "HEAD").exists()
    if has_history:
        proc = subprocess.run(["git", f"--git-dir={repo}", "fsck", "--full", "--no-progress"],
                              capture_output=True, text=True, timeout=3600)
        if proc.returncode != 0:
            for line in (proc.stderr + proc.stdout).strip().splitlines() or ["(no output)"]:
                report("git fsck", line)
    history = history_for(app) if has_history else None
    commits = history.recover(()) if history is not None else []  # every commit, oldest first
    figures["commits"] = len(commits)
    by_sid = {info.submission_id: info for info in commits}

    with session_scope(app) as s:
        periods = {p.id: p for p in s.scalars(select(Period))}
        db_commits = {h.submission_id: h for h in s.scalars(select(HistoryCommit))}
        events = {f"event-{i}" for i in s.scalars(select(PeriodEvent.id))}
        rows_by_sid: dict[str, list[Adjustment]] = {}
        all_rows = list(s.scalars(select(Adjustment).order_by(Adjustment.id)))
        for row in all_rows:
            rows_by_sid.setdefault(row.submission_id or "", []).append(row)
        figures["db_submissions"] = len(db_commits)
        figures["adjustment_rows"] = len(all_rows)

        # 2. git -> database
        for info in commits:
            sid, short = info.submission_id, info.commit[:12]
            if sid.endswith(".review") or sid in events:
                continue
            row = db_commits.get(sid)
            if row is None:
                report("git->db", f"commit {short} ({info.kind}, period {info.period}, "
                       f"Submission-Id {sid}) is not in the database")
                continue
            if row.commit and row.commit != info.commit:
                report("git->db", f"Submission-Id {sid}: git commit {short}, the database "
                       f"says {row.commit[:12]}")
            if info.kind in ADJUSTING_KINDS:
                stored = {(r.employee_id, r.indicator): r for r in rows_by_sid.get(sid, [])}
                for c in info.cells:
                    r = stored.pop(c.cell, None)
                    if c.new is None:
                        if r is not None:
                            report("git->db", f"Submission-Id {sid} {c.employee_id} "
                                   f"{c.indicator}: git removes the adjustment, the database "
                                   f"has {r.points}")
                        continue
                    if r is None:
                        report("git->db", f"Submission-Id {sid} {c.employee_id} {c.indicator}:"
                               f" git {c.new:+}, no database row")
                    elif Decimal(r.points) != c.new or r.reason != c.reason:
                        report("git->db", f"Submission-Id {sid} {c.employee_id} {c.indicator}:"
                               f" git {c.new:+} {c.reason!r}, database {Decimal(r.points):+} "
                               f"{r.reason!r} (row {r.id})")
                for (emp, code), r in stored.items():
                    report("db->git", f"Submission-Id {sid} {emp} {code}: database row {r.id} "
                           f"({r.points}) is not among the commit's cells")

        # 3. database -> git
        for sid, row in db_commits.items():
            if sid not in by_sid and row.commit is not None:
                report("db->git", f"Submission-Id {sid} ({row.kind}, commit "
                       f"{(row.commit or '')[:12]}) is in the database but not in git")
        for sid, rows in rows_by_sid.items():
            if not sid:
                for r in rows:
                    report("db->git", f"adjustment row {r.id} ({r.employee_id} {r.indicator} "
                           f"{r.points}) has no submission: it was never committed to git")
            elif sid not in by_sid:
                for r in rows:
                    report("db->git", f"adjustment row {r.id} ({r.employee_id} {r.indicator} "
                           f"{r.points}, Submission-Id {sid}) is not in git")
            else:
                for r in rows:
                    if r.commit and r.commit != by_sid[sid].commit:
                        report("db->git", f"adjustment row {r.id}: commit {r.commit[:12]}, "
                               f"git has {sid} as {by_sid[sid].commit[:12]}")

        # 0. period codes: one stored before codes were checked (server/periodcode.py) is
        # reported; its git paths cannot exist, so check 4 passes it by
        refused = bad_codes(s)
        bad = {period.id for period, _why in refused}
        for period, why in refused:
            report("period code", f"period id {period.id} ({period.state}): {why}; its pages "
                   f"and buttons refuse it (give it a valid code in the database, or delete "
                   f"it)")

        # 4. state at head == current adjustments
        for period in periods.values():
            figures["periods"] += 1
            if period.id in bad:
                continue
            git_cells = history.cells_at(None, period.code) if history is not None else {}
            db_cells = active_adjustments(s, period)
            for cell in sorted(set(git_cells) | set(db_cells)):
                g, d = git_cells.get(cell), db_cells.get(cell)
                if g is None:
                    report("head", f"{period.code} {cell[0]} {cell[1]}: database "
                           f"{Decimal(d.points):+} (row {d.id}), no adjustment at the git head")
                elif d is None:
                    report("head", f"{period.code} {cell[0]} {cell[1]}: git head {g.points:+}, "
                           f"no active adjustment in the database")
                elif g.points != Decimal(d.points) or g.reason != d.reason:
                    report("head", f"{period.code} {cell[0]} {cell[1]}: git head {g.points:+} "
                           f"{g.reason!r}, database {Decimal(d.points):+} {d.reason!r} "
                           f"(row {d.id})")

        # 5. score runs recompute to their figures
        for run in s.scalars(select(ScoreRun).order_by(ScoreRun.id)):
            figures["score_runs"] += 1
            period = periods.get(run.period_id)
            cap = _dec(((period.rules if period else None) or {}).get("total_cap"))
            sums: dict[str, Decimal] = {}
            for ln in run.lines or ():
                base, adj, pts = (_dec(ln.get("base_points")), _dec(ln.get("adjustment")),
                                  _dec(ln.get("points")))
                if pts is not None:
                    sums[ln["employee_id"]] = sums.get(ln["employee_id"], Decimal(0)) + pts
                if base is not None and pts is not None and base + (adj or 0) != pts:
                    report("score run", f"{period.code if period else run.period_id} run "
                           f"{run.run_no}: {ln['employee_id']} {ln['indicator']} base "
                           f"{base} + adjustment {adj or 0} != stored points {pts}")
            for t in run.totals or ():
                total = _dec(t.get("total"))
                if total is None:
                    continue
                expected = sums.get(t["employee_id"], Decimal(0))
                if cap is not None:
                    expected = min(expected, cap)
                if expected != total:
                    report("score run", f"{period.code if period else run.period_id} run "
                           f"{run.run_no}: {t['employee_id']} total {total}, its lines add up "
                           f"to {expected}")
    return found, figures
