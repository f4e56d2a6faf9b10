"""Scoring and submission: call the engine, store score snapshots and adjustments.

The rules themselves live in server.scoring.engine; this module decides only what is stored,
who may change which adjustment, and in what transaction.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import Adjustment as AdjustmentRow
from server.models import AdjustmentStatus, Period, PeriodState, Role, ScoreRun, User
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
    if period.state == PeriodState.OPEN.value:
        period.state = PeriodState.SCORED.value
    session.flush()
    return run


# --- submission --------------------------------------------------------------------------

Key = tuple[str, str]


def active_adjustments(session: Session, period: Period) -> dict[Key, AdjustmentRow]:
    rows = session.scalars(select(AdjustmentRow).where(
        AdjustmentRow.period_id == period.id,
        AdjustmentRow.status == AdjustmentStatus.ACTIVE.value)).all()
    return {(r.employee_id, r.indicator): r for r in rows}


# What HR writes in the rules table's "Adjustable by" column for each role. An executive
# may do what a department head may (the general manager outranks directors).
ROLE_NAMES = {
    Role.HR_ADMIN.value: {"hr_admin", "hr", "人力资源部", "人力资源", "人事部"},
    Role.DEPT_HEAD.value: {"dept_head", "部门总监", "部门负责人", "部门经理", "部门主管",
                           "department head", "director"},
    Role.EXECUTIVE.value: {"executive", "总经理", "高管", "副总经理", "general manager", "ceo"},
}


def names_of(user: User) -> set[str]:
    """Every name an 'Adjustable by' cell may use for this user (compared case-folded)."""
    names = {user.role, user.name, user.display_name, *ROLE_NAMES.get(user.role, ())}
    if user.role == Role.EXECUTIVE.value:
        names |= ROLE_NAMES[Role.DEPT_HEAD.value]
    names |= set((user.authority or {}).get("titles") or ())
    return {n.strip().casefold() for n in names if n}


def authority_problems(user: User, inp: ScoreInput, changed: dict[Key, Decimal],
                       tables: Tables, lang: str) -> list[Problem]:
    """Changed adjustments (new, modified or removed) the user may not make.

    HR admins are bounded only by the rules table's limits (which the engine checks). Others
    need: their role or name in the indicator's 'Adjustable by' (when it is set) and, from the
    authority stored on the user, the employee's department, the indicator and max points.
    """
    if user.role == Role.HR_ADMIN.value:
        return []
    if user.role not in (Role.EXECUTIVE.value, Role.DEPT_HEAD.value):
        return [Problem("kb_adjustments", None, None,
                        f"角色 {user.role} 不能调整分数" if lang == "zh" else
                        f"role {user.role} may not adjust scores")] if changed else []
    auth = user.authority or {}
    departments = set(auth.get("departments") or ())
    indicators = set(auth.get("indicators") or ())
    max_points = Decimal(str(auth["max_points"])) if auth.get("max_points") else None
    people = {e.employee_id: e for e in inp.employees}
    who = names_of(user)
    problems = []
    for (employee_id, code), points in sorted(changed.items()):
        reasons = []
        try:
            ind = inp.rules.indicator(code)
        except KeyError:
            ind = None
        if ind is not None and ind.adjust_roles and not (
                who & {r.strip().casefold() for r in ind.adjust_roles}):
            reasons.append(f"指标 {code} 只能由 {'、'.join(sorted(ind.adjust_roles))} 调整"
                           if lang == "zh" else
                           f"indicator {code} may only be adjusted by "
                           f"{', '.join(sorted(ind.adjust_roles))}")
        emp = people.get(employee_id)
        if departments and (emp is None or emp.department not in departments):
            reasons.append("该员工不在您的授权部门内" if lang == "zh" else
                           "the employee is outside your departments")
        if indicators and code not in indicators:
            reasons.append(f"您无权调整指标 {code}" if lang == "zh" else
                           f"you may not adjust indicator {code}")
        if max_points is not None and abs(points) > max_points:
            reasons.append(f"超过您的调整上限 ±{max_points} 分" if lang == "zh" else
                           f"more than your limit of ±{max_points} points")
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
    period.state = PeriodState.SUBMITTED.value
    session.flush()
    return run, result, counts, inp
