"""What each route declares about who may reach it, as data (docs/security.md).

`server.guards` writes a `RoutePolicy` onto every view; `route_policy(app, endpoint)` reads it
back for the permission-matrix test, the OpenAPI document and the token-scope check
(server/auth.py). Data only: no Flask import, no decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from flask import Flask

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    kind: str  # web | token | machine | public
    action: str | None  # an ACTIONS key (web/token), an OAuth scope (machine), None (public)
    note: str = ""


# Endpoints Flask itself adds.
PUBLIC_ENDPOINTS = {"static": "stylesheets, scripts and images of the web pages"}


def declare(view: F, policy: RoutePolicy) -> F:
    view.kb_policy = policy  # type: ignore[attr-defined]
    return view


def route_policy(app: Flask, endpoint: str) -> RoutePolicy | None:
    if endpoint in PUBLIC_ENDPOINTS:
        return RoutePolicy("public", None, PUBLIC_ENDPOINTS[endpoint])
    view = app.view_functions.get(endpoint)
    return getattr(view, "kb_policy", None)


__all__ = ["PUBLIC_ENDPOINTS", "RoutePolicy", "declare", "route_policy"]
