"""Refresh: the period's results of record, read back for the workbook (docs/workbook.md).

The results of record are the period's latest stored score run: Score and Submit store one,
and so does every web adjustment, an appeal answered with an adjustment included
(server/services/feedback.py `_patched_run`). After approval, publication or closing no
button may score again, so this is how the month's end reaches HR's workbook.

Read only: no run, no history commit, no state change. The rows are the ones the reader may
see (server/policy.py `visible`: an executive or a department head gets their departments
only); rules and names are the records of record (server/services/records.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import policy, workflow
from server.models import Adjustment as AdjustmentRow
from server.models import Employee as EmployeeRow
from server.models import Period, ScoreRun, User
from server.scoring.messages import msg
from server.scoring.model import (
    Employee,
    EmployeeResult,
    Indicator,
    IndicatorKind,
    IndicatorScore,
    LineStatus,
    RuleSet,
    ScoreInput,
    ScoreResult,
)
from server.services import records, stored_run
from server.services.errors import Conflict
from server.services.runs import active_adjustments

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class ResultsOfRecord:
    """What Refresh writes: the run's result and the input to render it with (the rules and
    roster of record), the adjustments of record, all limited to the rows the reader may
    see (`people`: their employee ids, None when they see everyone)."""

    period: Period
    run: ScoreRun
    result: ScoreResult
    inp: ScoreInput
    adjustments: dict[Key, AdjustmentRow]
    people: frozenset[str] | None
    hidden: int  # managers of the run the reader may not see (left out)


def results_of_record(session: Session, period: Period, user: User,
                      lang: str) -> ResultsOfRecord:
    """The latest stored run of `period` as the reader may see it; 409 when it has none."""
    run = workflow.latest_run(session, period)
    if run is None:
        raise Conflict(msg("refresh.no_results", lang, period=period.code))
    totals = stored_run.totals(run)
    eids = [str(t["employee_id"]) for t in totals]
    of_record = records.current(session, period)  # None for periods scored before records
    recorded = {e.employee_id: e for e in of_record[1].employees} if of_record else {}
    rows = {row.employee_id: row for row in session.scalars(
        select(EmployeeRow).where(EmployeeRow.employee_id.in_(eids)))} if eids else {}
    employees = {eid: recorded.get(eid) or _employee(rows.get(eid), eid) for eid in eids}
    shown = [eid for eid in eids if policy.visible(user, eid, employees[eid].department or None)]
    everyone = len(shown) == len(eids)
    visible = frozenset(shown)
    lines = [ln for ln in stored_run.lines(run) if str(ln["employee_id"]) in visible]
    result = ScoreResult(lines=[_line(ln) for ln in lines],
                         employees=tuple(_total(t) for t in totals
                                         if str(t["employee_id"]) in visible))
    rules = of_record[1].rules.indicators if of_record else _stored_indicators(period)
    inp = ScoreInput(rules=RuleSet(indicators=_with_codes_of(rules, lines)),
                     employees=tuple(employees[eid] for eid in shown))
    adjustments = {key: row for key, row in active_adjustments(session, period).items()
                   if key[0] in visible}
    return ResultsOfRecord(period, run, result, inp, adjustments,
                           None if everyone else visible, len(eids) - len(shown))


def _employee(row: EmployeeRow | None, eid: str) -> Employee:
    if row is None:  # not in the roster the server keeps: shown by id only
        return Employee(eid, eid, "")
    return Employee(eid, row.name, row.department or "", row.position or "", row.email or "")


def _stored_indicators(period: Period) -> tuple[Indicator, ...]:
    """The rule set stored with the period's latest Score (code, name, kind, unit), for
    periods scored before the records of record."""
    out: dict[str, Indicator] = {}
    for ind in (period.rules or {}).get("indicators") or ():
        if not isinstance(ind, dict) or not ind.get("code") or str(ind["code"]) in out:
            continue
        code = str(ind["code"])
        try:
            kind = IndicatorKind(str(ind.get("kind") or "quantitative"))
        except ValueError:
            kind = IndicatorKind.QUANTITATIVE
        out[code] = Indicator(code=code, name=str(ind.get("name") or code), kind=kind,
                              weight=_dec(ind.get("weight")) or Decimal(0),
                              source=str(ind.get("source") or ""),
                              rule=str(ind.get("rule") or ""), unit=str(ind.get("unit") or ""))
    return tuple(out.values())


def _with_codes_of(indicators: tuple[Indicator, ...], lines: list[dict[str, Any]]
                   ) -> tuple[Indicator, ...]:
    """The indicators in rule order, and any code of the run they lack shown by its code."""
    out = {ind.code: ind for ind in indicators}
    for ln in lines:
        code = str(ln["indicator"])
        if code not in out:
            out[code] = Indicator(code=code, name=code, kind=IndicatorKind.QUANTITATIVE,
                                  weight=Decimal(0), source="", rule="")
    return tuple(out.values())


def _line(ln: dict[str, Any]) -> IndicatorScore:
    actual = ln.get("actual")
    number = _dec(actual) if isinstance(actual, str) else None
    try:
        status = LineStatus(ln.get("status") or "ok")
    except ValueError:
        status = LineStatus.OK
    return IndicatorScore(
        employee_id=str(ln["employee_id"]), indicator=str(ln["indicator"]),
        actual=number if number is not None else actual, target=_dec(ln.get("target")),
        weight=_dec(ln.get("weight")) or Decimal(0), base_points=_dec(ln.get("base_points")),
        adjustment=_dec(ln.get("adjustment")) or Decimal(0), points=_dec(ln.get("points")),
        explanation=str(ln.get("explanation") or ""), status=status,
        stale=bool(ln.get("stale")))


def _total(t: dict[str, Any]) -> EmployeeResult:
    return EmployeeResult(
        employee_id=str(t["employee_id"]), total=_dec(t.get("total")),
        grade=t.get("grade") or None, rank=t.get("rank"), group_rank=t.get("group_rank"),
        status=str(t.get("status") or "ok"), missing=tuple(t.get("missing") or ()))


def _dec(value: object) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def refresh_answer(session: Session, period: Period, user: User, wb, lang: str, *,
                   base_url: str):
    """The Refresh answer: the results of record the reader may see, the adjustments of
    record, kb_meta stamped with the run's own time and author; checked to fit the workbook.
    Reads only (the caller rolls the session back)."""
    from server.services import answer, scope
    from server.xlwire.actions import check_writable

    record = results_of_record(session, period, user, lang)
    plan = answer.results_plan(session, period, wb, record.result, record.inp, lang, base_url)
    scope.drop_rows_of_others(plan, record.people)
    unsent = answer.unsent_adjustments(wb, record.adjustments)
    answer.write_adjustments_of_record(plan, record.adjustments, {}, lang)
    run = record.run
    answer.stamp(plan, period_state=period.state, last_run=str(run.run_no),
                 base_version=_history_head(), submission_id="")
    # The run's own time and author, not this press: the workbook shows the result of record.
    plan.meta.update(scored_at=_when(run.created_at), scored_by=run.created_by or "")
    lines = [msg("refresh.done", lang, period=period.code, run_no=run.run_no, state=period.state)]
    if record.hidden:
        lines.append(msg("refresh.hidden", lang, hidden=record.hidden))
    if unsent:
        lines.append(msg("refresh.unsent", lang, unsent=unsent))
    plan.alert = ("\n".join(lines), msg("refresh.title", lang))
    check_writable(wb.book, plan)
    return plan


def _history_head() -> str:
    """The history's head commit, read without creating a repository when there is none."""
    import os

    from flask import current_app

    from server.services import history as history_service

    if not os.path.exists(os.path.join(str(current_app.config["HISTORY_DIR"]), "HEAD")):
        return ""
    return history_service.history_for().head() or ""


def _when(moment) -> str:
    """The run's time as every kb_meta stamp shows it: the company's time zone, labelled
    (the same form as the Score and Submit stamps, server/display.py)."""
    from flask import current_app

    from server.display import local_time

    return local_time(moment, current_app.config.get("TIMEZONE", ""), zone_label=True)
