"""A manager's own results: see them, acknowledge them, appeal, confirm HR's answer."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from server import auth, guards, notify
from server.blueprints import lookups
from server.db import get_session
from server.models import ScoreRun
from server.services import feedback
from server.web import back, lang, say_msg

bp = Blueprint("me", __name__)
bp.url_value_preprocessor(lookups.period_code_in_url)


@bp.get("/me")
@guards.web("feedback.respond")
def index() -> str:
    user = auth.current_user()
    db = get_session()
    rows = []
    for p in lookups.published_periods(db):
        view = feedback.result_of(db, p, user.employee_id) if user.employee_id else None
        if view is not None and view.total is not None:
            rows.append(view)
    return render_template("me.html", rows=rows)


@bp.get("/me/<code>")
@guards.web("feedback.respond")
def result(code: str) -> str:
    db = get_session()
    me = auth.current_user()
    view = lookups.latest_result(db, lookups.published_period(db, code, me.employee_id),
                                 me.employee_id, own=True)
    return render_template("result.html", view=view, self_view=True, may_adjust=False)


@bp.post("/me/<code>/acknowledge")
@guards.web("feedback.respond")
def acknowledge(code: str) -> Response:
    db = get_session()
    me = auth.current_user()
    feedback.acknowledge(db, lookups.published_period(db, code, me.employee_id), me, lang())
    db.commit()
    say_msg("me.acknowledged")
    return back("me.result", code=code)


@bp.post("/me/<code>/appeal")
@guards.web("feedback.respond")
def appeal(code: str) -> Response:
    user = auth.current_user()
    db = get_session()
    item = feedback.appeal(db, lookups.published_period(db, code, user.employee_id), user,
                           request.form.get("reason", ""), lang())
    db.commit()
    notify.appeal_created(item.id, code, user.label, item.created_at)
    say_msg("me.appealed")
    return back("me.result", code=code)


@bp.post("/appeals/<int:appeal_id>/confirm")
@guards.web("feedback.respond")
def confirm(appeal_id: int) -> Response:
    db = get_session()
    item = lookups.appeal(db, appeal_id)
    feedback.confirm(db, item, auth.current_user(), lang())
    db.commit()
    say_msg("me.answer_confirmed")
    return back("me.result", code=item.period.code)


__all__ = ["bp", "ScoreRun"]
