"""JSON API (v1) for scripts and the future review UI. Errors are JSON here, not plain text."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select

from server import guards, policy
from server.auth import current_user, login_required
from server.blueprints import lookups
from server.config import parse_lang
from server.db import get_session
from server.models import Period, ScoreRun
from server.services import figures as figures_service
from server.services import line_detail as line_service
from server.services import stored_run
from server.services.periods import current_month, valid_code

bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.url_value_preprocessor(lookups.period_code_in_url)


@bp.get("/whoami")
@guards.token("api.read")
@login_required
def whoami() -> Response:
    user = current_user()
    # `user` is what the add-in's whoami() reads; `name` for scripts; `current_month` (the
    # company's time zone) is what the task pane offers for New period.
    return jsonify(user=user.name, name=user.name, display_name=user.display_name, role=user.role,
                   authority=user.authority or {}, current_month=current_month(
                       current_app.config.get("TIMEZONE") or "Asia/Shanghai"))


@bp.get("/periods")
@guards.token("api.read")
@login_required
def periods() -> Response:
    rows = get_session().scalars(select(Period).order_by(Period.code)).all()
    return jsonify(periods=[_period(p) for p in rows])


@bp.get("/periods/<code>")
@guards.token("api.read")
@login_required
def period(code: str) -> Response:
    user = current_user()
    session = get_session()
    p = lookups.period(session, code)  # ?scorecard= when the month holds several
    run = session.scalar(select(ScoreRun).where(ScoreRun.period_id == p.id)
                         .order_by(ScoreRun.run_no.desc()).limit(1))
    body = _period(p)
    body["latest_run"] = None if run is None else {
        "run_no": run.run_no, "kind": run.kind, "created_at": run.created_at.isoformat(),
        "created_by": run.created_by,
        "totals": _visible_totals(session, user, stored_run.totals(run))}
    return jsonify(body)


def _visible_totals(session, user, totals: list) -> list:
    """Only the managers the policy lets this user read (another department: nothing)."""
    from server.services.roster import departments_of

    departments = departments_of(session, [t["employee_id"] for t in totals])
    return policy.filter_rows(user, totals, lambda t: departments.get(t["employee_id"]),
                              lambda t: t["employee_id"])


def _period(p: Period) -> dict[str, object]:
    return {"code": p.code, "scorecard": p.scorecard, "template": p.template_code,
            "state": p.state, "lang": p.lang,
            "created_at": p.created_at.isoformat(), "created_by": p.created_by}


def _lang(period_lang: str | None = None) -> str:
    for candidate in (request.args.get("lang"), period_lang):
        try:
            return parse_lang(candidate or "")
        except ValueError:
            continue
    return current_app.config["LANG"]


@bp.get("/periods/<code>/lines/<employee_id>/<indicator>")
@guards.token("result.view")
@login_required
def line(code: str, employee_id: str, indicator: str) -> Response:
    """One score line for the add-in's task pane (server/services/line_detail.py)."""
    from server.services.history import history_for

    return jsonify(line_service.line_detail(
        get_session(), history_for(), current_user(), code, employee_id, indicator,
        lang=_lang(), base_url=current_app.config.get("BASE_URL", ""),
        tz=current_app.config.get("TIMEZONE") or "Asia/Shanghai"))


@bp.get("/figures")
@guards.token("result.view")
@login_required
def figures() -> Response:
    """Totals, grades, ranks and lines for the add-in's custom functions (a batch of cells)."""
    period = request.args.get("period") or None
    return jsonify(figures_service.figures(
        get_session(), current_user(), request.args.getlist("employee"),
        valid_code(period) if period is not None else None, lang=_lang()))
