"""The server's authoritative figures for the add-in's custom functions (=KPIBOOK.SCORE,
GRADE, RANK, EXPLAIN): each asked manager's total, grade, ranks and lines from the period's
latest stored score run, in one answer for a batch of cells.

Read-only. A manager the caller may not read is answered exactly like one who does not
exist (listed under "unknown"), so a formula cannot probe other departments.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import policy
from server.models import Period, PeriodState, Role, ScoreRun, User
from server.scoring.messages import msg
from server.services import feedback
from server.services.errors import BadRequest, NotFound
from server.services.periods import scorecards_of
from server.services.roster import departments_of

PUBLISHED = (PeriodState.PUBLISHED.value, PeriodState.CLOSED.value)
MAX_EMPLOYEES = 200  # per request; the add-in batches its cells in chunks of this size
LINE_KEYS = ("points", "base_points", "adjustment", "explanation", "status")
TOTAL_KEYS = ("total", "grade", "rank", "group_rank", "status")


def _month(db: Session, user: User, code: str | None, lang: str) -> list[Period]:
    """The scorecards of the month asked for, or of the newest month with a score run the
    caller may read."""
    employee = user.role == Role.EMPLOYEE.value
    if not code:
        stmt = (select(Period.code).where(Period.id.in_(select(ScoreRun.period_id)))
                .order_by(Period.code.desc()).limit(1))
        if employee:
            stmt = stmt.where(Period.state.in_(PUBLISHED))
        code = db.scalar(stmt)
        if code is None:
            raise NotFound(msg("figures.no_result", lang))
    rows = [p for p in scorecards_of(db, code) if not employee or p.state in PUBLISHED]
    if not rows:
        raise NotFound(msg("figures.no_period", lang, code=code))
    return rows


def figures(db: Session, user: User, employee_ids: list[str], period_code: str | None = None,
            *, lang: str = "zh") -> dict[str, Any]:
    policy.require(user, "result.view", lang=lang)
    wanted = list(dict.fromkeys(e.strip() for e in employee_ids if e and e.strip()))
    if not wanted:
        raise BadRequest(msg("figures.no_employee", lang))
    if len(wanted) > MAX_EMPLOYEES:
        raise BadRequest(msg("figures.too_many", lang, most=MAX_EMPLOYEES))
    month = _month(db, user, period_code, lang)
    scored = [(p, run, data) for p in month
              if (data := feedback.run_data(db, run := feedback.latest_run_light(db, p)))]
    if not scored:
        raise NotFound(msg("figures.no_result_of_period", lang, period=month[0].code))
    departments = departments_of(db, wanted)
    people: dict[str, Any] = {}
    unknown: list[str] = []
    for eid in wanted:
        # a manager is scored on one scorecard of the month
        found = next(((p, d) for p, _, d in scored if eid in d.lines_of or eid in d.total_of),
                     None)
        lines = found[1].lines_of.get(eid, ()) if found else ()
        total = found[1].total_of.get(eid) if found else None
        if not policy.visible(user, eid, departments.get(eid)) or (not lines and total is None):
            unknown.append(eid)
            continue
        people[eid] = {
            **{k: (total or {}).get(k) for k in TOTAL_KEYS},
            "scorecard": found[0].scorecard,
            "lines": {ln["indicator"]: {k: ln.get(k) for k in LINE_KEYS} for ln in lines},
        }
    period, run, _ = scored[0]
    return {"period": period.code, "state": period.state,
            "run_no": run.run_no if run is not None else None,
            "people": people, "unknown": unknown}
