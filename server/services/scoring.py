"""Scoring and submission: call the engine, store score snapshots and adjustments.

The rules themselves live in server.scoring.engine; this module decides only what is stored,
who may change which adjustment, and in what transaction.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server import policy
from server.models import Adjustment as AdjustmentRow
from server.models import AdjustmentStatus, Period, ScoreRun, User
from server.scoring.model import Adjustment, Problem, ScoreInput, ScoreResult
from server.services.errors import Forbidden
from server.services.periods import digest, to_jsonable
from server.workbook.contract import Tables
from server.workbook.render import problems_message


def run_engine(inp: ScoreInput, lang: str) -> ScoreResult:
    from server.scoring.engine import score

    return score(inp, lang)


def store_run(session: Session, period: Period, inp: ScoreInput, result: ScoreResult,
              user: User, lang: str, kind: str = "score") -> ScoreRun:
    last = session.scalar(select(func.max(ScoreRun.run_no))
                          .where(ScoreRun.period_id == period.id)) or 0
    run = ScoreRun(
        period=period, run_no=last + 1, kind=kind, lang=lang, created_by=user.name,
        rules_digest=digest(inp.rules), input_digest=digest(inp),
        employee_count=len(result.employees),
        lines=to_jsonable(list(result.lines)),  # type: ignore[arg-type]
        totals=to_jsonable(list(result.employees)),  # type: ignore[arg-type]
    )
    session.add(run)
    # The period keeps the rule set that produced its latest snapshot.
    period.rules = to_jsonable(inp.rules)  # type: ignore[assignment]
    # Departments decide who may read a result (server/policy.py): keep the roster in force.
    from server.services.roster import remember_employees

    remember_employees(session, inp.employees)
    if kind == "score":
        from server.workflow import advance

        advance(session, period, "score", user)
    session.flush()
    return run


# --- submission --------------------------------------------------------------------------

Key = tuple[str, str]


def active_adjustments(session: Session, period: Period) -> dict[Key, AdjustmentRow]:
    rows = session.scalars(select(AdjustmentRow).where(
        AdjustmentRow.period_id == period.id,
        AdjustmentRow.status == AdjustmentStatus.ACTIVE.value)).all()
    return {(r.employee_id, r.indicator): r for r in rows}


# The authority rules live in the policy module (the one place deciding who may do what);
# these names stay importable from here.
ROLE_NAMES = policy.ROLE_NAMES
names_of = policy.names_of


def authority_problems(user: User, inp: ScoreInput, changed: dict[Key, Decimal],
                       tables: Tables, lang: str) -> list[Problem]:
    """Changed adjustments (new, modified or removed) the user may not make, located in the
    workbook; the reasons come from `policy.adjustment_refusals`."""
    people = {e.employee_id: e for e in inp.employees}
    problems = []
    for (employee_id, code), points in sorted(changed.items()):
        try:
            roles = inp.rules.indicator(code).adjust_roles
        except KeyError:
            roles = frozenset()
        emp = people.get(employee_id)
        change = policy.Change(employee_id, emp.department if emp else None, code, points,
                               frozenset(roles))
        reasons = policy.adjustment_refusals(user, change, lang)
        if reasons:
            problems.append(_locate_adjustment(tables, employee_id, code,
                                               "; ".join(reasons)))
    return problems


def _locate_adjustment(tables: Tables, employee_id: str, code: str, message: str) -> Problem:
    frame = tables.get("kb_adjustments")
    if frame is not None:
        for i in range(len(frame.frame)):
            if (str(frame.value(i, "employee_id") or "").strip() == employee_id
                    and str(frame.value(i, "indicator") or "").strip() == code):
                return frame.problem(i, "points", message)
    return Problem("kb_adjustments", None, None, f"{employee_id} / {code}: {message}",
                   key=(employee_id, code))


def submit(session: Session, period: Period, inp: ScoreInput, tables: Tables, user: User,
           lang: str) -> tuple[ScoreRun, ScoreResult, dict[str, int], ScoreInput]:
    """Store the workbook's adjustments and an authoritative score snapshot, atomically.

    The workbook's kb_adjustments is the full list for the period: rows that differ from the
    active ones replace them, rows that disappeared are superseded. Nothing is written when
    any change is outside the user's authority (403).
    """
    authored = tuple(dataclasses.replace(a, author=a.author or user.label)
                     for a in inp.adjustments)
    inp = dataclasses.replace(inp, adjustments=authored)
    wanted: dict[Key, Adjustment] = {(a.employee_id, a.indicator): a for a in authored}
    current = active_adjustments(session, period)
    changed: dict[Key, Decimal] = {}
    for key, adj in wanted.items():
        row = current.get(key)
        if row is None or Decimal(row.points) != adj.points or row.reason != adj.reason:
            changed[key] = adj.points
    for key, row in current.items():
        if key not in wanted:
            changed[key] = Decimal(row.points)
    problems = authority_problems(user, inp, changed, tables, lang)
    if problems:
        head = ("以下调整超出您的权限，未保存任何内容：" if lang == "zh" else
                "These adjustments are outside your authority; nothing was saved:")
        raise Forbidden(problems_message(problems, lang, intro=head))

    result = run_engine(inp, lang)
    run = store_run(session, period, inp, result, user, lang, kind="submit")
    counts = {"added": 0, "changed": 0, "removed": 0, "unchanged": 0}
    for key, row in current.items():
        if key in changed:
            row.status = AdjustmentStatus.SUPERSEDED.value
            counts["changed" if key in wanted else "removed"] += 1
        else:
            counts["unchanged"] += 1
    for key, adj in wanted.items():
        if key in changed:
            session.add(AdjustmentRow(
                period_id=period.id, employee_id=adj.employee_id, indicator=adj.indicator,
                points=adj.points, reason=adj.reason, author=user.name, author_id=user.id,
                status=AdjustmentStatus.ACTIVE.value, score_run_id=run.id))
            if key not in current:
                counts["added"] += 1
    from server.workflow import advance

    advance(session, period, "submit", user)
    session.flush()
    return run, result, counts, inp
