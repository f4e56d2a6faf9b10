"""Lookups shared by the web blueprints: a period, the published periods, an appeal, a
manager's latest result. Each raises NotFound in the words the pages have always used."""

from __future__ import annotations

from flask import has_request_context, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Appeal, Period, PeriodState
from server.scoring.messages import both
from server.services import feedback
from server.services.errors import NotFound
from server.services.periods import ChooseScorecard, find_period, valid_code
from server.services.scorecards import scorecard_of

# Managers see a period's result only once it is published (drafts are HR's business).
PUBLISHED = (PeriodState.PUBLISHED.value, PeriodState.CLOSED.value)


def period_code_in_url(_endpoint: str | None, values: dict | None) -> None:
    """A blueprint's url_value_preprocessor: the `<code>` of every page and API route names a
    period, checked (server/periodcode.py) before anything looks it up; otherwise 400 saying
    why, in both languages. A period stored with a bad code before codes were checked cannot
    be opened this way; `kpibook verify` and the periods page report it."""
    if values and "code" in values:
        values["code"] = valid_code(values["code"])


def scorecard_in_request() -> str:
    """The `?scorecard=` a page was asked for ("" when none): which scorecard of the month."""
    return (request.args.get("scorecard") or "").strip()


def remember_scorecard(endpoint: str | None, values: dict) -> None:
    """The app's url_defaults: a link from a scorecard's page to another page of the same
    month keeps `?scorecard=` (unless the link names its own), so that the pages of a month
    with several scorecards stay on the one the reader chose."""
    if not has_request_context() or "code" not in values or "scorecard" in values:
        return
    chosen = scorecard_in_request()
    if chosen and values.get("code") == (request.view_args or {}).get("code"):
        values["scorecard"] = chosen


def period(db: Session, code: str) -> Period:
    """The scorecard of month `code` that the request names (?scorecard=), or the month's
    only one, or, on a page about one manager, the scorecard that scores them; 404 when
    there is none, 409 listing them when the month holds several."""
    try:
        found = find_period(db, code, scorecard_in_request())
    except ChooseScorecard:
        employee_id = (request.view_args or {}).get("employee_id")
        if not employee_id:
            raise
        found = scorecard_of(db, code, employee_id)
    if found is None:
        raise NotFound(both("line.no_period", period=code))
    return found


def published_period(db: Session, code: str, employee_id: str | None = None) -> Period:
    """As `period`, once published; a manager's own pages pass their employee id, which
    finds their scorecard in a month with several."""
    try:
        found = find_period(db, code, scorecard_in_request())
    except ChooseScorecard:
        if not employee_id:
            raise
        found = scorecard_of(db, code, employee_id)
    if found is None or found.state not in PUBLISHED:
        raise NotFound(both("line.not_published", period=code))
    return found


def published_periods(db: Session) -> list[Period]:
    """The published (and closed) periods, newest first."""
    return list(db.scalars(select(Period).where(Period.state.in_(PUBLISHED))
                           .order_by(Period.code.desc())))


def appeal(db: Session, appeal_id: int) -> Appeal:
    item = db.get(Appeal, appeal_id)
    if item is None:
        raise NotFound(both("web.no_appeal"))
    return item


def latest_result(db: Session, period: Period, employee_id: str,
                  own: bool = False) -> feedback.ResultView:
    """A manager's result in the period's latest run; NotFound when they have none."""
    view = feedback.result_of(db, period, employee_id)
    if view.total is None:
        if own:
            raise NotFound(both("web.no_result_of_yours", period=period.code))
        raise NotFound(both("web.no_result_for", period=period.code, employee_id=employee_id))
    return view
