"""The month as a whole: every scorecard of a period code side by side, and the company's
results across them (the month's page and its company-wide export, docs/records.md
"Scorecards")."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.orm import Session

from server import policy, workflow
from server.models import Period, ScoreRun, User
from server.scoring.engine import competition_ranks
from server.services import stored_run
from server.services.periods import scorecards_of
from server.services.roster import departments_of, names_of_employees


@dataclass(slots=True)
class ScorecardSummary:
    period: Period
    run: ScoreRun | None
    people: int  # scored people the viewer may see
    average: Decimal | None
    waiting: list = field(default_factory=list)


@dataclass(slots=True)
class CompanyLine:
    employee_id: str
    name: str
    department: str
    scorecard: str
    total: Decimal | None
    grade: str | None
    company_rank: int | None  # among every scored manager of the month, all scorecards
    status: str


@dataclass(slots=True)
class MonthView:
    code: str
    scorecards: list[ScorecardSummary]
    company: list[CompanyLine]  # the viewer's people only, best first

    @property
    def scored(self) -> int:
        return sum(1 for line in self.company if line.total is not None)


def month_view(db: Session, user: User, code: str) -> MonthView:
    """Each scorecard of month `code` with its latest run, and the company-wide table of
    the people `user` may see. Company ranks count every scored manager of the month (the
    ranks are the month's, whoever looks), by the engine's own competition ranking."""
    cards = scorecards_of(db, code)
    runs = {p.id: workflow.latest_run(db, p) for p in cards}
    everyone = [(p, t) for p in cards for t in stored_run.totals(runs[p.id])]
    totals = [_dec(t.get("total")) for _, t in everyone]
    scored = [i for i, v in enumerate(totals) if v is not None]
    ranks = dict(zip(scored, competition_ranks([totals[i] for i in scored]), strict=True))
    ids = [t["employee_id"] for _, t in everyone]
    departments = departments_of(db, ids)
    names = names_of_employees(db)
    company, summaries = [], {p.id: ScorecardSummary(p, runs[p.id], 0, None) for p in cards}
    sums: dict[int, list[Decimal]] = {p.id: [] for p in cards}
    for i, (period, t) in enumerate(everyone):
        eid = t["employee_id"]
        if not policy.visible(user, eid, departments.get(eid)):
            continue
        company.append(CompanyLine(eid, names.get(eid, eid), departments.get(eid, ""),
                                   period.scorecard, totals[i], t.get("grade"), ranks.get(i),
                                   str(t.get("status") or "")))
        if totals[i] is not None:
            sums[period.id].append(totals[i])
    for p in cards:
        values = sums[p.id]
        summary = summaries[p.id]
        summary.people = len(values)
        summary.average = (sum(values) / len(values)) if values else None
        summary.waiting = workflow.waiting_for(db, p)
    company.sort(key=lambda x: (x.company_rank is None, x.company_rank or 0, x.employee_id))
    return MonthView(code, [summaries[p.id] for p in cards], company)


def _dec(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))
