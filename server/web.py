"""Shared pieces of the web pages: language, the `t(zh, en)` helper, flash messages, HTML
error pages, and the filters that show times, numbers and people (server/display.py): `when`,
`num`, `pts`, `measure`, `who(login)`. Pages are Jinja templates in server/templates extending
base.html (autoescaped; every form carries `csrf_field()`); the stylesheet is
server/static/kpibook.css."""

from __future__ import annotations

from typing import Any

from flask import (
    Flask,
    Response,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup

from server import display
from server.config import parse_lang
from server.scoring.messages import both, msg

# Paths that are not web pages: their errors stay plain text / JSON for their clients.
_NOT_WEB = ("/xl/", "/api/", "/addin/", "/oauth/", "/healthz", "/static/")


def is_web_request() -> bool:
    return not request.path.startswith(_NOT_WEB)


def lang() -> str:
    return g.get("lang") or current_app.config["LANG"]


def t(zh: str, en: str) -> str:
    """The text in the page's language (templates and views)."""
    return zh if lang() == "zh" else en


def timezone() -> str:
    return str(current_app.config.get("TIMEZONE") or display.DEFAULT_TIMEZONE)


def when(value, seconds: bool = False) -> str:  # noqa: ANN001 - datetime or None
    """A stored (UTC) time in the company's time zone; "—" for none."""
    return display.local_time(value, timezone(), seconds=seconds) or "—"


def who(login: str | None) -> str:
    """The display name of the account `login` (User.label); other names as they are."""
    if not login:
        return ""
    labels: dict[str, str] = g.setdefault("kb_labels", {})  # a page names few people
    if login not in labels:
        from sqlalchemy import select

        from server.db import get_session
        from server.models import User

        row = get_session().execute(select(User.name, User.display_name)
                                    .where(User.name == login)).first()
        labels[login] = (row.display_name or row.name) if row is not None else login
    return display.label_of(login, labels)


def columns(*keys: str) -> list[str]:
    """The captions of an export's columns, catalogue entries "column.<key>", in the page's
    language."""
    return [msg(f"column.{key}", lang()) for key in keys]


def say_msg(key: str, /, category: str = "success", **fields: object) -> None:
    """Flash catalogue entry `key` (server/scoring/messages.py) in the page's language."""
    flash(msg(key, lang(), **fields), category)


def back(endpoint: str, **values: Any) -> Response:
    return redirect(url_for(endpoint, **values))


def _choose_lang() -> None:
    """?lang= switches and is remembered in the session; else the session, else the
    browser's Accept-Language, else KPIBOOK_LANG."""
    asked = request.args.get("lang")
    if asked:
        try:
            g.lang = parse_lang(asked)
            session["lang"] = g.lang
            return
        except ValueError:
            pass
    if session.get("lang") in ("zh", "en"):
        g.lang = session["lang"]
        return
    best = request.accept_languages.best_match(["zh", "zh-CN", "en"]) if \
        request.accept_languages else None
    g.lang = parse_lang(best) if best else current_app.config["LANG"]


def error_page(message: str, status: int, choices: list[tuple[str, str]] | None = None
               ) -> Response:
    """An HTML page for a refused web request: the bilingual message, and the links to
    choose from when there are some (the scorecards of a month)."""
    zh, _, en = message.partition("\n")
    text = (zh if lang() == "zh" or not en else en).strip()
    html = render_template("error.html", status=status, message=text, choices=choices or [])
    resp = Response(html, status=status, content_type="text/html; charset=utf-8")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _scorecard_choices() -> list[tuple[str, str]]:
    """When a page of a month with several scorecards was asked without one: this page of
    each scorecard (ChooseScorecard, server/services/periods.py)."""
    from server.services.periods import ChooseScorecard

    exc = getattr(g, "choose_scorecard", None)
    if not isinstance(exc, ChooseScorecard) or request.method != "GET":
        return []
    args = request.args.to_dict()
    return [(card, url_for(request.endpoint or "", **{**(request.view_args or {}), **args,
                                                       "scorecard": card}))
            for card in exc.scorecards]


def error_answer(message: str, status: int) -> Response:
    """A refused request answered in its client's form: an HTML page for web pages, JSON
    for the API, plain text (shown verbatim by every Excel client) for the rest."""
    if is_web_request():
        return error_page(message, status, _scorecard_choices())
    if request.path.startswith("/api/"):
        resp = jsonify(error=message, status=status)
        resp.status_code = status
        return resp
    from server.services.errors import plain

    return plain(message, status)


def init_app(app: Flask) -> None:
    from flask_wtf.csrf import CSRFError, generate_csrf

    from server import policy, workflow
    from server.auth import optional_user

    app.before_request(_choose_lang)

    def csrf_field() -> Markup:
        return Markup('<input type="hidden" name="csrf_token" value="{}">').format(
            generate_csrf())

    def signed_in_user():
        try:
            return optional_user() if is_web_request() else None
        except Exception:  # noqa: BLE001 - a bad cookie must not break the error page
            return None

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {"t": t, "lang": lang(), "csrf_field": csrf_field, "me": signed_in_user(),
                "can": policy.can, "state_word": lambda s: workflow.state_word(s, lang()),
                "action_word": lambda a: workflow.action_word(a, lang()),
                "role_word": lambda r: policy.role_word(r, lang()),
                "switch_lang_url": _switch_url, "who": who, "timezone": timezone,
                "appeal_word": lambda s: display.appeal_word(s, lang()),
                "pull_word": lambda s: display.pull_word(s, lang())}

    app.add_template_filter(when, "when")
    app.add_template_filter(_num, "num")
    app.add_template_filter(_pts, "pts")
    app.add_template_filter(_measure, "measure")

    @app.errorhandler(CSRFError)
    def _csrf_refused(exc: CSRFError) -> Response:
        return error_answer(both("web.csrf"), 400)


def _switch_url() -> str:
    other = "en" if lang() == "zh" else "zh"
    args = request.args.to_dict()
    args["lang"] = other
    from urllib.parse import urlencode

    return request.path + "?" + urlencode(args)


def _num(value: object) -> str:
    """2 decimals, half away from zero, never -0.00; — for none."""
    return "—" if value is None or value == "" else display.number(value)


def _pts(value: object) -> str:
    """Points with a sign (+2.00, -1.50, 0.00); — for none."""
    return "—" if value is None or value == "" else display.signed(value)


def _measure(value: object, unit: object = "") -> str:
    """An actual/target in its rule's unit (85.50% for unit "%"); — for none."""
    return "—" if value is None or value == "" else display.measure(value, unit)
