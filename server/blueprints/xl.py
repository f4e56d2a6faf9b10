"""The KPI ribbon buttons: one POST per button, xlwings protocol in, {"actions": [...]} out.

Every button is one round trip: the client sends the workbook snapshot, the server answers
with the actions that update kpibook's own tables (or a text/plain 4xx message). Period and
language come from the workbook's kb_meta; `?lang=zh|en` overrides the language.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import Blueprint, Response, current_app, jsonify, request

from server import policy, workflow
from server.auth import current_user
from server.config import parse_lang
from server.db import get_session
from server.models import Role
from server.scoring.model import ScoreResult
from server.services import facts as fact_service
from server.services import periods as period_service
from server.services import pull as pull_service
from server.services import scoring as scoring_service
from server.services import simulator
from server.services.errors import ClientError, Unprocessable
from server.services.workbook import (
    Workbook,
    invalid,
    open_workbook,
    parse_book,
    plan_actions,
    problems_of,
    score_input,
)
from server.xlwire.plan import WritePlan

bp = Blueprint("xl", __name__, url_prefix="/xl")
log = logging.getLogger("kpibook.xl")

# Who may press which button is server/policy.py's ACTIONS; what the period's state
# allows is server/workflow.py's ALLOWED_IN.
ALL_ROLES = tuple(r.value for r in Role)


@bp.errorhandler(ClientError)
def _client_error(exc: ClientError):
    """Every ribbon error is text/plain: all clients show a non-200 body verbatim."""
    from server.xlwire.actions import error_response

    log.info("%s -> %s: %s", request.path, exc.status, exc.message.splitlines()[0])
    body, status, headers = error_response(exc.message.rstrip("\n") + "\n", exc.status)
    return body, status, {**headers, "Cache-Control": "no-store"}


def _lang(wb: Workbook | None = None) -> str:
    # ?lang= wins, then kb_meta, then the workbook's settings table, then KPIBOOK_LANG.
    candidates = [request.args.get("lang")]
    if wb is not None:
        candidates += [wb.meta.get("lang"), _settings_lang(wb)]
    for candidate in candidates:
        if candidate:
            try:
                return parse_lang(candidate)
            except ValueError:
                continue
    return current_app.config["LANG"]


def _settings_lang(wb: Workbook) -> str | None:
    try:
        from server.workbook.contract import workbook_language
    except ImportError:  # older contract module
        return None
    return workbook_language(wb.tables)


def _load(required: tuple[str, ...] | None = None) -> Workbook:
    # get_data() reads the body (413 above MAX_CONTENT_LENGTH) before anything else.
    book = parse_book(request.get_data(cache=False))
    return open_workbook(book, required)


def _answer(wb: Workbook, plan: WritePlan) -> Response:
    return jsonify(actions=plan_actions(wb.book, plan))


def _stamp(plan: WritePlan, **meta: str) -> WritePlan:
    plan.meta.update(meta)
    return plan


@bp.post("/new_period")
@policy.token("period.create")
def new_period() -> Response:
    user = current_user()
    # Who may press the button is decided before the body is parsed; the message language
    # is then ?lang= or the server's (the workbook is not read for people who may not).
    policy.require(user, "period.create", lang=_lang())
    wb = _load(required=())
    lang = _lang(wb)
    if wb.tables.get("kb_meta") is None:
        raise Unprocessable(
            "工作簿没有 kb_meta 表（工作表 _kpibook）：请使用 kpibook 模板。" if lang == "zh" else
            "The workbook has no kb_meta table (sheet _kpibook): start from a kpibook template.")
    code = (request.args.get("period") or wb.period or
            period_service.default_period_code()).strip()
    template = (wb.template or request.args.get("template") or "custom").strip()
    session = get_session()
    period, created = period_service.open_period(session, code, template, user, lang)
    if created:
        workflow.record_event(session, period, "create", "", period.state, user)
    session.commit()
    if lang == "zh":
        msg = (f"已创建考核期间 {code}（模板 {template}）。" if created else
               f"期间 {code} 已存在，工作簿已重新关联。")
        title = "新建期间"
    else:
        msg = (f"Created period {code} (template {template})." if created else
               f"Period {code} already exists; the workbook is linked to it again.")
        title = "New period"
    plan = WritePlan(meta={"period": code, "template": template, "period_state": period.state,
                           "server": current_app.config["BASE_URL"]},
                     alert=(msg, title))
    return _answer(wb, plan)


@bp.post("/pull")
@policy.token("period.pull")
def pull() -> Response:
    user = current_user()
    # Who may press the button is decided before the body is parsed; the message language
    # is then ?lang= or the server's (the workbook is not read for people who may not).
    policy.require(user, "period.pull", lang=_lang())
    wb = _load(required=("kb_data",))
    lang = _lang(wb)
    if "kb_data" not in wb.tables:
        raise invalid(wb.tables.problems, lang)
    session = get_session()
    period = period_service.require_period(session, wb.period, lang)
    workflow.require_allowed(period, "pull", lang)
    workflow.advance(session, period, "pull", user)
    # Source systems first (KPIBOOK_SYNC_CONFIG); stored facts / the simulator otherwise.
    report = pull_service.pull_for_button(session, period, user.name, current_app.config,
                                          pull_service.roster_ids(wb))
    facts = fact_service.facts_for(session, period)
    if not facts and report is None and current_app.config.get("FACT_SOURCE") == "simulator":
        sim = simulator.template_facts(period.template_code, period.code)
        if sim is None:
            inp = score_input_for_simulation(wb, lang)
            sim = simulator.invent_facts(inp.rules.indicators, inp.employees, period.code)
        fact_service.store_facts(session, period, sim, fetched_by=f"simulator/{user.name}")
        facts = fact_service.facts_for(session, period)
    plan = fact_service.pull_plan(wb, period, facts, lang, report,
                                  current_app.config["BASE_URL"])
    session.commit()
    return _answer(wb, plan)


def score_input_for_simulation(wb: Workbook, lang: str):
    """Rules and roster for inventing facts; kb_data is about to be replaced, so its
    problems (e.g. text in a number cell) must not stop the pull."""
    from server.workbook.contract import Tables

    frames = {k: v for k, v in wb.tables.frames.items() if k != "kb_data"}
    problems = [p for p in wb.tables.problems if p.table != "kb_data"]
    stripped = Workbook(wb.book, Tables(frames, problems), wb.meta)
    return score_input(stripped, lang)


def _score_plan(result: ScoreResult, inp, wb: Workbook, lang: str) -> WritePlan:
    from server.workbook.render import score_plan

    return score_plan(result, inp, wb.tables, lang)


@bp.post("/score")
@policy.token("period.score")
def score() -> Response:
    user = current_user()
    # Who may press the button is decided before the body is parsed; the message language
    # is then ?lang= or the server's (the workbook is not read for people who may not).
    policy.require(user, "period.score", lang=_lang())
    wb = _load()
    lang = _lang(wb)
    session = get_session()
    period = period_service.require_period(session, wb.period, lang)
    workflow.require_allowed(period, "score", lang)
    inp = score_input(wb, lang)
    result = scoring_service.run_engine(inp, lang)
    run = scoring_service.store_run(session, period, inp, result, user, lang)
    plan = _score_plan(result, inp, wb, lang)
    _stamp(plan, period_state=period.state, last_run=str(run.run_no),
           scored_at=_now(), scored_by=user.name)
    session.commit()
    return _answer(wb, plan)


@bp.post("/check")
@policy.token("period.check")
def check() -> Response:
    """Validate only: no database change, no workbook change except the alert."""
    user = current_user()
    # Who may press the button is decided before the body is parsed; the message language
    # is then ?lang= or the server's (the workbook is not read for people who may not).
    policy.require(user, "period.check", lang=_lang())
    wb = _load()
    lang = _lang(wb)
    _inp, problems = problems_of(wb)
    from server.workbook.render import check_plan

    plan = check_plan(problems, lang) if _takes_lang(check_plan) else check_plan(problems)
    # check never writes tables or metadata, whatever the renderer puts in the plan; it may
    # bring the sheet of the first problem to the front.
    plan = WritePlan(alert=plan.alert or _no_problems(lang), activate_table=plan.activate_table)
    return _answer(wb, plan)


@bp.post("/submit")
@policy.token("period.submit")
def submit() -> Response:
    user = current_user()
    # Who may press the button is decided before the body is parsed; the message language
    # is then ?lang= or the server's (the workbook is not read for people who may not).
    policy.require(user, "period.submit", lang=_lang())
    wb = _load()
    lang = _lang(wb)
    session = get_session()
    period = period_service.require_period(session, wb.period, lang)
    workflow.require_allowed(period, "submit", lang)
    inp = score_input(wb, lang)
    run, result, counts, inp = scoring_service.submit(session, period, inp, wb.tables, user,
                                                      lang)
    plan = _score_plan(result, inp, wb, lang)
    if lang == "zh":
        msg = (f"已提交期间 {period.code} 的调整：新增 {counts['added']}，修改 "
               f"{counts['changed']}，撤销 {counts['removed']}。总分以服务器结果为准（第 "
               f"{run.run_no} 次计算）。")
        title = "提交"
    else:
        msg = (f"Submitted the adjustments of period {period.code}: {counts['added']} added, "
               f"{counts['changed']} changed, {counts['removed']} withdrawn. The totals are "
               f"the server's authoritative result (run {run.run_no}).")
        title = "Submit"
    plan.alert = (msg, title)
    _stamp(plan, period_state=period.state, last_run=str(run.run_no),
           submitted_at=_now(), submitted_by=user.name)
    session.commit()
    return _answer(wb, plan)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _no_problems(lang: str) -> tuple[str, str]:
    return (("检查通过，未发现问题。", "检查") if lang == "zh" else
            ("No problems found.", "Check"))


def _takes_lang(func) -> bool:
    import inspect

    try:
        return "lang" in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
