"""Quarter and year results on the web: the months rolled up per scorecard and for the
company (server/services/rollups.py says how), as a page and as CSV."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, render_template, request

from server import auth, guards
from server.blueprints import lookups
from server.db import get_session
from server.scoring.numbers import fmt
from server.services.rollups import rollup

bp = Blueprint("rollups", __name__)
bp.url_value_preprocessor(lookups.period_code_in_url)


@bp.get("/rollups/<code>")
@guards.web("period.view")
def page(code: str) -> str:
    result = rollup(get_session(), code, auth.current_user(), request.args.get("scorecard"))
    return render_template("rollup.html", r=result, fmt=fmt,
                           scorecard=request.args.get("scorecard") or "")


@bp.get("/rollups/<code>.csv")
@guards.web("result.export")
def export(code: str) -> Response:
    result = rollup(get_session(), code, auth.current_user(), request.args.get("scorecard"))
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["scorecard", "employee_id", "name", "department", *result.months, "total",
                "months_counted", "rank", "grade"])
    for row in result.rows:
        w.writerow([row.scorecard, row.employee_id, row.name, row.department,
                    *(fmt(row.monthly[m]) if row.monthly.get(m) is not None else ""
                      for m in result.months),
                    fmt(row.total) if row.total is not None else "", row.months_counted,
                    row.rank or "", row.grade or ""])
    return Response("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             f'attachment; filename="kpibook-{result.code}.csv"',
                             "Cache-Control": "no-store"})
