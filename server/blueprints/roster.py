"""Org sync pages (admin area): the roster changes DingTalk / Feishu / WeCom propose, and
HR's apply or discard with a reason. Every write goes through server/services/orgsync.py."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, current_app, render_template, request

from server import auth, guards
from server.db import get_session
from server.scoring.messages import both
from server.services import orgsync
from server.services.errors import BadRequest
from server.web import back, say_msg

bp = Blueprint("roster", __name__, url_prefix="/admin/roster")


def _change_id() -> int:
    try:
        return int(request.form.get("change_id", ""))
    except ValueError:
        raise BadRequest(both("roster.no_change")) from None


@bp.get("")
@guards.web("roster.view")
def page() -> str:
    view = orgsync.roster_sync_view(get_session(), current_app.config)
    return render_template("admin/roster.html", view=view, kinds=orgsync.KINDS,
                           today=dt.datetime.now(orgsync.COMPANY_TZ).date().isoformat())


@bp.post("/sync")
@guards.web("roster.apply")
def sync() -> Response:
    db = get_session()
    change = orgsync.sync_now(db, current_app.config, request.form.get("source", ""),
                              auth.current_user().name)
    db.commit()
    if change is None:
        say_msg("roster.in_step")
    else:
        say_msg("roster.proposed", id=change.id)
    return back("roster.page")


@bp.post("/apply")
@guards.web("roster.apply")
def apply() -> Response:
    db = get_session()
    me = auth.current_user()
    text = request.form.get("effective_date", "").strip()
    try:
        effective = dt.date.fromisoformat(text)
    except ValueError:
        raise BadRequest(both("roster.bad_date")) from None
    done = orgsync.apply_roster_change(db, _change_id(), me.name,
                                       request.form.get("reason", ""), effective, me.id)
    db.commit()
    say_msg("roster.applied", id=done.change.id, written=done.written, flagged=done.flagged)
    return back("roster.page")


@bp.post("/discard")
@guards.web("roster.apply")
def discard() -> Response:
    db = get_session()
    me = auth.current_user()
    row = orgsync.discard_roster_change(db, _change_id(), me.name,
                                        request.form.get("reason", ""), me.id)
    db.commit()
    say_msg("roster.discarded", id=row.id)
    return back("roster.page")
