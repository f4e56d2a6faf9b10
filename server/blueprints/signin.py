"""Sign-in and sign-out of the web pages, the home page, and the OAuth2 token endpoint.

Sign-in is one or two steps: the password (/login) or the company's platform (/login/<name>:
DingTalk, Feishu, WeCom, OpenID Connect; server/services/platform_signin.py), then, for people
with a second factor or whose role requires one, a one-time code (/login/verify) or, the first
time, enrolment (/login/enrol). Between the steps the signed cookie holds only the user id and
when the first step succeeded; the web session starts after the last step.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

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

from server import auth, guards, mfa, policy, throttle
from server.db import get_session
from server.models import User
from server.scoring.messages import msg
from server.services import platform_signin
from server.services.errors import ClientError
from server.web import lang, say_msg

PENDING_KEY = "kb_pending"
PENDING_SECONDS = 600  # the second step must follow the password within ten minutes
PLATFORM_KEY = "kb_platform"  # the round trip through a platform: state, nonce, PKCE verifier

bp = Blueprint("auth", __name__)
oauth_bp = Blueprint("oauth", __name__, url_prefix="/oauth")


def _safe_next(target: str | None) -> str:
    # Only paths of this site: an open redirect would make phishing links look like ours.
    if not target:
        return ""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return ""
    return target


@bp.get("/")
@guards.web("account.own")
def home() -> Response:
    user = auth.current_user()
    if policy.can(user, "period.view"):
        return redirect(url_for("periods.index"))
    return redirect(url_for("me.index"))


@bp.route("/login", methods=["GET", "POST"])
@guards.public("the sign-in form")
def login() -> Response | str | tuple[str, int]:
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if auth.optional_user() is not None:
            return redirect(next_url or url_for("auth.home"))
        return _login_page(next_url=next_url, name="")
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    db = get_session()
    try:
        user = auth.authenticate(db, name, password, lang())
    except ClientError as exc:
        return _refused("login.html", exc, next_url=next_url, name=name)
    db.commit()
    if mfa.enrolled(user) or mfa.required(user, current_app.config):
        return _second_step(user, next_url)
    return _signed_in(user, next_url)


def _second_step(user: User, next_url: str) -> Response:
    session.clear()
    session[PENDING_KEY] = {"uid": user.id, "at": time.time(), "next": next_url}
    return redirect(url_for("auth.verify" if mfa.enrolled(user) else "auth.enrol"))


def _login_page(**context: Any) -> str:
    """The sign-in page: the password form and a button per configured platform."""
    providers = [(p.name, p.platform, p.label(lang()))
                 for p in platform_signin.providers(current_app.config)]
    return render_template("login.html", providers=providers, **context)


def _callback_url(name: str) -> str:
    return url_for("auth.platform_callback", name=name, _external=True)


@bp.get("/login/<name>")
@guards.public("starts a sign-in on a platform (DingTalk, Feishu, WeCom, OIDC), which then "
               "proves who the person is")
def platform_start(name: str) -> Response | tuple[Response, int]:
    next_url = _safe_next(request.args.get("next"))
    try:
        url, pending = platform_signin.begin(current_app.config, name, _callback_url(name),
                                             lang(), next_url,
                                             user_agent=request.user_agent.string or "")
    except ClientError as exc:
        return _refused("login.html", exc, next_url=next_url, name="")
    session[PLATFORM_KEY] = pending
    return redirect(url)


@bp.get("/login/<name>/callback")
@guards.public("the platform sends the person back here; state, code, identity and binding "
               "are checked by server/services/platform_signin.py")
def platform_callback(name: str) -> Response | tuple[Response, int]:
    pending = session.pop(PLATFORM_KEY, None)  # a state is good for one callback only
    db = get_session()
    if isinstance(pending, dict) and pending.get("intent") == "bind":
        user = auth.optional_user()
        if user is None:
            return redirect(url_for("auth.login"))
        try:
            row = platform_signin.bind(db, current_app.config, name, request.args, pending,
                                       _callback_url(name), user, lang())
        except ClientError as exc:
            db.rollback()
            flash(exc.message, "error")
            return redirect(url_for("account.index"))
        db.commit()
        say_msg("signin.bound", account=row.label or row.subject,
                platform=platform_signin.provider(current_app.config, name, lang()).label(lang()))
        return redirect(url_for("account.index"))
    try:
        done = platform_signin.sign_in(db, current_app.config, name, request.args, pending,
                                       _callback_url(name), auth.client_ip(), lang())
    except ClientError as exc:
        db.rollback()
        return _refused("login.html", exc, next_url="", name="")
    db.commit()
    next_url = _safe_next(done.next_url)
    if done.needs_second_factor:
        return _second_step(done.user, next_url)
    return _signed_in(done.user, next_url)


def _refused(template: str, exc: ClientError, **context: Any) -> tuple[Response, int]:
    if template == "login.html":
        html = _login_page(error=exc.message, **context)
    else:
        html = render_template(template, error=exc.message, **context)
    resp = Response(html, exc.status)
    if isinstance(exc, auth.SignInRefused) and exc.retry_after:
        resp.headers["Retry-After"] = str(int(exc.retry_after))
    return resp, exc.status


def _signed_in(user: User, next_url: str) -> Response:
    db = get_session()
    auth.start_web_session(db, user)
    db.commit()
    say_msg("signin.welcome", name=user.label)
    return redirect(next_url or url_for("auth.home"))


def _pending_user() -> tuple[User | None, str]:
    """The user whose password was right moments ago, and where they were going."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > \
            PENDING_SECONDS:
        session.pop(PENDING_KEY, None)
        return None, ""
    user = get_session().get(User, int(pending.get("uid", 0)))
    if user is None or not user.active:
        return None, ""
    return user, _safe_next(pending.get("next"))


@bp.route("/login/verify", methods=["GET", "POST"])
@guards.public("second sign-in step: only after the right password (pending in the cookie)")
def verify() -> Response | str | tuple[Response, int]:
    user, next_url = _pending_user()
    if user is None or not mfa.enrolled(user):
        return redirect(url_for("auth.login"))
    if request.method == "GET":
        return render_template("login_verify.html")
    code = request.form.get("code", "")
    db = get_session()
    keys = throttle.second_factor_keys(current_app.config, user.id)
    try:
        wait = throttle.count_attempt(db, keys,
                                      float(current_app.config["LOGIN_WINDOW_MINUTES"]) * 60)
        if wait is not None:
            raise auth._too_many(wait, lang())
        if mfa.accept_code(db, user, code) or mfa.accept_recovery_code(user, code):
            db.commit()
            throttle.forget_attempt(db, keys, reset=("totp:",))
            session.pop(PENDING_KEY, None)
            if len(user.recovery_codes or []) <= 2:
                say_msg("mfa.few_recovery_codes", "info", n=len(user.recovery_codes or []))
            return _signed_in(user, next_url)
        db.rollback()
        raise auth.SignInRefused(msg("mfa.wrong_code", lang()))
    except ClientError as exc:
        return _refused("login_verify.html", exc)


@bp.route("/login/enrol", methods=["GET", "POST"])
@guards.public("first sign-in of a role that needs a second factor: only after the right "
               "password (pending in the cookie)")
def enrol() -> Response | str | tuple[Response, int]:
    user, next_url = _pending_user()
    if user is None:
        return redirect(url_for("auth.login"))
    if mfa.enrolled(user):
        return redirect(url_for("auth.verify"))
    pending = dict(session[PENDING_KEY])
    if request.method == "GET" or not pending.get("secret"):
        pending["secret"] = pending.get("secret") or mfa.new_secret()
        session[PENDING_KEY] = pending
        return _enrol_page(user, pending["secret"], url_for("auth.enrol"))
    step = mfa.enrolment_step(pending["secret"], request.form.get("code", ""))
    if step is None:
        return _enrol_page(user, pending["secret"], url_for("auth.enrol"),
                           msg("mfa.wrong_code_clock", lang()), 400)
    db = get_session()
    codes = mfa.enrol(user, pending["secret"], step)
    auth.start_web_session(db, user)
    db.commit()
    return recovery_codes_page(codes, next_url or url_for("auth.home"))


def _enrol_page(user: User, secret: str, action: str, error: str = "",
                status: int = 200, ask_password: bool = False) -> Response:
    uri = mfa.provisioning_uri(secret, user, current_app.config["MFA_ISSUER"])
    html = render_template("mfa_enrol.html", secret=secret, qr=mfa.qr_svg(uri), action=action,
                           error=error, ask_password=ask_password,
                           required=mfa.required(user, current_app.config))
    return Response(html, status, headers={"Cache-Control": "no-store"})


def recovery_codes_page(codes: list[str], next_url: str) -> Response:
    """Shown once, never stored in clear (no-store like new tokens)."""
    html = render_template("mfa_recovery.html", codes=codes, next_url=next_url)
    return Response(html, headers={"Cache-Control": "no-store"})


@bp.post("/logout")
@guards.public("signing out needs no permission (CSRF-checked like every form)")
def logout() -> Response:
    db = get_session()
    auth.end_web_session(db)
    db.commit()
    say_msg("signin.signed_out", "info")
    return redirect(url_for("auth.login"))


@oauth_bp.post("/token")
@guards.public("OAuth2 client-credentials: the client authenticates with its secret")
def token() -> Response:
    return auth.oauth_server().create_token_response()


__all__ = ["bp", "oauth_bp"]
