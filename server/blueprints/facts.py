"""Source facts over HTTP: the inbound push API, pull progress for the task pane, the facts
with their provenance as JSON, and the page HR opens from a provenance link (with an upload
form for file-drop sources).

  POST /api/v1/facts                          push records (Bearer = the push source's token)
  GET  /api/v1/periods/<code>/pull-status     per-source progress of the running/last pull
  GET  /api/v1/periods/<code>/facts           every fact with its provenance
  GET  /api/v1/periods/<code>/explanations    latest score lines with links to their facts
  GET  /sync/<code>                           the same as a page; anchors per fact
  GET  /sync/<code>/facts/<employee>[/<indicator>]  the facts behind one score line (kb_scores'
                                              explanation links here) or all of a manager's
                                              lines (kb_summary, large workbooks); by department
  POST /sync/<code>/upload/<source>           a CSV/XLSX for a file-drop source
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, Response, current_app, jsonify, render_template_string, request
from sqlalchemy import select

from server import guards, policy
from server.auth import bearer_token, current_user, login_required, require_role
from server.blueprints import lookups
from server.db import get_session
from server.models import Employee, Period, PeriodState, Role, SourceFact
from server.services import facts as fact_service
from server.services import pull as pull_service
from server.services.errors import BadRequest, NotFound, Unprocessable

bp = Blueprint("facts", __name__)
bp.url_value_preprocessor(lookups.period_code_in_url)

UPLOAD_SUFFIXES = (".csv", ".xlsx", ".xlsm")


def _period(code: str) -> Period:
    period = get_session().scalar(select(Period).where(Period.code == code))
    if period is None:
        raise NotFound(f"期间 {code} 不存在。\nPeriod {code} does not exist.")
    return period


@bp.post("/api/v1/facts")
@guards.machine("sync push token of the source (sync config)")
def push() -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object: {\"source\", \"period\", "
                         "\"records\": [...]}")
    source_name = str(body.get("source") or "").strip()
    config = pull_service.sync_config(current_app.config)
    source = pull_service.authenticate_push(config, source_name, bearer_token() or "")
    key = (request.headers.get("Idempotency-Key") or str(body.get("request_key") or "")).strip()
    if len(key) > 200:
        raise Unprocessable("Idempotency-Key is longer than 200 characters")
    session = get_session()
    status, answer = pull_service.receive_push(session, source, body, key,
                                               request.remote_addr or "", current_app.config)
    session.commit()
    resp = jsonify(answer)
    resp.status_code = status
    return resp


@bp.get("/api/v1/periods/<code>/pull-status")
@guards.web("facts.view")
@login_required
def pull_status(code: str) -> Response:
    status = pull_service.pull_status(code)
    if status is None:
        _period(code)
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
    return list(run.lines or []) if run is not None else []


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


PAGE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<title>{{ t('源数据', 'Source data') }} {{ period.code }}</title>
<style>
 body{font-family:system-ui,"Microsoft YaHei",sans-serif;margin:1.5rem;color:#222}
 table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #ccc;padding:3px 6px;
 vertical-align:top} th{background:#f3f3f3} tr.stale td{background:#FFE699}
 tr:target td{outline:2px solid #2b6cb0} .muted{color:#666} .bad{color:#a00}
</style></head><body>
<h1>{{ t('源数据', 'Source data') }} · {{ period.code }}
 <small class="muted">{{ period.template_code }} · {{ period.state }}{% if frozen %} ·
 {{ t('已冻结', 'frozen') }}{% endif %}</small></h1>
{% if status %}
<h2>{{ t('最近一次获取', 'Last pull') }}: {{ status.state }} {{ status.finished_at }}
 ({{ status.by }})</h2>
<table><tr><th>{{ t('来源', 'Source') }}</th><th>{{ t('状态', 'State') }}</th>
<th>{{ t('页', 'Pages') }}</th><th>{{ t('记录', 'Records') }}</th>
<th>{{ t('值', 'Values') }}</th><th>{{ t('问题', 'Problems') }}</th><th>s</th>
<th>{{ t('错误', 'Error') }}</th></tr>
{% for s in status.sources %}<tr><td>{{ s.source }}</td><td>{{ s.state }}</td>
<td>{{ s.pages }}</td><td>{{ s.records }}</td><td>{{ s.facts }}</td><td>{{ s.problems }}</td>
<td>{{ '%.2f' % s.seconds }}</td><td class="bad">{{ s.error }}</td></tr>{% endfor %}
</table>
{% if status.problems %}<h3>{{ t('逐行问题', 'Row problems') }}</h3><ul>
{% for p in status.problems %}<li>{{ p.source }}: {{ p.at }}: {{ p.field }}: {{ p.reason }}
 {{ p.employee_id }} {{ p.indicator }}</li>{% endfor %}</ul>{% endif %}
{% endif %}
<h2>{{ t('数值与出处', 'Values and provenance') }} ({{ facts|length }})</h2>
<table><tr><th>{{ t('工号', 'Employee') }}</th><th>{{ t('指标', 'Indicator') }}</th>
<th>{{ t('字段', 'Field') }}</th><th>{{ t('数值', 'Value') }}</th>
<th>{{ t('原始值', 'Raw') }}</th><th>{{ t('单位', 'Unit') }}</th>
<th>{{ t('来源', 'Source') }}</th><th>{{ t('获取时间', 'Fetched at') }}</th>
<th>{{ t('获取人', 'By') }}</th><th>{{ t('状态', 'Status') }}</th>
<th>{{ t('请求', 'Request') }}</th><th>{{ t('得分说明', 'Score explanation') }}</th></tr>
{% for f in facts %}<tr id="{{ f.anchor }}" class="{{ 'stale' if f.stale }}">
<td>{{ f.employee_id }}</td><td>{{ f.indicator }}</td><td>{{ f.field }}</td>
<td>{{ f.value }}</td><td>{{ f.raw_value }}</td><td>{{ f.unit }}</td><td>{{ f.source }}</td>
<td>{{ f.fetched_at }}</td><td>{{ f.fetched_by }}</td><td>{{ f.status }}</td>
<td class="muted">{{ f.request }}</td>
<td>{{ explain.get((f.employee_id, f.indicator), '') }}</td></tr>{% endfor %}
</table>
{% if file_sources %}<h2>{{ t('上传文件', 'Upload a file') }}</h2>
<p class="muted">{{ t('CSV（UTF-8 或 GBK/GB18030）或 XLSX；下次获取数据时读取。',
 'CSV (UTF-8 or GBK/GB18030) or XLSX; read by the next pull.') }}</p>
{% for s in file_sources %}<form method="post" enctype="multipart/form-data"
 action="{{ url_for('facts.upload', code=period.code, source=s) }}">{{ csrf_field() }}
 <label>{{ s }} <input type="file" name="file" accept=".csv,.xlsx,.xlsm"></label>
 <button>{{ t('上传', 'Upload') }}</button></form>{% endfor %}{% endif %}
</body></html>"""


@bp.get("/sync/<code>")
@guards.web("facts.view")
@login_required
def page(code: str) -> str:
    period = _period(code)
    lang = request.args.get("lang") or period.lang or "zh"
    facts = [_fact_dict(f, lang) for f in fact_service.facts_for(get_session(), period)]
    config = pull_service.sync_config(current_app.config)
    file_sources = [s.name for s in pull_service.sources_for(config, period)
                    if s.kind == "files"] if config else []
    return render_template_string(
        PAGE, lang=lang, period=period, facts=facts, status=pull_service.pull_status(code),
        explain={(str(ln.get("employee_id")), str(ln.get("indicator"))): ln.get("explanation")
                 for ln in _latest_lines(period)},
        frozen=pull_service.is_frozen(period), file_sources=file_sources,
        t=lambda zh, en: zh if lang == "zh" else en)


def fact_links(session, period: Period, base_url: str
               ) -> tuple[Callable[[str, str | None], str], set[tuple[str, str]]]:
    """(employee, indicator) -> URL (indicator None: all the employee's facts), and the pairs
    that have stored facts (only they link)."""
    linked = {(e, i) for e, i in session.execute(
        select(SourceFact.employee_id, SourceFact.indicator)
        .where(SourceFact.period_id == period.id).distinct())}
    prefix = f"{base_url.rstrip('/')}/sync/{quote(period.code, safe='')}/facts/"
    def link(eid: str, code: str | None) -> str:
        url = prefix + quote(eid, safe="")
        return url if code is None else f"{url}/{quote(code, safe='')}"

    return link, linked


LINE_PAGE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<title>{{ t('得分依据', 'Facts behind the score') }} {{ period.code }} {{ employee_id }}
 {{ indicator or '' }}</title>
<style>
 body{font-family:system-ui,"Microsoft YaHei",sans-serif;margin:1.5rem;color:#222}
 table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #ccc;padding:3px 6px;
 vertical-align:top} th{background:#f3f3f3} tr.stale td{background:#FFE699} .muted{color:#666}
 section:target h2{outline:2px solid #2b6cb0}
</style></head><body>
<h1>{{ t('得分依据', 'Facts behind the score') }} · {{ period.code }} · {{ employee_id }}
 {{ name }}{% if indicator %} · {{ indicator }}{% endif %}</h1>
{% for s in sections %}<section id="{{ s.indicator }}">
<h2>{{ s.indicator }}{% if s.points is not none %} · {{ s.points }} {{ t('分', 'points') }}
{% endif %}</h2>
<p class="explanation"><strong>{{ t('得分说明', 'Score explanation') }}:</strong>
 {{ s.explanation if s.explanation else '—' }}</p>
<table class="facts"><tr><th>{{ t('字段', 'Field') }}</th><th>{{ t('数值', 'Value') }}</th>
<th>{{ t('原始值', 'Raw') }}</th><th>{{ t('单位', 'Unit') }}</th><th>{{ t('来源', 'Source') }}</th>
<th>{{ t('获取时间', 'Fetched at') }}</th><th>{{ t('获取人', 'By') }}</th>
<th>{{ t('状态', 'Status') }}</th><th>{{ t('请求', 'Request') }}</th></tr>
{% for f in s.facts %}<tr id="{{ f.anchor }}" class="{{ 'stale' if f.stale }}">
<td>{{ f.field }}</td><td>{{ f.value }}</td><td>{{ f.raw_value }}</td><td>{{ f.unit }}</td>
<td>{{ f.source }}</td><td>{{ f.fetched_at }}</td><td>{{ f.fetched_by }}</td>
<td>{{ f.status }}</td><td class="muted">{{ f.request }}</td></tr>
{% else %}<tr><td colspan="9" class="muted">{{ t('没有源数据（手工录入或缺数据）。',
 'No source facts (entered by hand or missing).') }}</td></tr>{% endfor %}
</table></section>{% endfor %}
</body></html>"""


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
    lang = request.args.get("lang") or period.lang or "zh"
    emp = session.scalar(select(Employee).where(Employee.employee_id == employee_id))
    user = current_user()
    policy.require(user, "result.view",
                   policy.Subject(employee_id, emp.department if emp else None), lang)
    if user.role == Role.EMPLOYEE.value and period.state not in (
            PeriodState.PUBLISHED.value, PeriodState.CLOSED.value):
        raise NotFound(f"期间 {code} 没有已发布的结果。\nPeriod {code} has no published result.")
    where = [SourceFact.period_id == period.id, SourceFact.employee_id == employee_id]
    if indicator is not None:
        where.append(SourceFact.indicator == indicator)
    by_code: dict[str, list[dict[str, object]]] = {}
    for f in session.scalars(select(SourceFact).where(*where).order_by(SourceFact.id)):
        by_code.setdefault(f.indicator, []).append(_fact_dict(f, lang))
    lines = {str(ln.get("indicator")): ln for ln in _latest_lines(period)
             if str(ln.get("employee_id")) == employee_id
             and (indicator is None or str(ln.get("indicator")) == indicator)}
    codes = [indicator] if indicator is not None else list(dict.fromkeys([*lines, *by_code]))
    sections = [{"indicator": c, "facts": by_code.get(c, []),
                 "explanation": lines.get(c, {}).get("explanation"),
                 "points": lines.get(c, {}).get("points")} for c in codes]
    return render_template_string(
        LINE_PAGE, lang=lang, period=period, employee_id=employee_id,
        name=emp.name if emp else "", indicator=indicator, sections=sections,
        t=lambda zh, en: zh if lang == "zh" else en)


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
