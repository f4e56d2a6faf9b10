"""Periods on the web: where each period stands and what waits for whom, the workflow
buttons, results (filtered by the policy), exports, web adjustments, appeals for HR."""

from __future__ import annotations

import csv
import io
from collections import Counter

from flask import Blueprint, Response, render_template, request
from sqlalchemy import select

from server import auth, display, guards, policy, workflow
from server.blueprints import lookups
from server.db import get_session
from server.models import Adjustment, AdjustmentStatus, Period, PeriodState, scorecard_code
from server.periodcode import is_period_code
from server.scoring.messages import seq
from server.services import feedback, stored_run
from server.services.month import MonthView, month_view
from server.services.periods import find_period, history_key_for, scorecards_of, valid_code
from server.services.roster import departments_of, names_of_employees
from server.web import back, columns, lang, say_msg

bp = Blueprint("periods", __name__)
bp.url_value_preprocessor(lookups.period_code_in_url)


def _period(code: str) -> Period:
    return lookups.period(get_session(), code)


def _viewed_period(code: str, employee_id: str) -> Period:
    """The period, once the user may read employee_id's result (department scope)."""
    db = get_session()
    period = _period(code)
    policy.require(auth.current_user(), "result.view", feedback.subject(db, employee_id), lang())
    return period


def _visible_totals(user, run) -> list[dict]:
    db = get_session()
    totals = stored_run.totals(run) if run else []
    departments = departments_of(db, [x["employee_id"] for x in totals])
    names = names_of_employees(db)
    rows = policy.filter_rows(user, totals, lambda x: departments.get(x["employee_id"]),
                              lambda x: x["employee_id"])
    return [{**x, "department": departments.get(x["employee_id"], ""),
             "name": names.get(x["employee_id"], x["employee_id"])} for x in rows]


@bp.get("/periods")
@guards.web("period.view")
def index() -> str:
    db = get_session()
    periods = db.scalars(select(Period).order_by(Period.code.desc(), Period.scorecard)).all()
    bad = [p.code[:40] for p in periods if not is_period_code(p.code)]
    if bad:  # stored before codes were checked: listed, but their pages refuse them
        say_msg("periods.bad_codes", "error", codes=seq(bad))
    rows = [(p, workflow.waiting_for(db, p)) for p in periods]
    months = Counter(p.code for p in periods)  # a month with several scorecards has a page
    return render_template("periods.html", rows=rows, order=workflow.ORDER, months=months)


@bp.post("/periods")
@guards.web("period.create")
def create() -> Response:
    user = auth.current_user()
    code = valid_code(request.form.get("code", ""))
    template = request.form.get("template", "").strip()
    db = get_session()
    scorecard = scorecard_code(request.form.get("scorecard", "") or template) or "main"
    if find_period(db, code, scorecard) is not None:
        say_msg("periods.scorecard_exists", "error", code=code, scorecard=scorecard)
        return back("periods.index")
    period = Period(code=code, scorecard=scorecard,
                    history_key=history_key_for(db, code, scorecard), template_code=template,
                    state=PeriodState.DRAFT.value, lang=lang(), rules={}, created_by=user.name)
    db.add(period)
    db.flush()
    workflow.record_event(db, period, "create", "", period.state, user)
    db.commit()
    say_msg("periods.created", code=code)
    return back("periods.detail", code=code, scorecard=scorecard)


@bp.get("/periods/<code>")
@guards.web("period.view")
def detail(code: str) -> str:
    user = auth.current_user()
    db = get_session()
    if not lookups.scorecard_in_request() and len(scorecards_of(db, code)) > 1:
        return render_template("period_month.html", month=month_view(db, user, code))
    period = _period(code)
    run = workflow.latest_run(db, period)
    totals = _visible_totals(user, run)
    shown = {x["employee_id"] for x in totals}
    adjustments = [a for a in db.scalars(select(Adjustment).where(
        Adjustment.period_id == period.id, Adjustment.status == AdjustmentStatus.ACTIVE.value)
        .order_by(Adjustment.employee_id, Adjustment.indicator)) if a.employee_id in shown]
    appeals = feedback.visible_appeals(db, user, period)
    from server.models import Acknowledgement

    acked = set(db.scalars(select(Acknowledgement.employee_id).where(
        Acknowledgement.period_id == period.id)))
    return render_template(
        "period.html", period=period, run=run, totals=totals, adjustments=adjustments,
        appeals=appeals, acked=acked, events=workflow.history(db, period),
        waiting=workflow.waiting_for(db, period), transitions=workflow.available(period, user),
        reopen_targets=workflow.reopen_targets(period) if period.state in (
            "approved", "published", "closed") else [], order=workflow.ORDER,
        names=names_of_employees(db))


@bp.post("/periods/<code>/transition")
@guards.web("period.transition")
def transition(code: str) -> Response | str:
    user = auth.current_user()
    db = get_session()
    period = _period(code)
    action = request.form.get("action", "")
    confirmed = request.form.get("confirmed") == "yes"
    if action in workflow.CONFIRM and not confirmed and any(
            tr.action == action for tr in workflow.available(period, user)):
        # publish / close: first say who will be told and who cannot answer (docs/roles.md)
        return render_template("period_confirm.html", period=period,
                               preview=workflow.preview(db, period))
    event = workflow.transition(db, period, action, user, request.form.get("reason", ""),
                                request.form.get("to_state") or None, lang(),
                                confirmed=confirmed)
    db.commit()
    say_msg("periods.moved", code=code, action=workflow.action_word(action, lang()),
            state=workflow.state_word(event.to_state, lang()))
    return back("periods.detail", code=code)


@bp.get("/periods/<code>/export.csv")
@guards.web("result.export")
def export(code: str) -> Response:
    """The results the user may read, as CSV for Excel (UTF-8 with BOM, Chinese captions)."""
    user = auth.current_user()
    db = get_session()
    if not lookups.scorecard_in_request() and len(scorecards_of(db, code)) > 1:
        return _company_csv(code, month_view(db, user, code))
    period = _period(code)
    run = workflow.latest_run(get_session(), period)
    out = io.StringIO()
    out.write("\ufeff")
    w = csv.writer(out)
    w.writerow(columns("employee_id", "name", "department", "total", "grade", "rank", "status"))
    for x in _visible_totals(user, run):
        w.writerow([_cell(v) for v in (x["employee_id"], x["name"], x["department"],
                                       display.number(x.get("total")), x.get("grade") or "",
                                       x.get("rank") or "", x.get("status") or "")])
    return Response(out.getvalue(), content_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="kpibook-{_filename(code)}.csv"',
        "Cache-Control": "no-store"})


def _company_csv(code: str, month: MonthView) -> Response:
    """The month's company-wide results the user may read, every scorecard in one table."""
    out = io.StringIO()
    out.write("\ufeff")
    w = csv.writer(out)
    w.writerow(columns("company_rank", "employee_id", "name", "department", "scorecard",
                       "total", "grade", "status"))
    for x in month.company:
        w.writerow([_cell(v) for v in (x.company_rank or "", x.employee_id, x.name,
                                       x.department, x.scorecard, display.number(x.total),
                                       x.grade or "", x.status)])
    return Response(out.getvalue(), content_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="kpibook-{_filename(code)}-company.csv"',
        "Cache-Control": "no-store"})


def _cell(value: object) -> str:
    # A cell starting with = + - @ would run as a formula in Excel (CSV injection).
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _number(text) \
        else text


def _number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _filename(code: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in code)


@bp.get("/periods/<code>/results/<employee_id>")
@guards.web("result.view")
def result(code: str, employee_id: str) -> str:
    period = _viewed_period(code, employee_id)
    view = lookups.latest_result(get_session(), period, employee_id)
    return render_template("result.html", view=view, self_view=False,
                           may_adjust=policy.can(auth.current_user(), "adjustment.make")
                           and period.state in workflow.ALLOWED_IN["adjust"])


@bp.post("/periods/<code>/results/<employee_id>/adjust")
@guards.web("adjustment.make")
def adjust(code: str, employee_id: str) -> Response:
    user = auth.current_user()
    db = get_session()
    period = _viewed_period(code, employee_id)
    row, recorded = feedback.adjust(db, period, user, employee_id,
                                    request.form.get("indicator", ""),
                                    request.form.get("points", ""),
                                    request.form.get("reason", ""),
                                    lang())  # the history commit as a ribbon Submit's
    db.commit()
    points = display.signed(row.points)
    if recorded:
        say_msg("periods.adjusted", indicator=row.indicator, employee_id=employee_id,
                points=points)
    else:
        say_msg("periods.adjusted_already", "info", indicator=row.indicator,
                employee_id=employee_id, points=points)
    return back("periods.result", code=code, employee_id=employee_id)


@bp.get("/appeals")
@guards.web("appeal.list")
def appeals() -> str:
    user = auth.current_user()
    db = get_session()
    return render_template("appeals.html", appeals=feedback.visible_appeals(db, user),
                           names=names_of_employees(db))


@bp.get("/appeals/<int:appeal_id>")
@guards.web("appeal.view")
def appeal(appeal_id: int) -> str:
    user = auth.current_user()
    db = get_session()
    item = lookups.appeal(db, appeal_id)
    policy.require(user, "appeal.view", feedback.subject(db, item.employee_id), lang())
    view = feedback.result_of(db, item.period, item.employee_id)
    return render_template("appeal.html", item=item, view=view)


@bp.post("/appeals/<int:appeal_id>/answer")
@guards.web("appeal.answer")
def answer(appeal_id: int) -> Response:
    user = auth.current_user()
    db = get_session()
    item = lookups.appeal(db, appeal_id)
    feedback.answer(db, item, user, request.form.get("answer", ""), lang(),
                    indicator=request.form.get("indicator", "").strip(),
                    points=request.form.get("points", "").strip(),
                    adjust_reason=request.form.get("adjust_reason", ""))
    db.commit()  # an answer with an adjustment made its history commit (git first)
    from server import notify

    notify.appeal_answered(item.id, item.answered_at)
    say_msg("periods.appeal_answered")
    return back("periods.appeal", appeal_id=appeal_id)
