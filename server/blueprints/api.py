"""JSON API (v1) for scripts and the future review UI. Errors are JSON here, not plain text."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import select

from server import policy
from server.auth import current_user, login_required
from server.blueprints import lookups
from server.db import get_session
from server.models import Period, ScoreRun
from server.services.errors import NotFound
from server.services.periods import current_month

bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.url_value_preprocessor(lookups.period_code_in_url)


@bp.get("/whoami")
@policy.token("api.read")
@login_required
def whoami() -> Response:
    user = current_user()
    # `user` is what the add-in's whoami() reads; `name` for scripts; `current_month` (the
    # company's time zone) is what the task pane offers for New period.
    return jsonify(user=user.name, name=user.name, display_name=user.display_name, role=user.role,
                   authority=user.authority or {}, current_month=current_month(
                       current_app.config.get("TIMEZONE") or "Asia/Shanghai"))


@bp.get("/periods")
@policy.token("api.read")
@login_required
def periods() -> Response:
    rows = get_session().scalars(select(Period).order_by(Period.code)).all()
    return jsonify(periods=[_period(p) for p in rows])


@bp.get("/periods/<code>")
@policy.token("api.read")
@login_required
def period(code: str) -> Response:
    user = current_user()
    session = get_session()
    p = session.scalar(select(Period).where(Period.code == code))
    if p is None:
        raise NotFound(f"期间 {code} 不存在。\nPeriod {code} does not exist.")
    run = session.scalar(select(ScoreRun).where(ScoreRun.period_id == p.id)
                         .order_by(ScoreRun.run_no.desc()).limit(1))
    body = _period(p)
    body["latest_run"] = None if run is None else {
        "run_no": run.run_no, "kind": run.kind, "created_at": run.created_at.isoformat(),
        "created_by": run.created_by, "totals": _visible_totals(session, user, run.totals)}
    return jsonify(body)


def _visible_totals(session, user, totals: list) -> list:
    """Only the managers the policy lets this user read (another department: nothing)."""
    from server.services.roster import departments_of

    departments = departments_of(session, [t["employee_id"] for t in totals])
    return policy.filter_rows(user, totals, lambda t: departments.get(t["employee_id"]),
                              lambda t: t["employee_id"])


def _period(p: Period) -> dict[str, object]:
    return {"code": p.code, "template": p.template_code, "state": p.state, "lang": p.lang,
            "created_at": p.created_at.isoformat(), "created_by": p.created_by}
