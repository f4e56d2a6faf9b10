"""A manager's result and the feedback on it: web adjustments, acknowledgements, appeals.

Results are read from the period's latest score snapshot (ScoreRun). An adjustment made on
the web (by an adjuster before publishing, or by HR answering an appeal) is stored like a
ribbon Submit: an Adjustment row with author and reason, the previous one for the same
(manager, indicator) superseded, and a new snapshot whose lines, totals, grades and ranks
include it. Appeals and acknowledgements are never deleted.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from server import policy, workflow
from server.models import (
    Acknowledgement,
    Adjustment,
    Appeal,
    AppealStatus,
    Employee,
    Period,
    ScoreRun,
    User,
)
from server.scoring.messages import msg, why_of
from server.scoring.numbers import checked_decimal
from server.services import stored_run
from server.services.errors import BadRequest, Conflict, NotFound
from server.services.roster import departments_of


def _dec(value: object) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def indicators_of(period: Period) -> dict[str, dict[str, Any]]:
    """code -> the indicator's stored rule (name, adjust roles and limits), when known."""
    out = {}
    for ind in (period.rules or {}).get("indicators") or ():
        if isinstance(ind, dict) and ind.get("code"):
            out[str(ind["code"])] = ind
    return out


def subject(db: Session, employee_id: str) -> policy.Subject:
    dept = db.scalar(select(Employee.department).where(Employee.employee_id == employee_id))
    return policy.Subject(employee_id, dept)


@dataclass
class ResultView:
    period: Period
    employee_id: str
    name: str
    department: str | None
    run: ScoreRun | None
    total: dict[str, Any] | None
    lines: list[dict[str, Any]] = field(default_factory=list)
    adjustments: list[Adjustment] = field(default_factory=list)
    acknowledgements: list[Acknowledgement] = field(default_factory=list)
    appeals: list[Appeal] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return bool(self.run and any(a.run_no == self.run.run_no for a in self.acknowledgements))

    @property
    def open_appeal(self) -> Appeal | None:
        return next((a for a in self.appeals if a.status != AppealStatus.CONFIRMED.value), None)


# --- the latest run, decoded once per process --------------------------------------------------


@dataclass(frozen=True)
class RunData:
    """A score run's totals and lines as stored (JSON), indexed by employee.

    A run is written once and never changed (a change is a new run), so its decoded data
    is kept per process: decoding 10,000 lines was most of a review page's time (~50-130 ms,
    twice on the cell page). Callers must not change what they get."""

    totals: tuple[dict[str, Any], ...]
    total_of: dict[str, dict[str, Any]]
    lines_of: dict[str, tuple[dict[str, Any], ...]]


_RUN_DATA: OrderedDict[tuple, RunData] = OrderedDict()
_RUN_DATA_LOCK = threading.Lock()
RUN_DATA_CACHE = 8  # runs (a few periods' latest); one of 5,000 managers is ~20 MB


def latest_run_light(db: Session, period: Period) -> ScoreRun | None:
    """The period's latest ScoreRun without loading its lines and totals (`run_data`)."""
    return db.scalar(select(ScoreRun).options(defer(ScoreRun.lines), defer(ScoreRun.totals))
                     .where(ScoreRun.period_id == period.id)
                     .order_by(ScoreRun.run_no.desc()).limit(1))


def run_data(db: Session, run: ScoreRun | None) -> RunData | None:
    """`run`'s totals and lines, decoded once per process. The key names the database and
    the row (id, number, time, input digest), so another database reusing an id (tests, a
    restore) never gets this one's data."""
    if run is None:
        return None
    key = (str(db.get_bind().url), run.id, run.run_no, run.created_at, run.input_digest)
    with _RUN_DATA_LOCK:
        data = _RUN_DATA.get(key)
        if data is not None:
            _RUN_DATA.move_to_end(key)
            return data
    totals, lines = db.execute(select(ScoreRun.totals, ScoreRun.lines)
                               .where(ScoreRun.id == run.id)).one()
    lines_of: dict[str, list[dict[str, Any]]] = {}
    for line in stored_run.line_dicts(lines):
        lines_of.setdefault(line["employee_id"], []).append(line)
    totals = stored_run.total_dicts(totals)
    total_of: dict[str, dict[str, Any]] = {}
    for t in totals:
        total_of.setdefault(t["employee_id"], t)  # the first, as a scan would find it
    data = RunData(tuple(totals), total_of, {e: tuple(v) for e, v in lines_of.items()})
    with _RUN_DATA_LOCK:
        _RUN_DATA[key] = data
        while len(_RUN_DATA) > RUN_DATA_CACHE:
            _RUN_DATA.popitem(last=False)
    return data


def result_of(db: Session, period: Period, employee_id: str) -> ResultView:
    run = latest_run_light(db, period)
    data = run_data(db, run)
    emp = db.scalar(select(Employee).where(Employee.employee_id == employee_id))
    names = indicators_of(period)
    total = data.total_of.get(employee_id) if data else None
    lines = []
    for line in (data.lines_of.get(employee_id, ()) if data else ()):
        rule = names.get(line["indicator"]) or {}
        lines.append({**line, "name": rule.get("name", ""), "unit": rule.get("unit", "")})
    adjustments = list(db.scalars(select(Adjustment).where(
        Adjustment.period_id == period.id, Adjustment.employee_id == employee_id)
        .order_by(Adjustment.created_at, Adjustment.id)))
    acks = list(db.scalars(select(Acknowledgement).where(
        Acknowledgement.period_id == period.id, Acknowledgement.employee_id == employee_id)
        .order_by(Acknowledgement.id)))
    appeals = list(db.scalars(select(Appeal).where(
        Appeal.period_id == period.id, Appeal.employee_id == employee_id).order_by(Appeal.id)))
    return ResultView(period, employee_id, emp.name if emp else employee_id,
                      emp.department if emp else None, run, total, lines, adjustments, acks,
                      appeals)


# --- adjustments on the web --------------------------------------------------------------------


class WebAdjustment(NamedTuple):
    row: Adjustment  # the adjustment of record for the cell
    recorded: bool  # False: the cell already held this value and reason (nothing recorded)


def adjust(db: Session, period: Period, user: User, employee_id: str, indicator: str,
           points_text: str, reason: str, lang: str = "zh", *,
           appeal: Appeal | None = None, app: Any = None) -> WebAdjustment:
    """Store one adjustment the way a ribbon Submit stores it (403/409/400 as the rules
    say): the one authority check (`policy.require_changes`, records only), the engine's
    verdict (a line's cap), then the history commit and the engine's new snapshot
    (`adjust.commit_web_adjustment`). Nothing is stored when any of them refuses."""
    from server.ledger import CellValue
    from server.services.adjust import check_with_engine, commit_web_adjustment, web_input
    from server.services.runs import active_adjustments

    workflow.require_allowed(period, "appeal_adjust" if appeal is not None else "adjust", lang)
    try:  # the one number check: finite, 2 decimals, fits Numeric(9, 2)
        points = checked_decimal(points_text, places=2, whole=7)
    except ValueError as exc:
        raise BadRequest(msg("web_adjust.bad_points", lang, why=why_of(exc))) from None
    reason = (reason or "").strip()
    if not reason:
        raise BadRequest(msg("web_adjust.needs_reason", lang))
    run = latest_run_light(db, period)
    data = run_data(db, run)
    if run is None or data is None:
        raise Conflict(msg("web_adjust.no_result", lang))
    if not any(ln["indicator"] == indicator for ln in data.lines_of.get(employee_id, ())):
        raise NotFound(msg("web_adjust.no_indicator", lang, employee_id=employee_id,
                           indicator=indicator))
    key = (employee_id, indicator)
    policy.require_changes(db, user, period, {key: points}, lang)
    held = active_adjustments(db, period).get(key)
    if held is not None and held.points == points and held.reason == reason:
        return WebAdjustment(held, False)  # an identical re-submit: a no-op that says so
    value = CellValue(points, reason)
    inp = web_input(db, period, lang)
    check_with_engine(db, period, inp, {key: value}, lang)
    row = commit_web_adjustment(db, period, user, key, value, lang, app=app)
    if appeal is None:
        workflow.advance(db, period, "adjust", user)
    db.flush()
    return WebAdjustment(row, True)


# --- acknowledgements and appeals ------------------------------------------------------------


def _own_result(db: Session, period: Period, user: User, lang: str) -> ResultView:
    policy.require(user, "feedback.respond", subject(db, user.employee_id or "-"), lang)
    workflow.require_allowed(period, "feedback", lang)
    view = result_of(db, period, user.employee_id)
    if view.run is None or view.total is None:
        raise NotFound(msg("result.none_of_yours", lang))
    return view


def acknowledge(db: Session, period: Period, user: User, lang: str = "zh") -> Acknowledgement:
    view = _own_result(db, period, user, lang)
    if view.open_appeal is not None:
        raise Conflict(msg("acknowledge.appeal_open", lang))
    if view.acknowledged:
        raise Conflict(msg("acknowledge.already", lang))
    row = Acknowledgement(period_id=period.id, employee_id=user.employee_id, user_id=user.id,
                          user_name=user.name, run_no=view.run.run_no,  # type: ignore[union-attr]
                          total=str(view.total.get("total") or ""))  # type: ignore[union-attr]
    db.add(row)
    db.flush()
    return row


def appeal(db: Session, period: Period, user: User, reason: str, lang: str = "zh") -> Appeal:
    view = _own_result(db, period, user, lang)
    reason = (reason or "").strip()
    if not reason:
        raise BadRequest(msg("appeal.needs_reason", lang))
    if view.open_appeal is not None:
        raise Conflict(msg("appeal.already_open", lang))
    if view.acknowledged:
        raise Conflict(msg("appeal.acknowledged", lang))
    row = Appeal(period_id=period.id, employee_id=user.employee_id, reason=reason,
                 created_by=user.name, created_by_id=user.id,
                 run_no=view.run.run_no)  # type: ignore[union-attr]
    db.add(row)
    db.flush()
    return row


def answer(db: Session, item: Appeal, user: User, text: str, lang: str = "zh", *,
           indicator: str = "", points: str = "", adjust_reason: str = "") -> Appeal:
    """HR's answer; with `indicator`/`points` also an adjustment (reason required)."""
    policy.require(user, "appeal.answer", subject(db, item.employee_id), lang)
    if item.status != AppealStatus.OPEN.value:
        raise Conflict(msg("appeal.already_answered", lang))
    text = (text or "").strip()
    if not text:
        raise BadRequest(msg("appeal.needs_answer", lang))
    if indicator or (points or "").strip():
        adj = adjust(db, item.period, user, item.employee_id, indicator, points,
                     adjust_reason or text, lang, appeal=item).row
        item.adjustment_id = adj.id
    else:
        workflow.require_allowed(item.period, "feedback", lang)
    item.answer = text
    item.answered_by = user.name
    item.answered_at = dt.datetime.now(dt.UTC)
    item.status = AppealStatus.ANSWERED.value
    db.flush()
    return item


def confirm(db: Session, item: Appeal, user: User, lang: str = "zh") -> Appeal:
    """The manager confirms HR's answer; the result shown then counts as acknowledged."""
    policy.require(user, "feedback.respond", subject(db, item.employee_id), lang)
    workflow.require_allowed(item.period, "feedback", lang)
    if item.status != AppealStatus.ANSWERED.value:
        raise Conflict(msg("appeal.not_answered", lang))
    item.status = AppealStatus.CONFIRMED.value
    item.confirmed_at = dt.datetime.now(dt.UTC)
    view = result_of(db, item.period, item.employee_id)
    if view.run is not None:
        db.add(Acknowledgement(period_id=item.period_id, employee_id=item.employee_id,
                               user_id=user.id, user_name=user.name, run_no=view.run.run_no,
                               total=str((view.total or {}).get("total") or "")))
    db.flush()
    return item


def visible_appeals(db: Session, user: User, period: Period | None = None) -> list[Appeal]:
    stmt = select(Appeal).order_by(Appeal.created_at.desc(), Appeal.id.desc())
    if period is not None:
        stmt = stmt.where(Appeal.period_id == period.id)
    rows = list(db.scalars(stmt))
    departments = departments_of(db, [a.employee_id for a in rows])
    return policy.filter_rows(user, rows, lambda a: departments.get(a.employee_id),
                              lambda a: a.employee_id)
