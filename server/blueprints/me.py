"""A manager's own results: see them, acknowledge them, appeal, confirm HR's answer."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from sqlalchemy import select

from server import auth, notify, policy
from server.db import get_session
from server.models import Appeal, Period, PeriodState, ScoreRun
from server.services import feedback
from server.services.errors import NotFound
from server.services.periods import find_period
from server.web import back, lang, say

bp = Blueprint("me", __name__)

# Managers see a period's result only once it is published (drafts are HR's business).
VISIBLE_STATES = (PeriodState.PUBLISHED.value, PeriodState.CLOSED.value)


def _period(code: str) -> Period:
    period = find_period(get_session(), code)
    if period is None or period.state not in VISIBLE_STATES:
        raise NotFound(f"期间 {code} 没有已发布的结果。\nPeriod {code} has no published result.")
    return period


@bp.get("/me")
@policy.web("feedback.respond")
def index() -> str:
    user = auth.current_user()
    db = get_session()
    periods = db.scalars(select(Period).where(Period.state.in_(VISIBLE_STATES))
                         .order_by(Period.code.desc())).all()
    rows = []
    for p in periods:
        view = feedback.result_of(db, p, user.employee_id) if user.employee_id else None
        if view is not None and view.total is not None:
            rows.append(view)
    return render_template("me.html", rows=rows)


@bp.get("/me/<code>")
@policy.web("feedback.respond")
def result(code: str) -> str:
    user = auth.current_user()
    db = get_session()
    period = _period(code)
    view = feedback.result_of(db, period, user.employee_id)
    if view.total is None:
        raise NotFound(f"期间 {code} 没有您的结果。\nPeriod {code} has no result of yours.")
    return render_template("result.html", view=view, self_view=True, may_adjust=False)


@bp.post("/me/<code>/acknowledge")
@policy.web("feedback.respond")
def acknowledge(code: str) -> Response:
    user = auth.current_user()
    db = get_session()
    feedback.acknowledge(db, _period(code), user, lang())
    db.commit()
    say("已确认考核结果。", "Result acknowledged.")
    return back("me.result", code=code)


@bp.post("/me/<code>/appeal")
@policy.web("feedback.respond")
def appeal(code: str) -> Response:
    user = auth.current_user()
    db = get_session()
    item = feedback.appeal(db, _period(code), user, request.form.get("reason", ""), lang())
    db.commit()
    notify.appeal_created(item.id, code, user.label)
    say("申诉已提交，人力资源部将答复。", "Appeal sent; HR will answer it.")
    return back("me.result", code=code)


@bp.post("/appeals/<int:appeal_id>/confirm")
@policy.web("feedback.respond")
def confirm(appeal_id: int) -> Response:
    user = auth.current_user()
    db = get_session()
    item = db.get(Appeal, appeal_id)
    if item is None:
        raise NotFound("找不到该申诉。\nNo such appeal.")
    feedback.confirm(db, item, user, lang())
    db.commit()
    say("已确认答复，申诉结束。", "Answer confirmed; the appeal is closed.")
    return back("me.result", code=item.period.code)


__all__ = ["bp", "ScoreRun"]
