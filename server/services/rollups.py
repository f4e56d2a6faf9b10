"""Quarter and year results rolled up from the months (docs/rules.md, "Quarter and year").

The method, one for every scorecard and for the company:

* a manager's quarter (year) total is the arithmetic mean of the monthly totals of the months
  in which they received one, rounded half away from zero to 2 decimals; months where their
  total was blocked by missing data, or where they were not scored, do not count, and the
  page says how many months each total stands on;
* the monthly total is the latest stored run of that month's scorecard: adjustments, web
  adjustments and appeal answers included (the server's figures, not a workbook's);
* ranks are competition ranks over the rolled totals of everyone shown; grades apply the
  latest month's grading rule (bands, or forced distribution over the rolled totals) with the
  engine's own functions, so a quarter is graded as a month would be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import policy
from server.models import Period, User
from server.periodcode import month_of, parse_period_code
from server.scoring.engine import band_grade, competition_ranks, forced_grades, rank_order
from server.scoring.messages import both
from server.scoring.model import GradeBand, GradeQuota
from server.scoring.numbers import round_half_up
from server.services.errors import BadRequest
from server.services.feedback import latest_run_light, run_data
from server.services.periods import valid_code
from server.services.roster import departments_of, names_of_employees


def months_of(code: str) -> list[str]:
    """The months of a quarter ("2026-Q4") or a year ("2026"), as period codes; the code is
    checked by the one period-code check (server/periodcode.py)."""
    parsed = parse_period_code(valid_code(code))
    if parsed.kind == "month":
        raise BadRequest(both("rollup.not_a_window", code=code))
    months, day = [], parsed.start
    while day < parsed.end:
        months.append(month_of(day))
        day = day.replace(year=day.year + (day.month == 12), month=day.month % 12 + 1)
    return months


@dataclass(slots=True)
class RolledRow:
    employee_id: str
    name: str
    department: str
    scorecard: str
    monthly: dict[str, Decimal | None] = field(default_factory=dict)  # month -> total
    total: Decimal | None = None
    months_counted: int = 0
    rank: int | None = None
    grade: str | None = None


@dataclass(slots=True)
class Rollup:
    code: str
    months: list[str]  # the months of the range
    scored_months: list[str]  # those with a stored run
    rows: list[RolledRow]
    scorecards: list[str]


def rollup(session: Session, code: str, user: User, scorecard: str | None = None) -> Rollup:
    """The quarter or year `code` for the people `user` may see (optionally one scorecard)."""
    months = months_of(code)
    periods = session.scalars(select(Period).where(Period.code.in_(months))
                              .order_by(Period.code)).all()
    scorecards = sorted({p.scorecard for p in periods})
    if scorecard:
        periods = [p for p in periods if p.scorecard == scorecard]
    rows: dict[tuple[str, str], RolledRow] = {}
    scored: list[str] = []
    last_rules: dict = {}
    names = names_of_employees(session)
    departments = departments_of(session)
    for period in periods:
        data = run_data(session, latest_run_light(session, period))
        if data is None:
            continue
        scored.append(period.code)
        last_rules = period.rules or last_rules
        card = period.scorecard
        for t in data.totals:
            eid = t["employee_id"]
            if not policy.visible(user, eid, departments.get(eid)):
                continue
            row = rows.setdefault((card, eid), RolledRow(
                eid, names.get(eid, eid), departments.get(eid, ""), card))
            row.monthly[period.code] = Decimal(t["total"]) if t.get("total") else None
    out = sorted(rows.values(), key=lambda r: (r.scorecard, r.employee_id))
    for row in out:
        counted = [v for v in row.monthly.values() if v is not None]
        row.months_counted = len(counted)
        if counted:
            row.total = round_half_up(sum(counted, Decimal(0)) / len(counted))
    _rank_and_grade([r for r in out if r.total is not None], last_rules)
    return Rollup(code, months, sorted(set(scored)), out, scorecards)


def _rank_and_grade(rows: list[RolledRow], rules: dict) -> None:
    totals = [r.total for r in rows]
    order = rank_order(totals)  # type: ignore[arg-type]
    for r, rank in zip(rows, competition_ranks(totals, order), strict=True):  # type: ignore
        r.rank = rank
    if rules.get("grading") == "forced":
        quotas = [GradeQuota(q["grade"], Decimal(q["share"])) for q in rules.get("quotas", ())]
        for r, grade in zip(rows, forced_grades(totals, quotas, order), strict=True):  # type: ignore
            r.grade = grade
    else:
        bands = [GradeBand(b["grade"], Decimal(b["min_score"])) for b in rules.get("bands", ())]
        for r in rows:
            r.grade = band_grade(r.total, bands)  # type: ignore[arg-type]
