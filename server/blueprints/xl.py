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
from decimal import Decimal
from itertools import compress, repeat
from operator import is_not

from flask import Blueprint, Response, current_app, request

from server import guards, policy, workflow
from server.auth import current_user
from server.config import parse_lang
from server.db import get_session
from server.gcpause import cycle_collector_paused
from server.models import Role, User
from server.scoring.messages import msg
from server.scoring.model import ScoreResult
from server.scoring.numbers import fmt
from server.services import facts as fact_service
from server.services import periods as period_service
from server.services import pull as pull_service
from server.services import records, scope, simulator
from server.services import scoring as scoring_service
from server.services.errors import BadRequest, ClientError, Unprocessable
from server.services.workbook import (
    Workbook,
    invalid,
    open_workbook,
    parse_book,
    plan_actions,
    problems_of,
    score_input,
)
from server.workbook.render import check_plan, period_write, score_plan
from server.xlwire.actions import PlanError, check_writable
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

    # The encoded bytes directly (orjson), not jsonify: ~10x faster on a 15 MB answer.
    return Response(response_body(plan_actions(wb.book, plan)), mimetype="application/json")


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
    period = period_service.require_period(session, wb.period, lang)
    period_service.check_binding(period, wb.meta.get("binding", ""), wb.period, lang)
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
        raise Unprocessable(
            "工作簿没有 kb_meta 表（工作表 _kpibook）：请使用 kpibook 模板。" if lang == "zh" else
            "The workbook has no kb_meta table (sheet _kpibook): start from a kpibook template.")
    given = request.args.get("period", "")
    if not given.strip():
        raise BadRequest(
            "新建期间需要您选择月份：在任务窗格的“考核期间”中填写（如 2026-11）后点击“新建期间”；"
            "无界面客户端请用 kpibook xl new_period 工作簿 --period 2026-11。" if lang == "zh" else
            "New period needs the month you choose: type it in the task pane's Period field "
            "(e.g. 2026-11) and press New period; headless: kpibook xl new_period WORKBOOK "
            "--period 2026-11.")
    code = period_service.valid_code(given, lang, what=NEW_PERIOD_ARG)
    template = (wb.template or request.args.get("template") or "custom").strip()
    session = get_session()
    period, created = period_service.open_period(session, code, template, user, lang)
    if created:
        workflow.record_event(session, period, "create", "", period.state, user)
    session.commit()
    plan = WritePlan(meta={"period": code, "template": template, "period_state": period.state,
                           "binding": period.binding,
                           "server": current_app.config["BASE_URL"]})
    stamped = period_write(wb.tables, code)
    if stamped.write is not None:
        plan.tables.append(stamped.write)
    filled, other = stamped.filled, stamped.other
    before = wb.period if wb.period != code else ""
    if lang == "zh":
        lines = [f"已创建考核期间 {code}（模板 {template}）。" if created else
                 f"期间 {code} 已存在，工作簿已重新关联。"]
        if before:
            lines.append(f"工作簿原先关联的期间 {before} 已改为 {code}。")
        if filled:
            lines.append(f"源数据表中 {filled} 行的期间已填为 {code}。")
        if other:
            lines.append(f"源数据表中有 {other} 行属于其他期间：请点击「拉取数据」替换。")
        title = "新建期间"
    else:
        lines = [f"Created period {code} (template {template})." if created else
                 f"Period {code} already exists; the workbook is linked to it again."]
        if before:
            lines.append(f"The workbook was linked to {before}; it is now linked to {code}.")
        if filled:
            lines.append(f"The period of {filled} source data row(s) was set to {code}.")
        if other:
            lines.append(f"{other} source data row(s) belong to another period: press "
                         f"'Pull data' to replace them.")
        title = "New period"
    plan.alert = ("\n".join(lines), title)
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


def _score_plan(result: ScoreResult, inp, wb: Workbook, lang: str, period=None) -> WritePlan:
    from server.blueprints.facts import fact_links

    if period is None:
        return score_plan(result, inp, wb.tables, lang)
    # Each explanation links to the page of the facts behind its line (docs/workbook.md).
    link, linked = fact_links(get_session(), period, current_app.config.get("BASE_URL", ""))
    return score_plan(result, inp, wb.tables, lang, link, linked)


@bp.post("/score")
@guards.token("period.score")
@_gc_paused
def score() -> Response:
    user, wb, lang = _press("period.score")
    session = get_session()
    period = _open_period(session, wb, "score", lang)
    requested = _requested_submission_id(wb, lang)
    try:
        bare = scoring_service.to_score_input(
            scoring_service._without(wb.tables, "kb_adjustments"), lang)
    except scoring_service.ValidationError as exc:
        raise invalid(exc.problems, lang) from None
    # The inputs of record, not whatever the workbook says (docs/records.md); then the
    # adjustments of record (the history), not what kb_adjustments happens to say: a score
    # never takes an adjustment that was not submitted (docs/history.md).
    resolution = records.resolve(session, period, user, bare, wb.tables, lang,
                                 _apply_reason(lang))
    inp, rows = scoring_service._authoritative_input(session, period, resolution.inp)
    result = scoring_service.run_engine(inp, lang, base=resolution.inp)  # one engine run
    plan, unsent = _answer_plan(user, wb, period, inp, result, rows, {}, lang)
    notes = []
    if unsent:
        notes.append((f"已计算。工作簿中有 {unsent} 项未提交的调整已替换为服务器记录的值；"
                      f"调整请在计算后输入并按“提交”。") if lang == "zh" else
                     (f"Scored. {unsent} adjustment(s) typed in the workbook but never "
                      f"submitted were replaced by the server's values; type adjustments "
                      f"after scoring and press Submit."))
    about_records = records.summary(resolution, wb.tables, lang)
    if about_records:
        notes.append(about_records)
    if notes:
        plan.alert = ("\n\n".join(notes), "kpibook")
    _stamp(plan, period_state=period.state, last_run="", scored_at=_now(),
           scored_by=user.name, base_version="", submission_id="", last_submission="")
    # Nothing is stored before the answer is known to fit the workbook (docs/workbook.md).
    check_writable(wb.book, plan)
    run = scoring_service.store_run(session, period, inp, result, user, lang)
    head = scoring_service.record_score(session, period, inp, result, run, user, requested,
                                        note=records.history_note(resolution))
    _stamp(plan, period_state=period.state, last_run=str(run.run_no), base_version=head or "",
           last_submission=run.submission_id or "")
    session.commit()
    return _answer(wb, plan)


def _answer_plan(user: User, wb: Workbook, period, inp, result: ScoreResult, rows: dict,
                 reports: dict, lang: str) -> tuple[WritePlan, int]:
    """What Score and Submit write back: the results of the people `user` may see, the
    adjustments of record with this submission's outcome, and (for anyone but HR) the
    records in kb_roster/kb_data/kb_targets. Also the count of typed, unsent adjustments."""
    people = records.visible_people(user, inp)
    shown_result, shown_inp = scope.scoped(result, inp, people)
    plan = _score_plan(shown_result, shown_inp, wb, lang, period)
    scope.drop_rows_of_others(plan, people)
    rows = scope.scoped_rows(rows, people)
    unsent = _unsent(wb, rows)
    refused = [k for k, r in reports.items() if r.state == "rejected"]
    _write_adjustments_of_record(plan, rows, reports, lang, _typed_adjustments(wb, refused))
    _write_allowed_ranges(plan, user, inp, lang)
    if user.role != policy.HR:
        scope.write_back_records(plan, wb, shown_inp)
    return plan, unsent


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


def _unsent(wb: Workbook, rows: dict) -> int:
    """kb_adjustments rows whose typed points differ from the adjustment of record.

    Only a row with typed points or with an adjustment of record can differ, and those are
    few: they are found a column at a time (43,000 rows at 5,000 managers), the keys read
    only when there are adjustments of record."""
    frame = wb.tables.get("kb_adjustments")
    if frame is None:
        return 0
    points = frame.column("points")
    candidates = set(compress(range(len(points)), map(is_not, points, repeat(None))))
    if rows:
        keys = zip(scoring_service.texts(frame.column("employee_id")),
                   scoring_service.texts(frame.column("indicator")), strict=True)
        candidates.update(i for i, key in enumerate(keys) if key in rows)
    n = 0
    for i in candidates:
        key = (scoring_service._text(frame.value(i, "employee_id")),
               scoring_service._text(frame.value(i, "indicator")))
        typed = scoring_service._number(points[i]) or None
        record = rows.get(key)
        if typed != (scoring_service._number(record.points) if record is not None else None):
            n += 1
    return n


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

        raise BadRequest(
            "提交编号（Idempotency-Key 或 kb_meta 的 submission_id）只能包含字母、数字和 ._:@+-，"
            "最多 80 个字符。" if lang == "zh" else
            "The submission id (Idempotency-Key or kb_meta submission_id) may contain only "
            "letters, digits and ._:@+-, at most 80 characters.")
    return given


FILLS = {"accepted": scoring_service.OK_FILL, "rejected": scoring_service.REJECTED_FILL,
         "conflict": scoring_service.CONFLICT_FILL}


def _write_adjustments_of_record(plan: WritePlan, rows: dict, reports: dict,
                                 lang: str, typed: dict | None = None) -> None:
    """kb_adjustments shows the adjustments of record (points, reason) on every row, and
    for the cells of this submission what happened (status column, colour). A refused cell
    keeps what was typed (`typed`: key -> (points, reason)), marked with why: nothing an
    executive typed is erased (docs/workbook.md, "Submit")."""
    from server.services.workbook import cell_value

    write = next((t for t in plan.tables if t.table == "kb_adjustments"), None)
    if write is None:
        return
    if "points" not in write.columns:
        write.columns += ["points", "reason"]
        for row in write.rows:
            row += [None, None]
    p_at, r_at = write.columns.index("points"), write.columns.index("reason")
    status_at = write.columns.index("status")
    typed = typed or {}
    for n, row in enumerate(write.rows):
        key = (str(row[0]), str(row[3]))
        record = rows.get(key)
        row[p_at] = cell_value(Decimal(record.points)) if record is not None else None
        row[r_at] = record.reason if record is not None else None
        report = reports.get(key)
        if report is not None:
            if report.state == "rejected" and key in typed:
                row[p_at], row[r_at] = typed[key]
            row[status_at] = report.message
            for col in ("points", "reason", "status"):
                write.cell_fills[(n, col)] = FILLS[report.state]
    write.number_formats.setdefault("points", "0.00")
    write.text_columns = write.text_columns | {"reason", "status"}


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
    period = period_service.require_period(session, wb.period, lang, writable=False)
    period_service.check_binding(period, wb.meta.get("binding", ""), wb.period, lang)
    record = refresh_service.results_of_record(session, period, user, lang)
    plan = _score_plan(record.result, record.inp, wb, lang, period)
    scope.drop_rows_of_others(plan, record.people)
    unsent = _unsent(wb, record.adjustments)
    _write_adjustments_of_record(plan, record.adjustments, {}, lang)
    run = record.run
    _stamp(plan, period_state=period.state, last_run=str(run.run_no),
           base_version=_history_head(), submission_id="")
    # The run's own time and author, not this press: the workbook shows the result of record.
    plan.meta.update(scored_at=_when(run.created_at), scored_by=run.created_by or "")
    zh = lang == "zh"
    lines = [f"已刷新期间 {period.code} 的最终结果（第 {run.run_no} 次计算，状态 {period.state}）；"
             f"服务器上没有任何更改。" if zh else
             f"Refreshed the results of record of period {period.code} (run {run.run_no}, "
             f"state {period.state}); nothing was changed on the server."]
    if record.hidden:
        lines.append(f"您的权限范围外的 {record.hidden} 人未写入。" if zh else
                     f"{record.hidden} manager(s) outside your scope were left out.")
    if unsent:
        lines.append(f"工作簿中有 {unsent} 项未提交的调整已替换为服务器记录的值。" if zh else
                     f"{unsent} adjustment(s) typed in the workbook but never submitted were "
                     f"replaced by the server's values.")
    plan.alert = ("\n".join(lines), "刷新" if zh else "Refresh")
    check_writable(wb.book, plan)
    session.rollback()  # nothing to write; and nothing may have been
    return _answer(wb, plan)


def _history_head() -> str:
    """The history's head commit, read without creating a repository when there is none."""
    import os

    from server.services import history as history_service

    if not os.path.exists(os.path.join(str(current_app.config["HISTORY_DIR"]), "HEAD")):
        return ""
    return history_service.history_for().head() or ""


def _when(moment: dt.datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:  # SQLite gives back naive UTC
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _typed_adjustments(wb: Workbook, keys) -> dict:
    """What was typed in kb_adjustments for `keys`: key -> (points, reason) as in the cells."""
    frame = wb.tables.get("kb_adjustments")
    wanted = set(keys)
    out: dict = {}
    if frame is None or not wanted:
        return out
    for i in range(len(frame.excel_rows)):
        key = (scoring_service._text(frame.value(i, "employee_id")),
               scoring_service._text(frame.value(i, "indicator")))
        if key in wanted and key not in out:
            out[key] = (frame.value(i, "points"), frame.value(i, "reason"))
    return out


def _write_allowed_ranges(plan: WritePlan, user: User, inp, lang: str) -> None:
    """kb_adjustments' "Allowed range" column, for the person who pressed: how far they may
    adjust each line (their authority within the rules of record), so that nobody types +5
    where +2 is the limit; "—" with why where they may not adjust at all."""
    write = next((t for t in plan.tables if t.table == "kb_adjustments"), None)
    if write is None or not policy.can(user, "adjustment.make"):
        return
    rows = write.rows
    e_at, c_at = write.columns.index("employee_id"), write.columns.index("indicator")
    people = {e.employee_id: e for e in inp.employees}
    seen: dict[tuple, str] = {}
    values = []
    for row in rows:
        eid, code = str(row[e_at]), str(row[c_at])
        emp = people.get(eid)
        department = emp.department if emp is not None else None
        key = (department, code, eid == user.employee_id)
        text = seen.get(key)
        if text is None:
            text = seen[key] = _allowed_text(user, eid, department, code, inp, lang)
        values.append(text)
    write.columns.append("allowed")
    for row, text in zip(rows, values, strict=True):
        row.append(text)
    write.text_columns = write.text_columns | {"allowed"}


def _allowed_text(user: User, eid: str, department, code: str, inp, lang: str) -> str:
    try:
        ind = inp.rules.indicator(code)
    except KeyError:
        return "—"
    authority = policy.adjustment_range(user, policy.Change(
        eid, department, code, Decimal(0), frozenset(ind.adjust_roles)), lang)
    if not authority.allowed:
        return "—（" + "；".join(authority.reasons) + "）" if lang == "zh" else \
            "— (" + "; ".join(authority.reasons) + ")"
    ups = [v for v in (authority.max_up, ind.adjust_max_up) if v is not None]
    downs = [v for v in (authority.max_down, ind.adjust_max_down) if v is not None]
    low = f"-{fmt(min(downs))}" if downs else ("不限" if lang == "zh" else "no limit")
    high = f"+{fmt(min(ups))}" if ups else ("不限" if lang == "zh" else "no limit")
    return f"{low} … {high}"


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
    """Submit through the git history (docs/history.md): per cell accepted, rejected (reverted,
    coloured, explained) or in conflict (both values and who made the first)."""
    user, wb, lang = _press("period.submit")
    session = get_session()
    period = _open_period(session, wb, "submit", lang)
    requested = _requested_submission_id(wb, lang)
    base = (wb.meta.get("base_version") or "").strip() or None
    restored = scoring_service.overwritten_cells(session, wb.tables, base, lang)

    def fits(result: ScoreResult, inp, rows: dict) -> None:
        # before the history commit: an answer that cannot be written stores nothing
        trial, _unsent_count = _answer_plan(user, wb, period, inp, result, rows, {}, lang)
        _stamp(trial, **dict.fromkeys(_SUBMIT_META, ""))
        check_writable(wb.book, trial)

    out = scoring_service.submit_workbook(session, period, wb.tables, user, lang, base,
                                          requested, check_answer=fits)
    session.commit()  # right after the history commit: the documented write order
    plan, _unsent_count = _answer_plan(user, wb, period, out.inp, out.result,
                                       out.authoritative, out.reports, lang)
    _mark_restored(plan, wb, restored)
    zh = lang == "zh"
    n_ok, n_bad, n_conf = (out.count("accepted"), out.count("rejected"),
                           out.count("conflict"))
    if zh:
        lines = [f"期间 {period.code} 的调整：接受 {n_ok}，拒绝 {n_bad}，冲突 {n_conf}。"]
        if out.duplicate:
            lines.append(f"该提交（{out.submission_id}）已处理过，本次未重复记录。")
        elif out.commit is None and not n_bad and not n_conf:
            lines.append("没有需要提交的更改。")
        if out.run is not None:
            lines.append(f"总分以服务器结果为准（第 {out.run.run_no} 次计算，版本 "
                         f"{(out.commit or '')[:10]}）。")
        title = "提交"
    else:
        lines = [f"Adjustments of period {period.code}: {n_ok} accepted, {n_bad} rejected, "
                 f"{n_conf} conflict(s)."]
        if out.duplicate:
            lines.append(f"This submission ({out.submission_id}) was already recorded; "
                         f"nothing was recorded twice.")
        elif out.commit is None and not n_bad and not n_conf:
            lines.append("There was nothing to submit.")
        if out.run is not None:
            lines.append(f"The totals are the server's authoritative result (run "
                         f"{out.run.run_no}, version {(out.commit or '')[:10]}).")
        title = "Submit"
    details = [r for r in out.reports.values() if r.state != "accepted"]
    for r in details[:20]:
        lines.append(f"• {r.key[0]} {r.key[1]}: {r.message}")
    if len(details) > 20:
        lines.append(f"……另有 {len(details) - 20} 项" if zh else
                     f"... and {len(details) - 20} more")
    for _table, _i, _key, message in restored[:10]:
        lines.append(f"• {message}")
    if len(restored) > 10:
        lines.append(f"……另有 {len(restored) - 10} 个计算单元格已恢复" if zh else
                     f"... and {len(restored) - 10} more computed cells restored")
    about_records = records.summary(out.records, wb.tables, lang)
    if about_records:
        lines += ["", about_records]
    plan.alert = ("\n".join(lines), title)
    if details or restored:
        plan.activate_table = "kb_adjustments"
    _stamp(plan, period_state=period.state, base_version=out.head or "", submission_id="",
           last_submission=out.submission_id, submitted_at=_now(), submitted_by=user.name)
    if out.run is not None:
        plan.meta["last_run"] = str(out.run.run_no)
    return _answer(wb, plan)


_SUBMIT_META = ("period_state", "base_version", "submission_id", "last_submission",
                "submitted_at", "submitted_by", "last_run")


def _mark_restored(plan: WritePlan, wb: Workbook, restored: list) -> None:
    """Colour computed cells that had been typed over (their value is rewritten anyway)."""
    for table, i, key, _message in restored:
        write = next((t for t in plan.tables if t.table == table), None)
        frame = wb.tables.get(table)
        if write is None or frame is None or key not in write.columns:
            continue
        eid = scoring_service._text(frame.value(i, "employee_id"))
        code = scoring_service._text(frame.value(i, "indicator")) if table == "kb_scores" \
            else None
        e_at = write.columns.index("employee_id")
        c_at = write.columns.index("indicator") if code is not None else None
        for n, row in enumerate(write.rows):
            if str(row[e_at]) == eid and (c_at is None or str(row[c_at]) == code):
                write.cell_fills[(n, key)] = scoring_service.RESTORED_FILL
                break


def _now() -> str:
    """The kb_meta stamp: now in the company's time zone, with its offset."""
    from server.display import local_time

    return local_time(dt.datetime.now(dt.UTC), current_app.config.get("TIMEZONE", ""),
                      zone_label=True)


def _no_problems(lang: str) -> tuple[str, str]:
    return (("检查通过，未发现问题。", "检查") if lang == "zh" else
            ("No problems found.", "Check"))
