"""Bearer-token authentication (personal access tokens) and role checks.

Simple until the roles issue lands: a token is 32 random bytes shown once; the database keeps
only its sha256 (a fast hash is fine for high-entropy random tokens, unlike passwords). Each
token belongs to one user with one role; an executive's authority is data on the user.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.db import get_session
from server.models import ApiToken, Role, User
from server.services.errors import Forbidden, Unauthorized

TOKEN_PREFIX = "kpb_"  # recognisable in logs and secret scanners

F = TypeVar("F", bound=Callable[..., Any])


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_user(session: Session, name: str, role: str, display_name: str = "",
                authority: dict[str, Any] | None = None, email: str = "") -> User:
    role = Role(role).value  # ValueError names the bad role
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise ValueError(f"user {name!r} already exists")
    user = User(name=name, role=role, display_name=display_name or name,
                authority=authority or {}, email=email)
    session.add(user)
    session.flush()
    return user


def create_token(session: Session, user: User, name: str = "") -> str:
    """Store a new token for `user` and return it; it cannot be recovered later."""
    token = new_token()
    session.add(ApiToken(user=user, name=name or "token", token_hash=hash_token(token),
                         prefix=token[:12]))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    digest = hash_token(token)
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    # compare_digest: the lookup is by hash already; this only keeps timing uniform.
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    if row.revoked_at is not None or not row.user.active:
        return None
    row.last_used_at = dt.datetime.now(dt.UTC)
    return row.user


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def current_user() -> User:
    """The authenticated user of this request; 401 when the token is absent or unknown."""
    if "user" in g:
        return g.user
    token = bearer_token()
    if token is None:
        raise Unauthorized(
            "需要登录：请在 KPI 加载项中填写访问令牌 (Authorization: Bearer <token>)。\n"
            "Sign-in required: set your access token in the KPI add-in "
            "(Authorization: Bearer <token>).")
    session = get_session()
    user = user_for_token(session, token)
    if user is None:
        raise Unauthorized("访问令牌无效或已撤销。\nThe access token is invalid or revoked.")
    session.commit()  # last_used_at
    g.user = user
    return user


def require_role(user: User, roles: tuple[str, ...], action: str) -> None:
    if user.role not in roles:
        raise Forbidden(
            f"您的角色（{user.role}）不能执行「{action}」。\n"
            f"Your role ({user.role}) may not {action}.")


def login_required(view: F) -> F:
    """Authenticate before the view runs (the user is then in `flask.g.user`)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        current_user()
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
