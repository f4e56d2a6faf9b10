"""My account: who I am, my password, my second factor, where I am signed in, and my personal
access tokens for the Excel add-in."""

from __future__ import annotations

import datetime as dt

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select

from server import auth, guards, mfa
from server.db import get_session
from server.models import ApiToken, User, WebSession
from server.scoring.messages import both, msg
from server.services import platform_signin
from server.services.errors import ClientError, NotFound
from server.web import back, lang, say_msg

bp = Blueprint("account", __name__, url_prefix="/account")

TOKEN_DAY_CHOICES = (30, 90, 180, 365)


def _page(user: User, new_token: str | None = None, error: str = "",
          status: int = 200) -> Response:
    db = get_session()
    tokens = db.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                        .order_by(ApiToken.id.desc())).all()
    now = auth.utcnow()
    sessions = [w for w in db.scalars(select(WebSession).where(
        WebSession.user_id == user.id, WebSession.revoked_at.is_(None))
        .order_by(WebSession.last_seen_at.desc()))
        if auth._aware(w.expires_at) > now]
    configured = platform_signin.providers(current_app.config)
    html = render_template("account.html", user=user, tokens=tokens, new_token=new_token,
                           day_choices=TOKEN_DAY_CHOICES, now=now, aware=auth._aware,
                           sessions=sessions, this_session=auth.current_session_hash(),
                           scopes=auth.TOKEN_SCOPES, token_error=error,
                           mfa_enrolled=mfa.enrolled(user),
                           bindings=platform_signin.bindings_of(db, user),
                           providers=[(p.name, p.platform, p.label(lang())) for p in configured],
                           provider_labels={p.name: p.label(lang()) for p in configured},
                           mfa_required=mfa.required(user, current_app.config),
                           recovery_left=len(user.recovery_codes or []))
    return Response(html, status)


@bp.get("")
@guards.web("account.own")
def index() -> Response:
    return _page(auth.current_user())


@bp.get("/bindings/<name>")
@guards.web("account.own")
def start_binding(name: str) -> Response:
    """Bind a platform account: sign in on the platform, which sends the browser back to
    the sign-in callback (server/blueprints/signin.py) with the binding pending.

    A link, not a form: the pages' CSP (form-action 'self') stops a form's redirect to the
    platform. Nothing changes here; the binding needs the platform's answer to this
    browser's own round trip (state), so a forged link can only bind the person's own
    platform account to their own kpibook account."""
    from server.blueprints.signin import PLATFORM_KEY, _callback_url

    user = auth.current_user()
    try:
        url, pending = platform_signin.begin(current_app.config, name, _callback_url(name),
                                             lang(), intent="bind", uid=user.id)
    except ClientError as exc:
        flash(exc.message, "error")
        return back("account.index")
    session[PLATFORM_KEY] = pending
    return redirect(url)


@bp.post("/bindings/<int:binding_id>/delete")
@guards.web("account.own")
def remove_binding(binding_id: int) -> Response:
    db = get_session()
    platform_signin.remove_binding(db, binding_id, auth.current_user(), lang())
    db.commit()
    say_msg("account.unbound")
    return back("account.index")


def _password_again(user: User) -> None:
    """Re-authentication before something that outlives this browser session (a token, a new
    second factor): the password again, throttled like a sign-in."""
    if not auth.check_password_throttled(user.name, request.form.get("password", ""), user,
                                         lang()):
        raise ClientError(msg("account.password_wrong", lang()), 400)


@bp.post("/tokens")
@guards.web("account.own")
def create_token() -> Response:
    user = auth.current_user()
    label = request.form.get("label", "").strip()[:100] or "Excel"
    try:
        days = int(request.form.get("days", "90"))
    except ValueError:
        days = 90
    if days not in TOKEN_DAY_CHOICES:
        days = 90
    scopes = [s for s in request.form.getlist("scopes") if s in auth.TOKEN_SCOPES]
    try:
        _password_again(user)
        if not scopes:
            raise ClientError(msg("admin.choose_scope", lang()), 400)
    except ClientError as exc:
        return _page(user, error=exc.message, status=exc.status)
    db = get_session()
    token = auth.create_token(db, user, label, days=days, scopes=scopes)
    db.commit()
    # Shown once, in this answer only (never in a redirect URL, flash cookie or log).
    return _page(user, new_token=token)


@bp.post("/sessions/<int:session_id>/end")
@guards.web("account.own")
def end_session(session_id: int) -> Response:
    user = auth.current_user()
    db = get_session()
    row = db.get(WebSession, session_id)
    if row is None or row.user_id != user.id:
        raise NotFound(both("account.no_session"))
    if row.revoked_at is None:
        row.revoked_at = auth.utcnow()
        db.commit()
    if row.sid_hash == auth.current_session_hash():
        session.clear()
        return back("auth.login")
    say_msg("account.session_ended")
    return back("account.index")


@bp.post("/sessions/end-others")
@guards.web("account.own")
def end_other_sessions() -> Response:
    user = auth.current_user()
    db = get_session()
    mine = auth.current_session_hash()
    for row in db.scalars(select(WebSession).where(WebSession.user_id == user.id,
                                                   WebSession.revoked_at.is_(None))):
        if row.sid_hash != mine:
            row.revoked_at = auth.utcnow()
    db.commit()
    say_msg("account.others_ended")
    return back("account.index")


@bp.route("/mfa", methods=["GET", "POST"])
@guards.web("account.own")
def enrol_mfa() -> Response:
    """Enrol (or replace) the authenticator: password again and a code of the new secret."""
    from server.blueprints.signin import _enrol_page, recovery_codes_page

    user = auth.current_user()
    secret = session.get("kb_enrol_secret")
    if request.method == "GET" or not secret:
        secret = mfa.new_secret()
        session["kb_enrol_secret"] = secret
        return _enrol_page(user, secret, url_for("account.enrol_mfa"), ask_password=True)
    try:
        _password_again(user)
    except ClientError as exc:
        return _enrol_page(user, secret, url_for("account.enrol_mfa"), exc.message, exc.status,
                           True)
    step = mfa.enrolment_step(secret, request.form.get("code", ""))
    if step is None:
        return _enrol_page(user, secret, url_for("account.enrol_mfa"),
                           msg("mfa.wrong_code_clock", lang()), 400, True)
    db = get_session()
    codes = mfa.enrol(user, secret, step)
    db.commit()
    session.pop("kb_enrol_secret", None)
    return recovery_codes_page(codes, url_for("account.index"))


@bp.post("/tokens/<int:token_id>/revoke")
@guards.web("account.own")
def revoke_token(token_id: int) -> Response:
    user = auth.current_user()
    db = get_session()
    row = db.get(ApiToken, token_id)
    # Another user's token is "not found": nobody learns which token ids exist.
    if row is None or row.user_id != user.id:
        raise NotFound(both("account.no_token"))
    if row.revoked_at is None:
        row.revoked_at = dt.datetime.now(dt.UTC)
        db.commit()
    say_msg("account.token_revoked", prefix=row.prefix)
    return back("account.index")


@bp.post("/password")
@guards.web("account.own")
def change_password() -> Response:
    user = auth.current_user()
    db = get_session()
    current = request.form.get("current", "")
    new = request.form.get("new", "")
    try:
        right = not user.password_hash or auth.check_password_throttled(
            user.name, current, user, lang())
    except ClientError as exc:
        flash(exc.message, "error")
        return back("account.index")
    if not right:
        say_msg("account.current_password_wrong", "error")
        return back("account.index")
    if new != request.form.get("repeat", ""):
        say_msg("account.passwords_differ", "error")
        return back("account.index")
    problem = auth.password_problem(new, lang())
    if problem:
        flash(problem, "error")
        return back("account.index")
    auth.set_password(user, new)  # revokes every token of the user
    auth.end_all_sessions(db, user)  # every other browser must sign in again
    auth.start_web_session(db, user)
    db.commit()
    say_msg("account.password_changed")
    return back("account.index")
