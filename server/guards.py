"""Route declarations: every view says who may reach it (docs/security.md).

`web(action)`, `token(action)`, `machine(scope)` (via `require_oauth(scope)`) and
`public(why)` decorate views; `route_policy(app, endpoint)` reads the declaration back.
tests/web/test_permission_matrix.py walks `app.url_map` and fails for any route without one.
The decisions themselves (who may do what, with which data) are `server.policy`'s: these
decorators only apply them at the door of a view.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, redirect, request, url_for

from server.declarations import RoutePolicy, declare
from server.policy import ACTIONS, require
from server.scoring.messages import both

F = TypeVar("F", bound=Callable[..., Any])


def public(why: str) -> Callable[[F], F]:
    """Declare a route open to everyone (sign-in page, health check, add-in files)."""
    return lambda view: declare(view, RoutePolicy("public", None, why))


def token(action: str) -> Callable[[F], F]:
    """A token-authenticated route (ribbon, API) whose view calls `require` itself, because
    the refusal must be worded in the workbook's language or depends on the data. A personal
    access token must also carry the scope `policy.token_scope(action)` (server/auth.py)."""
    if action not in ACTIONS:
        raise KeyError(action)
    return lambda view: declare(view, RoutePolicy("token", action))


def machine(scope: str) -> Callable[[F], F]:
    """A route for machines: declared by `require_oauth(scope)`, or directly by a
    route that checks its own machine credential (e.g. the sync push tokens)."""
    return lambda view: declare(view, RoutePolicy("machine", scope))


def web(action: str) -> Callable[[F], F]:
    """A web page or form: sign-in required (else the sign-in page), then the role-level
    `can(user, action)`; data-level checks follow in the view with `require`."""
    if action not in ACTIONS:
        raise KeyError(action)

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            from server.auth import optional_user
            from server.services.errors import Unauthorized
            from server.web import is_web_request

            user = optional_user()
            if user is None:
                if request.method in ("GET", "HEAD") and is_web_request():
                    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
                raise Unauthorized(both("web.sign_in_first"))
            require(user, action, lang=g.get("lang", "zh"))
            return view(*args, **kwargs)

        return declare(wrapped, RoutePolicy("web", action))  # type: ignore[return-value]

    return decorator


def require_oauth(scope: str) -> Callable[[F], F]:
    """Protect a machine endpoint: a valid, unexpired OAuth2 token carrying `scope`.

    Usage (the facts push API)::

        @bp.post("/facts")
        @require_oauth("facts:write")
        def push_facts(): client = auth.current_oauth_client()  # OAuthClient row

    Answers 401 (no/invalid/expired/revoked token) or 403 (insufficient_scope) as JSON
    (RFC 6750), and declares the route's policy for the permission-matrix test.
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            protector = current_app.extensions["kpibook.oauth"][1]
            with protector.acquire(scope) as token:
                g.oauth_client = token.row.client
            return view(*args, **kwargs)

        return machine(scope)(wrapped)  # type: ignore[return-value]

    return decorator
