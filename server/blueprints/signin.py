"""Sign-in and sign-out of the web pages, the home page, and the OAuth2 token endpoint."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, redirect, render_template, request, url_for

from server import auth, guards, policy
from server.db import get_session
from server.services.errors import ClientError
from server.web import lang, say, t

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
        return render_template("login.html", next_url=next_url, name="")
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    db = get_session()
    try:
        user = auth.authenticate(db, name, password, lang())
    except ClientError as exc:
        return render_template("login.html", next_url=next_url, name=name,
                               error=exc.message), exc.status
    auth.start_web_session(db, user)
    db.commit()
    say(f"欢迎，{user.label}。", f"Welcome, {user.label}.")
    return redirect(next_url or url_for("auth.home"))


@bp.post("/logout")
@guards.public("signing out needs no permission (CSRF-checked like every form)")
def logout() -> Response:
    db = get_session()
    auth.end_web_session(db)
    db.commit()
    say("您已退出登录。", "You are signed out.", "info")
    return redirect(url_for("auth.login"))


@oauth_bp.post("/token")
@guards.public("OAuth2 client-credentials: the client authenticates with its secret")
def token() -> Response:
    return auth.oauth_server().create_token_response()


__all__ = ["bp", "oauth_bp", "t"]
