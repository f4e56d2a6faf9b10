"""One score line as the add-in's task pane shows it when a cell of kb_scores, kb_adjustments
or kb_data is selected: the explanation, the adjustment history (git), the provenance of the
source values, the range the caller may still adjust it in, and links to the web pages.

Read-only. Only what the caller may read: `result.view` on the manager (HR and audit: all;
executives and department heads: their departments; a manager: their own line, once the
period is published), else 403 / 404 as on the web pages.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import policy, workflow
from server.display import DEFAULT_TIMEZONE, local_time
from server.ledger import History
from server.models import PeriodState, Role, SourceFact, User
from server.scoring.messages import msg
from server.services import facts as fact_service
from server.services import feedback
from server.services.errors import NotFound
from server.services.scorecards import scorecard_of

# Managers see a period's result only once it is published (as on the web pages).
PUBLISHED = (PeriodState.PUBLISHED.value, PeriodState.CLOSED.value)
MAX_HISTORY = 50  # versions of one cell shown, newest first


def _text(value: Decimal | None) -> str | None:
    """Points as the history writes them ("+2.00"); None stays None."""
    return None if value is None else f"{value:+.2f}"


def _dec(value: object) -> Decimal | None:
    if value in (None, ""):
        return None
    return Decimal(str(value))


def _when(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _history(history: History, period: str, employee_id: str, indicator: str
             ) -> list[dict[str, Any]]:
    """Who changed the adjustment when, old -> new and why; newest first."""
    versions = history.cell_history(period, employee_id, indicator)
    out = []
    previous = None
    for version in versions:
        value = version.value
        change = version.change
        cell = next((c for c in change.cells
                     if c.employee_id == employee_id and c.indicator == indicator), None)
        reason = value.reason if value is not None else (cell.reason if cell else "")
        out.append({"who": change.author.name, "when": _when(change.when),
                    "kind": change.kind, "old": _text(previous.points if previous else None),
                    "new": _text(value.points if value else None), "reason": reason,
                    "commit": change.commit[:10]})
        previous = value
    return out[::-1][:MAX_HISTORY]


def _facts(rows: list[SourceFact], lang: str, tz: str) -> list[dict[str, Any]]:
    out = []
    for f in rows:
        value = f.value
        if isinstance(value, Decimal):
            value = format(value.normalize(), "f")
        out.append({"field": f.field or "actual", "value": None if value is None else str(value),
                    "raw_value": f.raw_value, "unit": f.unit, "source": f.source,
                    "request": f.request, "fetched_at": _when(f.fetched_at),
                    # the company's time zone, as every page shows times (not the PC's)
                    "fetched_at_text": local_time(f.fetched_at, tz, zone_label=True),
                    "fetched_by": f.fetched_by, "stale": bool(f.stale),
                    "status": fact_service.status_text(f, lang, tz),
                    "anchor": fact_service.fact_anchor(f)})
    return out


def _range(user: User, period, subject: policy.Subject, indicator: str,
           rule: dict[str, Any], current: Decimal, lang: str) -> dict[str, Any] | None:
    """The adjustment the caller may set on this line: their authority (server/policy.py)
    within the rules table's limits. None for roles that never adjust."""
    if not policy.can(user, "adjustment.make"):
        return None
    if period.state not in workflow.ALLOWED_IN["adjust"]:
        state = workflow.state_word(period.state, lang)
        return {"allowed": False, "reasons": [
            msg("line.frozen", lang, state=state)]}
    authority = policy.adjustment_range(user, policy.Change(
        subject.employee_id, subject.department, indicator, Decimal(0),
        frozenset(rule.get("adjust_roles") or ())), lang)
    if not authority.allowed:
        return {"allowed": False, "reasons": list(authority.reasons)}
    ups = [v for v in (authority.max_up, _dec(rule.get("adjust_max_up"))) if v is not None]
    downs = [abs(v) for v in (authority.max_down, _dec(rule.get("adjust_max_down")))
             if v is not None]
    high = min(ups) if ups else None
    low = -min(downs) if downs else None
    return {"allowed": True, "min": _text(low), "max": _text(high), "current": _text(current),
            # how far from the current adjustment the caller may still move it
            "more": _text(high - current) if high is not None else None,
            "less": _text(current - low) if low is not None else None}


def line_facts(db: Session, period_id: int, employee_id: str, indicator: str
               ) -> list[SourceFact]:
    """The source facts behind one line (every field)."""
    return list(db.scalars(select(SourceFact).where(
        SourceFact.period_id == period_id, SourceFact.employee_id == employee_id,
        SourceFact.indicator == indicator).order_by(SourceFact.id)))


def last_pulled(rows: list[SourceFact], lang: str, tz: str) -> str:
    """When the line's data was last pulled, in words ("" when none was): the newest of its
    facts, in the company's time zone with its offset."""
    pulled = [f for f in rows if f.fetched_at is not None]
    if not pulled:
        return ""
    newest = max(pulled, key=lambda f: _when(f.fetched_at) or "")
    return fact_service.pulled_words(newest, lang, tz)


def line_detail(db: Session, history: History, user: User, period_code: str,
                employee_id: str, indicator: str, *, lang: str = "zh",
                base_url: str = "", tz: str = DEFAULT_TIMEZONE) -> dict[str, Any]:
    """Everything the task pane shows for the line (employee, indicator) of the period's
    latest score run. `tz`: the company's time zone (KPIBOOK_TIMEZONE)."""
    # the scorecard of the month that scores this manager (a month may hold several)
    period = scorecard_of(db, period_code, employee_id)
    if period is None:
        raise NotFound(msg("line.no_period", lang, period=period_code))
    subject = feedback.subject(db, employee_id)
    policy.require(user, "result.view", subject, lang)
    if user.role == Role.EMPLOYEE.value and period.state not in PUBLISHED:
        raise NotFound(msg("line.not_published", lang, period=period.code))
    data = feedback.run_data(db, feedback.latest_run_light(db, period))
    line = next((ln for ln in (data.lines_of.get(employee_id, ()) if data else ())
                 if ln["indicator"] == indicator), None)
    if line is None:
        raise NotFound(msg("line.no_line", lang, period=period.code, employee_id=employee_id,
                           indicator=indicator))
    rule = feedback.indicators_of(period).get(indicator) or {}
    total = data.total_of.get(employee_id) or {} if data else {}
    current = _dec(line.get("adjustment")) or Decimal(0)
    base = base_url.rstrip("/")
    code, eid, ind = (quote(x, safe="") for x in (period.code, employee_id, indicator))
    facts = line_facts(db, period.id, employee_id, indicator)
    return {
        "period": period.code, "state": period.state,
        "employee_id": employee_id, "name": _name(db, employee_id),
        "department": subject.department,
        "indicator": indicator, "indicator_name": rule.get("name") or "",
        "line": {k: line.get(k) for k in ("actual", "target", "weight", "base_points",
                                          "adjustment", "points", "status", "stale")},
        "explanation": line.get("explanation") or "",
        "total": {k: total.get(k) for k in ("total", "grade", "rank", "group_rank")},
        "history": _history(history, period.history_key, employee_id, indicator),
        "facts": _facts(facts, lang, tz),
        "last_pulled": last_pulled(facts, lang, tz),
        "adjust": _range(user, period, subject, indicator, rule, current, lang),
        "links": {"review": f"{base}/review/{code}/cell/{eid}?indicator={ind}",
                  "person": f"{base}/review/{code}/people/{eid}",
                  "facts": f"{base}/sync/{code}/facts/{eid}/{ind}"},
    }


def _name(db: Session, employee_id: str) -> str:
    from server.models import Employee

    return db.scalar(select(Employee.name).where(Employee.employee_id == employee_id)) or ""
