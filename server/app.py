"""The Flask application factory.

`create_app()` reads `KPIBOOK_*` environment variables (server/config.py), connects the
database (schema by Alembic only), registers one blueprint per area and the error handlers
that turn every failure into a plain-text message the Excel clients can show.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import uuid
from collections.abc import Mapping
from typing import Any

from flask import Flask, Request, Response, g, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from server import config as cfg
from server import db
from server.scoring.messages import CATALOGUE, both
from server.services.errors import ClientError

log = logging.getLogger("kpibook")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class KpibookRequest(Request):
    """Werkzeug stops reading a body without Content-Length (chunked) at the limit and
    returns what it read, so a too-large chunked workbook would look truncated (400 "not
    JSON") instead of too large: a body that fills the whole limit is refused with 413."""

    def get_data(self, cache: bool = True, as_text: bool = False,  # type: ignore[override]
                 parse_form_data: bool = False) -> Any:
        data = super().get_data(cache=cache, as_text=False, parse_form_data=parse_form_data)
        limit = self.max_content_length
        if limit is not None and self.content_length is None and len(data) >= limit:
            raise RequestEntityTooLarge()
        return data.decode("utf-8", "replace") if as_text else data


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the kpibook server. `config` overrides the environment (tests use it)."""
    overrides = dict(config or {})
    instance_path = overrides.get("INSTANCE_PATH") or os.environ.get(cfg.PREFIX + "INSTANCE_PATH")
    app = Flask(
        "server",
        instance_path=os.path.abspath(instance_path) if instance_path else None,
        instance_relative_config=True,
    )
    settings = cfg.defaults()
    settings.update(cfg.from_environ())
    settings.update(overrides)
    cfg.finish(settings, app.instance_path)
    app.config.update(settings)
    app.request_class = KpibookRequest
    app.config["INSTANCE_PATH"] = app.instance_path
    # Flask's JSON provider would sort keys; action order and readability do not need it.
    app.json.sort_keys = False  # type: ignore[attr-defined]
    os.makedirs(app.instance_path, exist_ok=True)

    logging.basicConfig(level=app.config["LOG_LEVEL"],
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.setLevel(app.config["LOG_LEVEL"])

    if int(app.config.get("TRUST_PROXY") or 0) > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = int(app.config["TRUST_PROXY"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_prefix=n)

    db.init_app(app)
    from server import auth, notify, web

    auth.init_app(app)  # cookies, CSRF, HTTPS-only credentials, OAuth2 server
    _register_blueprints(app)
    _register_request_hooks(app)
    _register_error_handlers(app)
    web.init_app(app)
    notify.install(app)
    from server.services.history_record import install_history

    # workflow moves -> history commits; crash recovery (docs/history.md), once per instance
    install_history(app, recover_now=not _recovered_before_fork)
    return app


# Set in gunicorn's master by `recover_before_workers` and inherited by every worker it forks
# (a module global, not a setting: only a fork carries it).
_recovered_before_fork = False


def recover_before_workers() -> None:
    """gunicorn's `on_starting` (server/gunicorn_conf.py): start-up recovery once per
    instance, in the master, before any worker exists.

    Recovery in every worker raced: two workers starting together both found the same commit
    missing and both inserted its row (UniqueViolation, a traceback in the second), and a
    worker replacing a killed one recovered while the others served, so it could record a
    commit whose Submit was still writing its own row. Workers (first ones, replacements
    after a crash, new ones after a reload) skip recovery; the client's retry with the same
    Idempotency-Key records a commit the database lacks meanwhile (docs/deploy.md)."""
    global _recovered_before_fork
    from server.services.history import close_all

    app = create_app()  # recovers: the flag is not set yet
    # Nothing opened here may be shared with the forked workers.
    close_all()
    db.get_engine(app).dispose()
    _recovered_before_fork = True


def _register_blueprints(app: Flask) -> None:
    from server.blueprints import addin, api, facts, health, review, xl

    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(xl.bp)
    app.register_blueprint(addin.bp)
    app.register_blueprint(review.bp)
    app.register_blueprint(facts.bp)
    from server import openapi

    app.register_blueprint(openapi.bp)  # GET /api/v1/openapi.json
    _register_web_blueprints(app)
    from server.blueprints.lookups import remember_scorecard

    app.url_defaults(remember_scorecard)


def _register_web_blueprints(app: Flask) -> None:
    # CSRF: server/auth.py checks every POST that may carry the session cookie.
    from server.blueprints import account, admin, me, periods, records, rollups, roster, signin

    for web_bp in (signin.bp, signin.oauth_bp, account.bp, admin.bp, roster.bp, periods.bp,
                   me.bp, records.bp, rollups.bp):
        app.register_blueprint(web_bp)


def _register_request_hooks(app: Flask) -> None:
    @app.before_request
    def _request_id() -> None:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex[:16]
        # Refuse a declared oversized body before authentication or reading it; Werkzeug's
        # own limit still guards chunked bodies without Content-Length.
        limit = app.config.get("MAX_CONTENT_LENGTH")
        if limit and request.content_length is not None and request.content_length > limit:
            raise RequestEntityTooLarge()

    @app.before_request
    def _text_fields() -> None:
        _check_text_fields()

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers["X-Request-ID"] = g.get("request_id", "")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        if request.is_secure:
            resp.headers.setdefault("Strict-Transport-Security",
                                    "max-age=31536000; includeSubDomains")
        # Excel on the web shows the add-in's pages inside a cross-origin iframe, so they
        # must not forbid framing; every other page may not be framed (clickjacking).
        addin = request.path.startswith("/addin/")
        if not addin:
            resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Content-Security-Policy", ADDIN_CSP if addin else CSP)
        if "base-uri" not in resp.headers["Content-Security-Policy"]:
            # a view's own stricter policy (e.g. standalone SVG charts) still gets these
            resp.headers["Content-Security-Policy"] += "; base-uri 'none'; object-src 'none'"
        # Personal, admin and API answers are never stored by browsers or proxies; only the
        # stylesheets/scripts and the add-in's files (revalidated: no-cache) may be.
        if not (addin or request.path.startswith("/static/")):
            resp.headers["Cache-Control"] = "no-store"
        return resp


def _check_text_fields() -> None:
    """Every form field, query argument and JSON API string is text the database and git
    can hold (server/xlwire/textsafe.py `checked_text`: no NUL or other control character),
    or the request is refused with 400 naming the field, before any use case sees it. The
    workbook wire (/xl/) is checked per cell by the workbook contract, located."""
    from server.scoring.messages import why_of
    from server.xlwire.textsafe import checked_text

    def check(where: str, value: object, depth: int = 0) -> None:
        if isinstance(value, str):
            try:
                checked_text(value, where)
            except ValueError as exc:
                why = why_of(exc)
                text = (f"{why.text('zh')}\n{why.text('en')}" if hasattr(why, "text")
                        else str(why))
                raise ClientError(text, 400) from None
        elif isinstance(value, dict) and depth < 64:
            for k, v in value.items():
                check(where or "JSON", k, depth + 1)  # a bad key is named by its parent
                check(f"{where}.{k}" if where else str(k), v, depth + 1)
        elif isinstance(value, list) and depth < 64:
            for i, v in enumerate(value):
                check(f"{where}[{i}]", v, depth + 1)

    for source, fields in (("query", request.args), ("form", request.form)):
        if source == "form" and (request.path.startswith("/xl/") or request.mimetype not in (
                "application/x-www-form-urlencoded", "multipart/form-data")):
            continue
        for name, value in fields.items(multi=True):
            check(source, name)  # a bad field name is named by where it came from
            check(f"“{name}”", value)
    if request.is_json and not request.path.startswith("/xl/"):
        check("", request.get_json(silent=True))


# Every page: scripts and styles from this server only (no inline script), nothing framed.
CSP = ("default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'; img-src 'self' data:; "
       "style-src 'self' 'unsafe-inline'")
# The add-in's pages: Office.js comes from Microsoft's CDN and Office frames the task pane
# (Excel on the web); desktop Excel shows it in a webview, where frame-ancestors is moot.
OFFICE_JS = "https://appsforoffice.microsoft.com"
# What Office.js itself loads and reports to, found by its users (OfficeDev/office-js#1005);
# Excel on the web's script sets inline styles (office-js#1687): style-src 'unsafe-inline'.
OFFICE_JS_MORE = "https://ajax.aspnetcdn.com https://browser.pipe.aria.microsoft.com"
# Every ancestor must match: Excel on the web's frame (*.officeapps.live.com) and the page
# around it (OneDrive, SharePoint, office.com, microsoft365.com, *.cloud.microsoft).
OFFICE_FRAMES = ("https://*.live.com https://*.office.com https://*.office365.com "
                 "https://*.microsoft365.com https://*.sharepoint.com https://*.cloud.microsoft "
                 "https://*.microsoft.com")
ADDIN_CSP = (f"default-src 'self'; script-src 'self' {OFFICE_JS} {OFFICE_JS_MORE}; "
             "object-src 'none'; base-uri 'none'; form-action 'self'; img-src 'self' data:; "
             f"style-src 'self' 'unsafe-inline'; connect-src 'self' {OFFICE_JS} "
             f"{OFFICE_JS_MORE}; "
             f"frame-src 'self' {OFFICE_FRAMES}; frame-ancestors 'self' {OFFICE_FRAMES}")


def _error(message: str, status: int) -> Response:
    from server.web import error_answer

    return error_answer(message, status)


def _disk_full(exc: BaseException) -> bool:
    """ENOSPC raised directly, or reported by a git subprocess (history commits)."""
    seen: BaseException | None = exc
    for _ in range(10):  # bounded: exception chains can be cyclic
        if seen is None:
            break
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        if "No space left on device" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ClientError)
    def _client_error(exc: ClientError) -> Response:
        g.choose_scorecard = exc  # a page then links each scorecard (web.error_page)
        log.info("%s %s -> %s: %s", request.method, request.path, exc.status,
                 exc.message.splitlines()[0] if exc.message else "")
        return _error(exc.message, exc.status)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        if f"http.{status}" in CATALOGUE:  # ours; any other status in werkzeug's words
            limit = _size(app.config.get("MAX_CONTENT_LENGTH"))
            return _error(both(f"http.{status}", limit=limit), status)
        return _error(f"{exc.name}\n{exc.description or exc.name}", status)

    @app.errorhandler(RecursionError)
    def _too_deep(_exc: RecursionError) -> Response:
        # JSON nested thousands of levels deep (json.loads recurses): the client's fault.
        log.info("%s %s -> 400: input nested too deeply", request.method, request.path)
        return _error(both("server.too_deep"), 400)

    @app.errorhandler(OperationalError)
    def _database_down(exc: OperationalError) -> Response:
        # The database restarting or unreachable: nothing was saved, and a retry will work.
        rid = g.get("request_id", "-")
        log.warning("request %s %s %s: database unavailable: %s", rid, request.method,
                    request.path, type(exc.orig).__name__ if exc.orig else "OperationalError")
        # Not "nothing was saved": a Submit may already be in the history, which recovery and
        # the retry (same submission, identical cells) turn into exactly one record.
        resp = _error(both("server.database_down"), 503)
        resp.headers["Retry-After"] = "10"
        return resp

    @app.errorhandler(Exception)
    def _server_error(exc: Exception) -> Response:
        if _disk_full(exc):
            log.error("request %s %s %s: disk full", g.get("request_id", "-"), request.method,
                      request.path)
            return _error(both("server.disk_full"), 507)
        rid = g.get("request_id", "-")
        log.exception("request %s %s %s failed", rid, request.method, request.path)
        # No stack trace or exception text: it may contain workbook data or internals.
        return _error(both("server.internal", rid=rid), 500)


def _size(n: object) -> str:
    if not isinstance(n, int):
        return "?"
    return f"{n // 1024**2} MB" if n >= 1024**2 else f"{n // 1024} KB"
