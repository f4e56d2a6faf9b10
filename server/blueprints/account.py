"""My account: who I am, my password, my personal access tokens for the Excel add-in."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, render_template, request
from sqlalchemy import select

from server import auth, guards
from server.db import get_session
from server.models import ApiToken
from server.services.errors import NotFound
from server.web import back, lang, say

bp = Blueprint("account", __name__, url_prefix="/account")

TOKEN_DAY_CHOICES = (30, 90, 180, 365)


@bp.get("")
@guards.web("account.own")
def index() -> str:
    user = auth.current_user()
    tokens = get_session().scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                   .order_by(ApiToken.id.desc())).all()
    return render_template("account.html", user=user, tokens=tokens, new_token=None,
                           day_choices=TOKEN_DAY_CHOICES, now=auth.utcnow(),
                           aware=auth._aware)


@bp.post("/tokens")
@guards.web("account.own")
def create_token() -> str | Response:
    user = auth.current_user()
    label = request.form.get("label", "").strip()[:100] or "Excel"
    try:
        days = int(request.form.get("days", "90"))
    except ValueError:
        days = 90
    if days not in TOKEN_DAY_CHOICES:
        days = 90
    db = get_session()
    token = auth.create_token(db, user, label, days=days)
    db.commit()
    tokens = db.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                        .order_by(ApiToken.id.desc())).all()
    # Shown once, in this answer only (never in a redirect URL, flash cookie or log).
    resp = render_template("account.html", user=user, tokens=tokens, new_token=token,
                           day_choices=TOKEN_DAY_CHOICES, now=auth.utcnow(),
                           aware=auth._aware)
    return Response(resp, headers={"Cache-Control": "no-store"})


@bp.post("/tokens/<int:token_id>/revoke")
@guards.web("account.own")
def revoke_token(token_id: int) -> Response:
    user = auth.current_user()
    db = get_session()
    row = db.get(ApiToken, token_id)
    # Another user's token is "not found": nobody learns which token ids exist.
    if row is None or row.user_id != user.id:
        raise NotFound("找不到该令牌。\nNo such token.")
    if row.revoked_at is None:
        row.revoked_at = dt.datetime.now(dt.UTC)
        db.commit()
    say(f"令牌 {row.prefix}… 已撤销。", f"Token {row.prefix}… revoked.")
    return back("account.index")


@bp.post("/password")
@guards.web("account.own")
def change_password() -> Response:
    user = auth.current_user()
    db = get_session()
    current = request.form.get("current", "")
    new = request.form.get("new", "")
    if user.password_hash and not auth._verify(user.password_hash, current):
        say("当前密码不正确。", "The current password is wrong.", "error")
        return back("account.index")
    if new != request.form.get("repeat", ""):
        say("两次输入的新密码不一致。", "The new passwords differ.", "error")
        return back("account.index")
    problem = auth.password_problem(new, lang())
    if problem:
        say(problem, problem, "error")
        return back("account.index")
    auth.set_password(user, new)
    auth.end_all_sessions(db, user)  # every other browser must sign in again
    auth.start_web_session(db, user)
    db.commit()
    say("密码已更改，其他设备上的登录已结束。", "Password changed; other sign-ins were ended.")
    return back("account.index")
