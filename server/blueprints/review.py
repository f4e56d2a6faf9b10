"""Review pages (placeholder until the history issue fills them in)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from sqlalchemy import select

from server import policy
from server.config import parse_lang
from server.db import get_session
from server.models import Period

bp = Blueprint("review", __name__, template_folder="templates")


def page_lang() -> str:
    try:
        return parse_lang(request.args.get("lang", "")) if request.args.get("lang") else \
            current_app.config["LANG"]
    except ValueError:
        return current_app.config["LANG"]


@bp.get("/review")
@policy.web("period.view")
def index() -> str:
    periods = get_session().scalars(select(Period).order_by(Period.code.desc())).all()
    return render_template("review.html", lang=page_lang(), periods=periods)
