"""Source facts over HTTP: the inbound push API, pull progress for the task pane, the facts
with their provenance as JSON, and the page HR opens from a provenance link (with an upload
form for file-drop sources).

  POST /api/v1/facts                          push records (Bearer = the push source's token)
  GET  /api/v1/periods/<code>/pull-status     per-source progress of the running/last pull
  GET  /api/v1/periods/<code>/facts           every fact with its provenance
  GET  /api/v1/periods/<code>/explanations    latest score lines with links to their facts
  GET  /api/v1/periods/<code>/restatement     what a Score with the newly pulled values
                                              would change (server/services/restatement.py)
  GET  /sync/<code>                           the same as a page in the site's layout and
                                              language, in words (server/templates/facts/);
                                              anchors per fact
  GET  /sync/<code>/facts/<employee>[/<indicator>]  the facts behind one score line (kb_scores'
                                              explanation links here) or all of a manager's
                                              lines (kb_summary, large workbooks); by department
  POST /sync/<code>/upload/<source>           a CSV/XLSX for a file-drop source
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from sqlalchemy import select

from server import display, guards, policy
from server.auth import (
    OAUTH_TOKEN_PREFIX,
    bearer_token,
    current_user,
    login_required,
    oauth_client_for_token,
    require_role,
)
from server.blueprints import lookups
from server.db import get_engine, get_session
from server.models import Employee, Period, PeriodState, Role, SourceFact
from server.scoring.messages import both
from server.services import facts as fact_service
from server.services import pull as pull_service
from server.services import restatement as restatement_service
from server.services import schedule as schedule_service
from server.services import stored_run
from server.services.errors import BadRequest, NotFound, Unprocessable
from server.services.line_detail import last_pulled
from server.services.roster import names_of_employees
from server.web import lang, timezone, who

bp = Blueprint("facts", __name__)
bp.url_value_preprocessor(lookups.period_code_in_url)

UPLOAD_SUFFIXES = (".csv", ".xlsx", ".xlsm")


def _period(code: str) -> Period:
    return lookups.period(get_session(), code)


@bp.post("/api/v1/facts")
@guards.machine("facts:write")
def push() -> Response:
    """Authenticated by an OAuth2 client-credentials token with scope facts:write of a client
    listed in the source's `clients`, or by the push source's own token (sync config)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object: {\"source\", \"period\", "
                         "\"records\": [...]}")
    source_name = str(body.get("source") or "").strip()
    config = pull_service.sync_config(current_app.config)
    token = bearer_token() or ""
    client = oauth_client_for_token(get_session(), token, "facts:write") if \
        token.startswith(OAUTH_TOKEN_PREFIX) else None
    source = pull_service.authenticate_push(config, source_name, token,
                                            client.client_id if client else None)
    key = (request.headers.get("Idempotency-Key") or str(body.get("request_key") or "")).strip()
    if len(key) > 200:
        raise Unprocessable("Idempotency-Key is longer than 200 characters")
    session = get_session()
    status, answer = pull_service.receive_push(
        session, source, body, key, client.client_id if client else request.remote_addr or "",
        current_app.config)
    session.commit()
    resp = jsonify(answer)
    resp.status_code = status
    return resp


@bp.get("/api/v1/periods/<code>/pull-status")
@guards.web("facts.view")
@login_required
def pull_status(code: str) -> Response:
    status = pull_service.pull_status(_period(code).history_key)
    if status is None:
        return jsonify(period=code, state="idle", sources=[], problems=[], summary={})
    return jsonify(status)


def _fact_dict(f: SourceFact, lang: str) -> dict[str, object]:
    value = f.value
    if isinstance(value, Decimal):
        value = format(value.normalize(), "f")  # 0.988, not the column's 0.988000
    return {"employee_id": f.employee_id, "indicator": f.indicator, "field": f.field,
            "value": None if value is None else str(value), "raw_value": f.raw_value,
            "unit": f.unit, "source": f.source, "request": f.request,
            "fetched_at": f.fetched_at.isoformat() if f.fetched_at else None,
            "fetched_by": f.fetched_by, "stale": f.stale, "error": f.error,
            "status": fact_service.status_text(f, lang), "anchor": fact_service.fact_anchor(f)}


@bp.get("/api/v1/periods/<code>/facts")
@guards.web("facts.view")
@login_required
def facts_json(code: str) -> Response:
    period = _period(code)
    lang = request.args.get("lang") or period.lang or "zh"
    facts = fact_service.facts_for(get_session(), period)
    return jsonify(period=code, state=period.state, frozen=pull_service.is_frozen(period),
                   facts=[_fact_dict(f, lang) for f in facts])


def _latest_lines(period: Period) -> list[dict[str, object]]:
    from server.models import ScoreRun

    run = get_session().scalar(select(ScoreRun).where(ScoreRun.period_id == period.id)
                               .order_by(ScoreRun.run_no.desc()).limit(1))
    return stored_run.lines(run) if run is not None else []


def _explained(period: Period, lang: str, employee: str = "") -> list[dict[str, object]]:
    """The latest score lines, each with the facts it was computed from and their links."""
    base = current_app.config.get("BASE_URL", "").rstrip("/")
    by_key: dict[tuple[str, str], list[dict[str, object]]] = {}
    for f in fact_service.facts_for(get_session(), period):
        d = _fact_dict(f, lang)
        d["url"] = f"{base}/sync/{period.code}#{d['anchor']}"
        by_key.setdefault((f.employee_id, f.indicator), []).append(d)
    out = []
    for line in _latest_lines(period):
        eid, code = str(line.get("employee_id")), str(line.get("indicator"))
        if employee and eid != employee:
            continue
        out.append({"employee_id": eid, "indicator": code, "points": line.get("points"),
                    "explanation": line.get("explanation"), "stale": line.get("stale"),
                    "facts": by_key.get((eid, code), [])})
    return out


@bp.get("/api/v1/periods/<code>/explanations")
@guards.web("facts.view")
@login_required
def explanations(code: str) -> Response:
    """Each score line of the latest run with links to the source facts behind it."""
    period = _period(code)
    lang = request.args.get("lang") or period.lang or "zh"
    return jsonify(period=code,
                   lines=_explained(period, lang, request.args.get("employee", "").strip()))


def _fact_row(f: SourceFact, names: dict[str, str], units: dict[str, str]
              ) -> dict[str, object]:
    """A fact as a person reads it on the provenance pages: the value in its unit, the
    source system, what was asked (in words), when (company time zone) and who pulled it
    (display name), in the page's language."""
    value = f.value
    unit = f.unit or units.get(f.indicator, "")
    shown = display.measure(value, unit) if display.decimal_or_none(value) is not None \
        else str(value if value is not None else "—")
    if unit and not display.is_percent(unit) and display.decimal_or_none(value) is not None:
        shown += f" {unit}"
    raw = (f.raw_value or "").strip()
    return {"employee_id": f.employee_id, "employee_name": names.get(f.employee_id, ""),
            "indicator": f.indicator, "field": f.field, "value": shown,
            "raw_value": raw if raw and raw != str(value) else "",
            "source": f.source, "query": display.request_words(f.request, lang()),
            "fetched_at": f.fetched_at, "fetched_by": who(f.fetched_by), "stale": f.stale,
            "status": fact_service.status_text(f, lang(), timezone()),
            "status_word": fact_service.STATUS_WORDS[lang()]["stale" if f.stale else "ok"],
            "anchor": fact_service.fact_anchor(f)}


def _units(period: Period) -> dict[str, str]:
    from server.services.feedback import indicators_of

    return {c: str(r.get("unit") or "") for c, r in indicators_of(period).items()}


def _pull_status(period: Period) -> dict[str, object] | None:
    status = pull_service.pull_status(period.history_key)
    if status is None:
        return None
    finished = status.get("finished_at") or ""
    try:
        status["finished"] = dt.datetime.fromisoformat(str(finished)) if finished else None
    except ValueError:
        status["finished"] = None
    status["by"] = who(str(status.get("by") or ""))
    return status


@bp.get("/sync/<code>")
@guards.web("facts.view")
@login_required
def page(code: str) -> str:
    period = _period(code)
    session = get_session()
    names, units = names_of_employees(session), _units(period)
    explain = {(str(ln.get("employee_id")), str(ln.get("indicator"))): ln.get("explanation")
               for ln in _latest_lines(period)}
    facts = []
    for f in fact_service.facts_for(session, period):
        row = _fact_row(f, names, units)
        row["explanation"] = explain.get((f.employee_id, f.indicator), "")
        facts.append(row)
    config = pull_service.sync_config(current_app.config)
    file_sources = [s.name for s in pull_service.sources_for(config, period)
                    if s.kind == "files"] if config else []
    restated = restatement_service.restatement_preview(session, period, current_user(), lang())
    schedules = schedule_service.schedule_view(current_app.config, get_engine())
    return render_template("facts/source.html", period=period, facts=facts,
                           status=_pull_status(period), frozen=pull_service.is_frozen(period),
                           file_sources=file_sources, restated=restated, schedules=schedules)


@bp.get("/api/v1/periods/<code>/restatement")
@guards.web("facts.view")
@login_required
def restatement(code: str) -> Response:
    """What a Score with the source values stored since the last Score would change (only
    the people the caller may see); `scored: false` before the period's first Score."""
    period = _period(code)
    lang_ = request.args.get("lang") or period.lang or "zh"
    preview = restatement_service.restatement_preview(get_session(), period, current_user(),
                                                      lang_)
    if preview is None:
        return jsonify(period=code, scored=False)
    return jsonify(scored=True, **preview.as_dict())


@bp.get("/sync/<code>/facts/<employee_id>")
@bp.get("/sync/<code>/facts/<employee_id>/<indicator>")
@guards.web("result.view")
@login_required
def line_page(code: str, employee_id: str, indicator: str | None = None) -> str:
    """The facts behind one score line (or every line of one manager: sections with the
    indicator as anchor) with their provenance. A line's facts are part of that manager's
    result: `result.view` on the manager (HR/audit: all; executives and department heads:
    their departments; a manager: their own, once published)."""
    session = get_session()
    period = _period(code)
    emp = session.scalar(select(Employee).where(Employee.employee_id == employee_id))
    user = current_user()
    policy.require(user, "result.view",
                   policy.Subject(employee_id, emp.department if emp else None), lang())
    if user.role == Role.EMPLOYEE.value and period.state not in (
            PeriodState.PUBLISHED.value, PeriodState.CLOSED.value):
        raise NotFound(both("line.not_published", period=code))
    where = [SourceFact.period_id == period.id, SourceFact.employee_id == employee_id]
    if indicator is not None:
        where.append(SourceFact.indicator == indicator)
    by_code: dict[str, list[dict[str, object]]] = {}
    names, units = {employee_id: emp.name if emp else ""}, _units(period)
    raw: dict[str, list[SourceFact]] = {}
    for f in session.scalars(select(SourceFact).where(*where).order_by(SourceFact.id)):
        by_code.setdefault(f.indicator, []).append(_fact_row(f, names, units))
        raw.setdefault(f.indicator, []).append(f)
    lines = {str(ln.get("indicator")): ln for ln in _latest_lines(period)
             if str(ln.get("employee_id")) == employee_id
             and (indicator is None or str(ln.get("indicator")) == indicator)}
    codes = [indicator] if indicator is not None else list(dict.fromkeys([*lines, *by_code]))
    from server.services.feedback import indicators_of

    rules = indicators_of(period)
    sections = [{"indicator": c, "name": (rules.get(c) or {}).get("name", ""),
                 "facts": by_code.get(c, []),
                 "explanation": lines.get(c, {}).get("explanation"),
                 "points": lines.get(c, {}).get("points"),
                 "pulled": last_pulled(raw.get(c, []), lang(), timezone())} for c in codes]
    return render_template("facts/line.html", period=period, employee_id=employee_id,
                           name=emp.name if emp else "", indicator=indicator,
                           sections=sections)


@bp.post("/sync/<code>/upload/<source>")
@guards.web("period.pull")
@login_required
def upload(code: str, source: str) -> Response:
    user = current_user()
    require_role(user, (Role.HR_ADMIN.value,), "upload source files")
    period = _period(code)
    config = pull_service.sync_config(current_app.config)
    src = config.source(source) if config else None
    if src is None or src.kind != "files":
        raise NotFound(f"no file-drop source {source!r} in the connectors file")
    file = request.files.get("file")
    if file is None or not file.filename:
        raise BadRequest("choose a file to upload (form field 'file')")
    name = Path(file.filename).name
    if not name.lower().endswith(UPLOAD_SUFFIXES):
        raise Unprocessable(f"{name}: only .csv, .xlsx and .xlsm files are read")
    # Keep the original (often Chinese) name but nothing that could leave the folder.
    safe = re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", name).lstrip(".") or "upload.csv"
    folder = Path(pull_service.uploads_dir(current_app.config)) / src.name
    folder.mkdir(parents=True, exist_ok=True)
    file.save(folder / safe)
    return jsonify(period=period.code, source=src.name, saved=safe,
                   note="read by the next pull (its name must match the source's pattern)")
