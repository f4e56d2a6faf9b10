"""The records of record on the web: every version of a period's rules, roster and data,
who changed it, when and why, and what it did to the totals (docs/records.md)."""

from __future__ import annotations

from flask import Blueprint, render_template

from server import auth, guards
from server.blueprints import lookups
from server.db import get_session
from server.services import records

bp = Blueprint("records", __name__)
bp.url_value_preprocessor(lookups.period_code_in_url)


@bp.get("/periods/<code>/records")
@guards.web("period.view")
def page(code: str) -> str:
    db = get_session()
    period = lookups.period(db, code)
    return render_template("records.html", period=period,
                           versions=records.history(db, period, auth.current_user()))
