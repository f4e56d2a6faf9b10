"""JSON API (v1) for scripts and the future review UI. Errors are JSON here, not plain text."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import select

from server.auth import current_user, login_required
from server.db import get_session
from server.models import Period, ScoreRun
from server.services.errors import NotFound

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/whoami")
@login_required
def whoami() -> Response:
    user = current_user()
    # `user` is what the add-in's whoami() reads; `name` for scripts.
    return jsonify(user=user.name, name=user.name, display_name=user.display_name, role=user.role,
                   authority=user.authority or {})


@bp.get("/periods")
@login_required
def periods() -> Response:
    rows = get_session().scalars(select(Period).order_by(Period.code)).all()
    return jsonify(periods=[_period(p) for p in rows])


@bp.get("/periods/<code>")
@login_required
def period(code: str) -> Response:
    session = get_session()
    p = session.scalar(select(Period).where(Period.code == code))
    if p is None:
        raise NotFound(f"期间 {code} 不存在。\nPeriod {code} does not exist.")
    run = session.scalar(select(ScoreRun).where(ScoreRun.period_id == p.id)
                         .order_by(ScoreRun.run_no.desc()).limit(1))
    body = _period(p)
    body["latest_run"] = None if run is None else {
        "run_no": run.run_no, "kind": run.kind, "created_at": run.created_at.isoformat(),
        "created_by": run.created_by, "totals": run.totals}
    return jsonify(body)


def _period(p: Period) -> dict[str, object]:
    return {"code": p.code, "template": p.template_code, "state": p.state, "lang": p.lang,
            "created_at": p.created_at.isoformat(), "created_by": p.created_by}
