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

from server.services import stored_run

ADJUSTING_KINDS = ("adjustment", "revert")


@dataclass(frozen=True)
class Discrepancy:
    check: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.message}"


def _dec(value) -> Decimal | None:
    """A stored figure as a finite Decimal; None when blank or not a number (NaN, Infinity,
    text): the caller reports what it cannot check."""
    if value is None or isinstance(value, bool) or value in ("", "-"):
        return None
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def _why(exc: BaseException) -> str:
    """One line saying why: git's last words (`fatal: ... is corrupt`), else the error."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return f"{type(exc).__name__}: {lines[-1] if lines else ''}"[:300]


def verify(app: Flask, limit: int = 200) -> tuple[list[Discrepancy], dict[str, int]]:
    """(discrepancies, figures checked). `limit` caps the lines reported per check. Never
    raises: what cannot be checked is itself a discrepancy."""
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

    try:
        _compare(app, report, figures)
    except Exception as exc:  # noqa: BLE001 - a report, never a crash (docs/deploy.md)
        report("verify", f"stopped before the end, the checks above are incomplete: "
               f"{_why(exc)}")
    return found, figures


def _compare(app: Flask, report, figures: dict[str, int]) -> None:
    from server.db import session_scope
    from server.models import Adjustment, HistoryCommit, Period, PeriodEvent, ScoreRun
    from server.services.history import history_for
    from server.services.periods import bad_codes
    from server.services.runs import active_adjustments

    repo = Path(os.path.realpath(str(app.config["HISTORY_DIR"])))
    has_history = (repo / "HEAD").exists()
    if has_history:
        try:
            proc = subprocess.run(["git", f"--git-dir={repo}", "fsck", "--full",
                                   "--no-progress"], capture_output=True, text=True,
                                  timeout=3600)
        except (OSError, subprocess.SubprocessError) as exc:
            report("git fsck", f"could not run: {_why(exc)}")
        else:
            if proc.returncode != 0:
                for line in (proc.stderr + proc.stdout).strip().splitlines() or [
                        "(no output)"]:
                    report("git fsck", line)
    history = None
    commits = []
    if has_history:
        try:
            history = history_for(app)
            commits = history.recover(())  # every commit, oldest first
        except Exception as exc:  # noqa: BLE001 - a corrupt object, an unreadable repository
            report("history", f"{repo} cannot be read, git and the database were not "
                   f"compared: {_why(exc)}")
            history = None
    figures["commits"] = len(commits)
    by_sid = {info.submission_id: info for info in commits}
    # Without a readable history only the database's own figures (5.) are checked; a missing
    # repository is reported once, and every submission the database has as not in git.
    git_known = history is not None or not has_history

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
        if not has_history and (db_commits or all_rows):
            report("history", f"{repo} is not a git repository (no HEAD), but the database "
                   f"has {len(db_commits)} submission(s): KPIBOOK_HISTORY_DIR wrong, or the "
                   f"repository lost (restore it, docs/deploy.md)")

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
        for sid, row in (db_commits if git_known else {}).items():
            if sid not in by_sid and row.commit is not None:
                report("db->git", f"Submission-Id {sid} ({row.kind}, commit "
                       f"{(row.commit or '')[:12]}) is in the database but not in git")
        for sid, rows in (rows_by_sid if git_known else {}).items():
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
            if not git_known or period.id in bad:
                continue
            try:
                git_cells = history.cells_at(None, period.history_key) \
                    if history is not None else {}
            except Exception as exc:  # noqa: BLE001 - a code git cannot hold, a bad object
                report("head", f"period {period.code!r} (id {period.id}) cannot be read from "
                       f"the history: {_why(exc)}")
                continue
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
            _check_run(run, periods.get(run.period_id), report)


def _check_run(run, period, report) -> None:
    """5. one stored score run recomputes to its figures; a line or total that is not one
    (no employee, a figure that is not a finite number) is reported, not fatal."""
    name = f"{period.code if period else run.period_id} run {run.run_no}"
    rules = period.rules if period is not None and isinstance(period.rules, dict) else {}
    raw_cap = rules.get("total_cap")
    cap = _dec(raw_cap)
    if raw_cap not in (None, "") and cap is None:
        report("score run", f"{name}: the period's total_cap {raw_cap!r} is not a number")
    sums: dict[str, Decimal] = {}
    lines = stored_run.lines(run)
    for i, ln in enumerate(lines, 1):
        if not isinstance(ln, dict) or not ln.get("employee_id"):
            report("score run", f"{name}: line {i} is not a score line: {str(ln)[:80]!r}")
            continue
        emp, code = ln["employee_id"], ln.get("indicator", "?")
        raw = {k: ln.get(k) for k in ("base_points", "adjustment", "points")}
        base, adj, pts = (_dec(raw[k]) for k in raw)
        odd = [f"{k} {v!r}" for k, v in raw.items() if v not in (None, "", "-") and
               _dec(v) is None]
        if odd:
            report("score run", f"{name}: {emp} {code}: not a number: {', '.join(odd)}")
            continue
        if pts is not None:
            sums[emp] = sums.get(emp, Decimal(0)) + pts
        if base is not None and pts is not None and base + (adj or 0) != pts:
            report("score run", f"{name}: {emp} {code} base {base} + adjustment {adj or 0} "
                   f"!= stored points {pts}")
    totals = stored_run.totals(run)
    for i, t in enumerate(totals, 1):
        if not isinstance(t, dict) or not t.get("employee_id"):
            report("score run", f"{name}: total {i} is not an employee's total: "
                   f"{str(t)[:80]!r}")
            continue
        total = _dec(t.get("total"))
        if total is None:
            if t.get("total") not in (None, "", "-"):
                report("score run", f"{name}: {t['employee_id']} total {t.get('total')!r} "
                       f"is not a number")
            continue
        expected = sums.get(t["employee_id"], Decimal(0))
        if cap is not None:
            expected = min(expected, cap)
        if expected != total:
            report("score run", f"{name}: {t['employee_id']} total {total}, its lines add up "
                   f"to {expected}")
