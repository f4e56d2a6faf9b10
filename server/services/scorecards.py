"""Scorecards of a month: who each one scores, and finding a manager's scorecard.

A month (a period code) holds one `periods` row per scorecard (docs/records.md,
"Scorecards"). Each scorecard's people are its roster of record; `scorecard_members` holds
them so that a manager belongs to one scorecard a month (the database refuses a second) and
pages can find a manager's scorecard with one query.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from server.models import InputRecord, Period, ScorecardMember, ScoreRun
from server.scoring.messages import msg
from server.scoring.model import Problem
from server.services import stored_run
from server.services.periods import scorecards_of
from server.workbook.contract import Tables


def members(session: Session, period: Period) -> set[str]:
    return set(session.scalars(select(ScorecardMember.employee_id)
                               .where(ScorecardMember.period_id == period.id)))


def set_members(session: Session, period: Period, employee_ids: Iterable[str]) -> None:
    """`period`'s people are now exactly `employee_ids` (its new roster of record)."""
    session.execute(delete(ScorecardMember).where(ScorecardMember.period_id == period.id))
    session.add_all(ScorecardMember(period_id=period.id, month=period.code, employee_id=eid)
                    for eid in dict.fromkeys(employee_ids))
    session.flush()


def taken_elsewhere(session: Session, period: Period, employee_ids: Iterable[str]
                    ) -> dict[str, Period]:
    """Which of `employee_ids` another scorecard of the month already scores, and where."""
    others = [p for p in scorecards_of(session, period.code) if p.id != period.id]
    if not others:
        return {}
    for other in others:
        _backfill(session, other)
    wanted = set(employee_ids)
    by_id = {p.id: p for p in others}
    rows = session.execute(select(ScorecardMember.employee_id, ScorecardMember.period_id).where(
        ScorecardMember.month == period.code, ScorecardMember.period_id.in_(by_id)))
    return {eid: by_id[pid] for eid, pid in rows if eid in wanted}


def taken_problems(taken: dict[str, Period], tables: Tables, lang: str) -> list[Problem]:
    """Each manager another scorecard scores, located at their kb_roster row."""
    frame = tables.get("kb_roster")
    rows: dict[str, int] = {}
    if frame is not None and "employee_id" in frame.columns:
        for i in range(len(frame.excel_rows)):
            value = frame.value(i, "employee_id")
            rows.setdefault("" if value is None else str(value).strip(), i)
    out = []
    for eid, other in sorted(taken.items()):
        text = msg("scorecard.taken", lang, employee=eid, other=other.scorecard,
                   period=other.code)
        if frame is not None and eid in rows:
            out.append(frame.problem(rows[eid], "employee_id", text, lang))
        else:
            out.append(Problem("kb_roster", None, None, text, key=(eid,)))
    return out


def peer_totals(session: Session, period: Period) -> tuple[Decimal, ...]:
    """The totals of the month's other scorecards in their latest runs: what a company-wide
    rank or forced distribution (distribution group "company") ranks `period`'s people
    against."""
    out: list[Decimal] = []
    for other in scorecards_of(session, period.code):
        if other.id == period.id:
            continue
        totals = session.scalar(select(ScoreRun.totals).where(ScoreRun.period_id == other.id)
                                .order_by(ScoreRun.run_no.desc()).limit(1))
        out.extend(Decimal(str(t["total"])) for t in stored_run.total_dicts(totals)
                   if t.get("total") not in (None, ""))
    return tuple(out)


def scorecard_of(session: Session, code: str, employee_id: str) -> Period | None:
    """The scorecard of month `code` that scores `employee_id` (the month's only one when it
    has one), or None."""
    rows = scorecards_of(session, code)
    if len(rows) <= 1:
        return rows[0] if rows else None
    for row in rows:
        _backfill(session, row)
    period_id = session.scalar(select(ScorecardMember.period_id).where(
        ScorecardMember.month == code, ScorecardMember.employee_id == employee_id))
    return next((row for row in rows if row.id == period_id), None)


def _backfill(session: Session, period: Period) -> None:
    """A scorecard scored before members were kept: its people from its roster of record."""
    if session.scalar(select(ScorecardMember.id).where(
            ScorecardMember.period_id == period.id).limit(1)) is not None:
        return
    payload = session.scalar(select(InputRecord.payload).where(
        InputRecord.period_id == period.id).order_by(InputRecord.id.desc()).limit(1))
    if payload is not None:  # server.scoring.codec.input_to_json: employees are rows, id first
        set_members(session, period, (row[0] for row in payload["employees"]))
