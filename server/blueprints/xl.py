"""The KPI ribbon buttons: one POST per button, xlwings protocol in, {"actions": [...]} out.

Every button is one round trip: the client sends the workbook snapshot, the server answers
with the actions that update kpibook's own tables (or a text/plain 4xx message). Period and
language come from the workbook's kb_meta; `?lang=zh|en` overrides the language.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy.exc import SQLAlchemyError

from server import guards, policy, workflow
from server.auth import current_user
from server.config import parse_lang
from server.db import get_session
from server.gcpause import cycle_collector_paused
from server.models import Role, User
from server.scoring.messages import msg
from server.services import facts as fact_service
from server.services import periods as period_service
from server.services import pull as pull_service
from server.services import restatement, sheet_copies, simulator
from server.services import score as score_service
from server.services import submit as submit_service
from server.services.errors import BadRequest, ClientError, Unprocessable
from server.services.workbook import (
    Workbook,
    invalid,
    open_workbook,
    plan_actions,
    problems_of,
    score_input,
)
from server.workbook.render import check_plan, period_write
from server.xlwire import digest as wire_digest
from server.xlwire.actions import PlanError
from server.xlwire.plan import WritePlan

bp = Blueprint("xl", __name__, url_prefix="/xl")
log = logging.getLogger("kpibook.xl")

# Who may press which button is server/policy.py's ACTIONS; what the period's state
# allows is server/workflow.py's ALLOWED_IN.
ALL_ROLES = tuple(r.value for r in Role)


@bp.errorhandler(PlanError)
def _plan_error(exc: PlanError):
    """An answer that does not fit the workbook (a table that must grow into HR's cells...):
    422 with the sentence that says what to move; nothing was stored (`check_writable`)."""
    return _client_error(Unprocessable(exc.message))


@bp.errorhandler(ClientError)
def _client_error(exc: ClientError):
    """Every ribbon error is text/plain: all clients show a non-200 body verbatim."""
    from server.xlwire.actions import error_response

    log.info("%s -> %s: %s", request.path, exc.status, exc.message.splitlines()[0])
    body, status, headers = error_response(exc.message.rstrip("\n") + "\n", exc.status)
    return body, status, {**headers, **exc.headers, "Cache-Control": "no-store"}


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
    # Sheets sent by digest come from the server's copies, or a 409 names those it lacks
    # (server/xlwire/digest.py).
    digests = sheet_copies.requested(request.headers.get(wire_digest.DIGESTS_HEADER))
    g.kb_digests = digests
    book = sheet_copies.read_book(get_session(), _body(), digests, _lang())
    return open_workbook(book, required)


def _body() -> bytearray:
    """The request body, read before anything else (413 above MAX_CONTENT_LENGTH, as
    get_data), as a bytearray: the parser empties it once decoded (its memory goes before
    the snapshot grows). With a Content-Length it is read straight into a buffer of that
    size: get_data() copied a 19 MB body three times (64 KB chunks, joined, then into the
    bytearray). A short body (the client went away) raises as get_data would."""
    length = request.content_length
    if not length:
        return bytearray(request.get_data(cache=False))
    stream = request.stream
    body = bytearray(length)
    with memoryview(body) as view:
        got = 0
        while got < length:
            n = stream.readinto(view[got:])
            if not n:
                break
            got += n
    if got < length:
        del body[got:]
    return body


def _gc_paused(view: Callable[..., Response]) -> Callable[..., Response]:
    """Run a big button without the cyclic garbage collector; it is back on afterwards.

    Why: a 5,000-manager Score keeps millions of objects alive (payload, tables, engine
    input and result, plan) while it allocates millions more, so the collector's full passes
    walk that whole heap again and again: ~40% of the button's CPU (issue #3: 5.1 s -> 3.1 s
    of CPU with it paused). Reference counting still frees everything without cycles at once;
    the few cycles a request makes are collected after it. Process-wide, so counted: with
    several threads the collector resumes when the last paused request ends. Not for Pull,
    which may wait minutes on source systems (server/gcpause.py)."""

    @functools.wraps(view)
    def paused(*args, **kwargs) -> Response:
        with cycle_collector_paused():
            return view(*args, **kwargs)

    return paused


def _answer(wb: Workbook, plan: WritePlan) -> Response:
    from server.xlwire.actions import response_body

    digests = g.get("kb_digests")
    if digests is None:  # a client that sends every sheet: answered as it always was
        actions = plan_actions(wb.book, plan)
    else:
        actions = _stamped_actions(wb, plan, digests)
    # The encoded bytes directly (orjson), not jsonify: ~10x faster on a 15 MB answer.
    return Response(response_body(actions), mimetype="application/json")


def _stamped_actions(wb: Workbook, plan: WritePlan, digests: dict[str, str]) -> list[dict]:
    """The answer's actions, and kb_meta `sheet_digests` stamped with the digests of the
    output sheets as the client will hold them once it applied them (their copies stored)."""
    plan.meta[wire_digest.META_KEY] = wire_digest.STAMP_PLACEHOLDER
    try:
        actions = plan_actions(wb.book, plan)
    except PlanError:  # kb_meta cannot take the key: no stamp, the client sends values
        del plan.meta[wire_digest.META_KEY]
        return plan_actions(wb.book, plan)
    session = get_session()
    try:
        after = sheet_copies.remember(session, wb.book, actions, digests, wb.period,
                                      current_app.config.get("SHEET_COPIES", 500))
    except SQLAlchemyError:  # a cache: without it the client sends values next time
        log.warning("sheet copies not stored", exc_info=True)
        session.rollback()
        after = {}
    wire_digest.stamp_digests(actions, wire_digest.format_digests(after))
    return actions


def _stamp(plan: WritePlan, **meta: str) -> WritePlan:
    plan.meta.update(meta)
    return plan


def _press(action: str, required: tuple[str, ...] | None = None
           ) -> tuple[User, Workbook, str]:
    """The common start of every button: who is asking, may they, then the workbook.

    Who may press the button is decided before the body is parsed; the message language is
    then ?lang= or the server's (the workbook is not read for people who may not).
    """
    user = current_user()
    policy.require(user, action, lang=_lang())
    wb = _load() if required is None else _load(required=required)
    return user, wb, _lang(wb)


def _open_period(session, wb: Workbook, step: str, lang: str):
    """The workbook's period, refused when the workflow does not allow `step` now."""
    period = period_service.require_period(
        session, wb.period, lang, scorecard=wb.meta.get("scorecard", ""),
        binding=wb.meta.get("binding", ""))
    workflow.require_allowed(period, step, lang)
    return period


@bp.post("/new_period")
@guards.token("period.create")
def new_period() -> Response:
    """Create (or re-link) the period the person chose: `?period=` is required (the task
    pane's field, `kpibook xl new_period --period`, the VBA prompt); kb_meta's period is
    never taken for it and is overwritten by the answer, like every place the template left
    for the month (docs/workbook.md)."""
    user, wb, lang = _press("period.create", required=())
    if wb.tables.get("kb_meta") is None:
        raise Unprocessable(msg("xl.no_meta", lang))
    given = request.args.get("period", "")
    if not given.strip():
        raise BadRequest(msg("xl.new_period_needs_month", lang))
    code = period_service.valid_code(given, lang, what=NEW_PERIOD_ARG)
    template = (wb.template or request.args.get("template") or "custom").strip()
    session = get_session()
    period, created = period_service.open_period(session, code, template, user, lang,
                                                 scorecard=request.args.get("scorecard", ""))
    if created:
        workflow.record_event(session, period, "create", "", period.state, user)
    session.commit()
    plan = WritePlan(meta={"period": code, "template": template, "period_state": period.state,
                           "scorecard": period.scorecard, "binding": period.binding,
                           "server": current_app.config["BASE_URL"]})
    stamped = period_write(wb.tables, code)
    if stamped.write is not None:
        plan.tables.append(stamped.write)
    filled, other = stamped.filled, stamped.other
    before = wb.period if wb.period != code else ""
    lines = [msg("new_period.created", lang, code=code, scorecard=period.scorecard,
                 template=template) if created else
             msg("new_period.relinked", lang, code=code, scorecard=period.scorecard)]
    if before:
        lines.append(msg("new_period.was_linked", lang, before=before, code=code))
    if filled:
        lines.append(msg("new_period.rows_filled", lang, n=filled, code=code))
    if other:
        lines.append(msg("new_period.rows_other", lang, n=other))
    plan.alert = ("\n".join(lines), msg("new_period.title", lang))
    return _answer(wb, plan)


NEW_PERIOD_ARG = ("新建期间的月份（?period=）", "The month of New period (?period=)")


@bp.post("/pull")
@guards.token("period.pull")
def pull() -> Response:
    user, wb, lang = _press("period.pull", required=("kb_data",))
    if "kb_data" not in wb.tables:
        raise invalid(wb.tables.problems, lang)
    session = get_session()
    period = _open_period(session, wb, "pull", lang)
    workflow.advance(session, period, "pull", user)
    # Source systems first (KPIBOOK_SYNC_CONFIG); stored facts / the simulator otherwise.
    report = pull_service.pull_for_button(session, period, user.name, current_app.config,
                                          pull_service.roster_ids(wb),
                                          fact_service.workbook_keys(wb)[0])
    facts = fact_service.facts_for(session, period)
    if not facts and report is None and current_app.config.get("FACT_SOURCE") == "simulator":
        sim = simulator.template_facts(period.template_code, period.code)
        if sim is None:
            inp = score_input_for_simulation(wb, lang)
            sim = simulator.invent_facts(inp.rules.indicators, inp.employees, period.code)
        fact_service.store_facts(session, period, sim, fetched_by=f"simulator/{user.name}")
        facts = fact_service.facts_for(session, period)
    tz = current_app.config.get("TIMEZONE") or "Asia/Shanghai"
    # a month already scored whose sources restated values: what Score would change
    restated = restatement.summary(restatement.restatement_preview(session, period, user, lang),
                                   lang, tz)
    plan = fact_service.pull_plan(wb, period, facts, lang, report,
                                  current_app.config["BASE_URL"], restated, tz)
    session.commit()
    # Pull does not move kb_meta base_version: it does not rewrite kb_adjustments, and a
    # version newer than the rows shown would make stale rows look like edits.
    return _answer(wb, plan)


def score_input_for_simulation(wb: Workbook, lang: str):
    """Rules and roster for inventing facts; kb_data is about to be replaced, so its
    problems (e.g. text in a number cell) must not stop the pull."""
    from server.workbook.contract import Tables

    frames = {k: v for k, v in wb.tables.frames.items() if k != "kb_data"}
    problems = [p for p in wb.tables.problems if p.table != "kb_data"]
    stripped = Workbook(wb.book, Tables(frames, problems), wb.meta)
    return score_input(stripped, lang)


@bp.post("/score")
@guards.token("period.score")
@_gc_paused
def score() -> Response:
    user, wb, lang = _press("period.score")
    session = get_session()
    period = _open_period(session, wb, "score", lang)
    plan = score_service.score_workbook(
        session, period, user, wb, lang, requested=_requested_submission_id(wb, lang),
        apply_reason=_apply_reason(lang), base_url=current_app.config.get("BASE_URL", ""),
        now=_now())
    session.commit()
    return _answer(wb, plan)


def _apply_reason(lang: str) -> str | None:
    """HR's reason for applying its workbook's rule and roster differences to the records
    (?apply_reason=...; the task pane's "Apply my changes", `kpibook xl score --apply-records`)."""
    reason = (request.args.get("apply_reason") or "").strip()
    if not reason:
        return None
    if len(reason) > 500 or any(ord(c) < 32 and c not in "\t\n" for c in reason):
        from server.services.errors import BadRequest

        raise BadRequest(msg("records.bad_reason", lang))
    return reason


def _requested_submission_id(wb: Workbook, lang: str) -> str | None:
    """The client's idempotency key (Idempotency-Key / X-Submission-Id header, or kb_meta
    submission_id); a malformed one is refused rather than silently replaced."""
    from server.services import history as history_service

    given = (request.headers.get("Idempotency-Key") or request.headers.get("X-Submission-Id")
             or wb.meta.get("submission_id") or "").strip()
    if not given:
        return None
    if history_service.valid_submission_id(given) is None:
        from server.services.errors import BadRequest

        raise BadRequest(msg("xl.bad_submission_id", lang))
    return given


@bp.post("/refresh")
@guards.token("result.export")
@_gc_paused
def refresh() -> Response:
    """Read only: the results of record (the latest stored run, web adjustments and appeal
    answers included) into kb_scores, kb_summary and kb_adjustments, in every period state,
    closed included. No run, no history commit, no state change (docs/workbook.md)."""
    from server.services import refresh as refresh_service

    user, wb, lang = _press("result.export", required=())
    session = get_session()
    period = period_service.require_period(
        session, wb.period, lang, scorecard=wb.meta.get("scorecard", ""),
        binding=wb.meta.get("binding", ""), writable=False)
    plan = refresh_service.refresh_answer(session, period, user, wb, lang,
                                          base_url=current_app.config.get("BASE_URL", ""))
    session.rollback()  # nothing to write; and nothing may have been
    return _answer(wb, plan)


@bp.post("/check")
@guards.token("period.check")
def check() -> Response:
    """Validate only: no database change, no workbook change except the alert."""
    _user, wb, lang = _press("period.check")
    _inp, problems = problems_of(wb, lang)
    plan = check_plan(problems, lang)
    # check never writes tables or metadata, whatever the renderer puts in the plan; it may
    # bring the sheet of the first problem to the front.
    plan = WritePlan(alert=plan.alert or _no_problems(lang), activate_table=plan.activate_table)
    return _answer(wb, plan)


@bp.post("/submit")
@guards.token("period.submit")
@_gc_paused
def submit() -> Response:
    """Submit through the git history (docs/history.md): per cell accepted, rejected (kept,
    coloured, explained) or in conflict (both values and who made the first)."""
    user, wb, lang = _press("period.submit")
    session = get_session()
    period = _open_period(session, wb, "submit", lang)
    plan = submit_service.submit_answer(
        session, period, user, wb, lang, requested=_requested_submission_id(wb, lang),
        base_url=current_app.config.get("BASE_URL", ""), now=_now())
    return _answer(wb, plan)


def _now() -> str:
    """The kb_meta stamp: now in the company's time zone, with its offset."""
    from server.display import local_time

    return local_time(dt.datetime.now(dt.UTC), current_app.config.get("TIMEZONE", ""),
                      zone_label=True)


def _no_problems(lang: str) -> tuple[str, str]:
    return msg("check.no_problems", lang), msg("check.title", lang)
