"""Submit: the workbook's kb_adjustments through the history (submit_workbook: diffed against
the workbook's base version, each changed cell checked, merged three-way with the head, git
then the database; docs/history.md), then the button's answer: the results and the adjustments
of record with what happened to each cell, the computed cells typed over restored, and the
alert that says all of it."""

from __future__ import annotations

import dataclasses
import logging
import re
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import policy
from server.ledger import CellValue, Kind
from server.models import Period, PeriodState, ScoreRun, User
from server.scoring.messages import msg, why_of
from server.scoring.model import Problem, ScoreInput, ScoreResult, ValidationError
from server.scoring.numbers import checked_decimal
from server.services import answer, records, stored_run
from server.services.cells import (
    CellReport,
    Key,
    SubmitOutcome,
    cell_number,
    cell_text,
    without_table,
)
from server.services.errors import Conflict as ConflictError
from server.services.errors import Forbidden, Unprocessable
from server.services.history_record import record_commit, submission_id_for, workbook_rescore
from server.services.runs import adjustments_with, authoritative_input, run_engine, store_run
from server.services.workbook import Workbook
from server.workbook.contract import Tables, to_score_input
from server.workbook.render import problems_message
from server.xlwire.actions import check_writable
from server.xlwire.plan import WritePlan
from server.xlwire.textsafe import checked_text

log = logging.getLogger("kpibook.scoring")


def _fmt(points: Decimal | None) -> str:
    if points is None:
        return "—"
    return f"{points:+.2f}"


def _value_text(value: CellValue | None, lang: str) -> str:
    if value is None:
        return msg("submit.no_adjustment", lang)
    return msg("submit.cell_value", lang, points=_fmt(value.points), reason=value.reason)


def _typed_cells(frame, inp: ScoreInput, lang: str
                 ) -> tuple[dict[Key, tuple[int, CellValue | None]], dict[Key, tuple[int, str]]]:
    """kb_adjustments as typed: key -> (row, value or None for blank/0), and rows refused
    with the reason (number, decimals, reason missing, unknown person/indicator, limits)."""
    typed: dict[Key, tuple[int, CellValue | None]] = {}
    bad: dict[Key, tuple[int, str]] = {}
    if frame is None:
        return typed, bad
    people = {e.employee_id: e for e in inp.employees}
    for i in range(len(frame.excel_rows)):
        eid = cell_text(frame.value(i, "employee_id"))
        code = cell_text(frame.value(i, "indicator"))
        if not eid or not code:
            continue
        key = (eid, code)
        raw, reason = frame.value(i, "points"), cell_text(frame.value(i, "reason"))
        if key in typed or key in bad:
            bad.setdefault(key, (i, msg("submit.row_twice", lang)))
            continue
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            typed[key] = (i, None)
            continue
        try:  # the one number check: finite, 2 decimals, fits Numeric(9, 2)
            points = checked_decimal(raw, places=2, whole=7)
        except ValueError as exc:
            bad[key] = (i, msg("submit.bad_points", lang, why=why_of(exc)))
            continue
        if points == 0:
            typed[key] = (i, None)
            continue
        try:  # the reason goes to git and to the database as it is
            checked_text(reason, msg("field.reason", lang))
        except ValueError as exc:
            bad[key] = (i, why_of(exc).text(lang))
            continue
        emp = people.get(eid)
        try:
            ind = inp.rules.indicator(code)
        except KeyError:
            ind = None
        if emp is None:
            bad[key] = (i, msg("submit.not_on_roster", lang, eid=eid))
            continue
        if ind is None or not ind.applies_to(emp):
            bad[key] = (i, msg("submit.not_applicable", lang, code=code, eid=eid))
            continue
        if not reason:
            bad[key] = (i, msg("adjust.needs_reason", lang))
            continue
        # the rules table's Max up/down: policy.change_refusals, from the rules of record
        typed[key] = (i, CellValue(points, reason))
    return typed, bad


def _engine_refusals(session: Session, period: Period, inp: ScoreInput,
                     accepted: dict[Key, CellValue | None], lang: str
                     ) -> tuple[dict[Key, str], tuple | None]:
    """Edits the engine refuses, and when there are none the (result, input, adjustment rows)
    the submission would produce."""
    from server.services.workbook import invalid

    trial, rows = authoritative_input(session, period, inp)
    adjustments = adjustments_with(trial, accepted)
    trial = dataclasses.replace(trial, adjustments=tuple(adjustments.values()))
    try:
        result = run_engine(trial, lang, base=inp)
    except ValidationError as exc:
        refused: dict[Key, str] = {}
        for p in exc.problems:
            key = tuple(p.key[:2]) if p.key and len(p.key) >= 2 else None
            if p.table == "kb_adjustments" and key in accepted:
                refused[key] = p.message  # type: ignore[index]
        if not refused:
            raise invalid(list(exc.problems), lang) from None
        return refused, None
    return {}, (result, trial, rows)


def submit_workbook(session: Session, period: Period, tables: Tables, user: User, lang: str,
                    base_version: str | None, requested_id: str | None,
                    app=None, check_answer=None) -> SubmitOutcome:
    """Submit through the history: diff kb_adjustments against the workbook's base version,
    check each changed cell, merge three-way with the head, commit (git, then database),
    recompute with the adjustments of record. See docs/history.md for the rules.

    `check_answer(result, inp, adjustment_rows)`: called with the result the submission
    would produce before anything is committed; it raises to refuse (e.g. PlanError when the
    answer cannot be written into the workbook), and then nothing is stored."""
    from server.ledger import HistoryError, PeriodClosed
    from server.services import history as hist
    from server.services.workbook import invalid

    history = hist.history_for(app)
    sid = submission_id_for(requested_id)
    try:
        bare = to_score_input(without_table(tables, "kb_adjustments"), lang)
    except ValidationError as exc:
        raise invalid(exc.problems, lang) from None
    # Authority, limits and departments come from the inputs of record, never from the
    # workbook (docs/records.md).
    from server.services import records

    resolution = records.resolve(session, period, user, bare, tables, lang)
    inp = resolution.inp
    frame = tables.get("kb_adjustments")
    typed, bad = _typed_cells(frame, inp, lang)

    base = (base_version or "").strip() or None
    if base is not None:
        try:
            base_cells = history.cells_at(base, period.history_key)
        except (HistoryError, ValueError, KeyError, LookupError) as exc:
            log.info("unknown base_version %r: %s", base, exc)
            base_cells = None
        if base_cells is None or not re.fullmatch(r"[0-9a-f]{40}", base):
            raise Unprocessable(msg("submit.unknown_base", lang, base=base[:40]))
    else:
        base_cells = {}

    # what the executive changed relative to the version the workbook was built from
    edits: dict[Key, CellValue | None] = {}
    reports: dict[Key, CellReport] = {}
    problems: list[tuple[Key, Problem, str]] = []  # (key, located problem, kind)
    for key, (i, message) in bad.items():
        problems.append((key, frame.problem(i, "points" if "理由" not in message and "reason"
                                            not in message else "reason", message, lang),
                         "input"))
    for key, (_i, value) in typed.items():
        old = base_cells.get(key)
        if value == old or (value is not None and old is not None
                            and value.points == old.points and value.reason == old.reason):
            continue
        edits[key] = value
    accepted: dict[Key, CellValue | None] = {}
    refusals_of = policy.change_refusals(session, user, period, {
        key: value.points if value is not None else base_cells[key].points
        for key, value in edits.items()}, lang)
    for key, value in sorted(edits.items()):
        eid, code = key
        refusals = refusals_of.get(key)
        if refusals:
            i = typed[key][0]
            problems.append((key, frame.problem(
                i, "points", msg("about", lang, who=f"{eid} {code}",
                                 what=msg("glue.clauses", lang).join(refusals)), lang),
                "authority"))
        else:
            accepted[key] = value
    # Edits the engine refuses (e.g. pushing a line past its cap) are per-cell rejections too:
    # try the adjustments of record with the accepted edits before anything is written.
    trial = None
    for _attempt in range(3):
        refused, trial = _engine_refusals(session, period, inp, accepted, lang)
        if not refused:
            break
        for key, message in refused.items():
            accepted.pop(key, None)
            problems.append((key, frame.problem(typed[key][0], "points", message, lang),
                             "input"))
    for key, problem, _kind in problems:
        reports[key] = CellReport(key, "rejected", problem.message)

    if problems and not accepted:
        # Nothing in this submission can be taken: answer as before, nothing stored.
        located = [p for _k, p, _kind in problems]
        if any(kind == "authority" for _k, _p, kind in problems):
            head = msg("submit.outside_authority", lang)
            raise Forbidden(problems_message(located, lang, intro=head))
        raise invalid(located, lang)

    if check_answer is not None and trial is not None:
        check_answer(*trial)
    result = None
    commit = None
    duplicate = False
    removal_reasons = {key: msg("submit.withdrawn", lang)
                       for key, value in accepted.items() if value is None}
    if accepted or history.commit_of(sid):
        if history.status(period.history_key).get("status") == "approved":
            # The workflow allows Submit after approval (it goes back to review): say so in
            # the history first, or the library refuses adjustments to an approved period.
            history.set_status(period.history_key, PeriodState.IN_REVIEW.value,
                               hist.editor_of(user), "提交调整 / adjustments submitted",
                               f"{sid}.review", kind=Kind.REOPEN)
        try:
            result = history.submit(period.history_key, base, accepted, hist.editor_of(user), sid,
                                    reasons=removal_reasons,
                                    note=f"Submit via {requested_id and 'client' or 'server'}",
                                    rescore=workbook_rescore(session, period, inp, lang))
        except PeriodClosed:
            raise ConflictError(msg("submit.approved", lang, period=period.code)) from None
        hist.fault("after_git_commit")
        commit, duplicate = result.commit, result.duplicate
        for conflict in result.conflicts:
            who = conflict.head_change
            by = msg("submit.changed_by", lang, name=who.author.name, email=who.author.email,
                     when=who.when) if who else "?"
            said = msg("submit.conflict", lang, by=by, head=_value_text(conflict.head, lang),
                       submitted=_value_text(conflict.submitted, lang))
            reports[conflict.cell] = CellReport(conflict.cell, "conflict", said)
        for change in result.applied:
            reports[change.cell] = CellReport(
                change.cell, "accepted",
                msg("submit.accepted", lang, old=_fmt(change.old), new=_fmt(change.new)))
        if commit is not None:
            record_commit(session, period, result, Kind.ADJUSTMENT.value, sid, user.name,
                          user.id)

    head = history.head()
    scored_inp, rows = authoritative_input(session, period, inp)
    engine_result = run_engine(scored_inp, lang, base=inp)
    run = None
    if commit is not None:
        run = session.scalar(select(ScoreRun).where(ScoreRun.submission_id == sid))
        if run is None:
            run = store_run(session, period, scored_inp, engine_result, user, lang,
                            kind="submit", submission_id=sid, commit=commit,
                            base_commit=base)
            for row in rows.values():
                if row.submission_id == sid:
                    row.score_run_id = run.id
            from server.workflow import advance

            advance(session, period, "submit", user)
        session.flush()
    return SubmitOutcome(sid, commit, head, duplicate, run, engine_result, scored_inp,
                         reports, authoritative=rows, records=resolution)


def overwritten_cells(session: Session, tables: Tables, base: str | None, lang: str
                      ) -> list[tuple[str, int, str, str]]:
    """Computed cells (kb_scores adjustment/points, kb_summary total) whose workbook value
    differs from what the server wrote for `base`: (table, row index, key, message)."""
    if not base:
        return []
    run = session.scalar(select(ScoreRun).where(ScoreRun.commit == base)
                         .order_by(ScoreRun.run_no.desc()).limit(1))
    if run is None:
        return []
    lines = {(ln["employee_id"], ln["indicator"]): ln for ln in stored_run.lines(run)}
    totals = {t["employee_id"]: t for t in stored_run.totals(run)}
    out = []
    checks = (("kb_scores", ("adjustment", "points"), lambda f, i: lines.get(
        (cell_text(f.value(i, "employee_id")), cell_text(f.value(i, "indicator"))))),
              ("kb_summary", ("total",), lambda f, i: totals.get(
                  cell_text(f.value(i, "employee_id")))))
    for table, keys, stored_of in checks:
        frame = tables.get(table)
        if frame is None:
            continue
        for i in range(len(frame.excel_rows)):
            stored = stored_of(frame, i)
            if stored is None:
                continue
            for key in keys:
                if key not in frame.columns:
                    continue
                typed = cell_number(frame.value(i, key))
                wrote = cell_number(stored.get(key if key != "points" else "points"))
                if typed == wrote:
                    continue
                where = frame.cell(i, key)
                out.append((table, i, key, msg("submit.computed_cell", lang, sheet=frame.sheet,
                                               cell=where, caption=frame.caption(key))))
    return out


_SUBMIT_META = ("period_state", "base_version", "submission_id", "last_submission",
                "submitted_at", "submitted_by", "last_run")


def submit_answer(session: Session, period: Period, user: User, wb: Workbook, lang: str, *,
                  requested: str | None, base_url: str, now: str) -> WritePlan:
    """Submit `wb`'s kb_adjustments for `user`: stored (history, then the database, which
    this commits right after the history commit: the documented write order) and answered."""
    base = (wb.meta.get("base_version") or "").strip() or None
    restored = overwritten_cells(session, wb.tables, base, lang)

    def fits(result: ScoreResult, inp, rows: dict) -> None:
        # before the history commit: an answer that cannot be written stores nothing
        trial, _unsent_count = answer.answer_plan(session, user, wb, period, inp, result, rows,
                                                  {}, lang, base_url)
        answer.stamp(trial, **dict.fromkeys(_SUBMIT_META, ""))
        check_writable(wb.book, trial)

    out = submit_workbook(session, period, wb.tables, user, lang, base,
                          requested, check_answer=fits)
    session.commit()  # right after the history commit: the documented write order
    plan, _unsent_count = answer.answer_plan(session, user, wb, period, out.inp, out.result,
                                             out.authoritative, out.reports, lang, base_url)
    answer.mark_restored(plan, wb, restored)
    n_ok, n_bad, n_conf = (out.count("accepted"), out.count("rejected"),
                           out.count("conflict"))
    lines = [msg("submit.counts", lang, period=period.code, accepted=n_ok, rejected=n_bad,
                 conflicts=n_conf)]
    if out.duplicate:
        lines.append(msg("submit.duplicate", lang, sid=out.submission_id))
    elif out.commit is None and not n_bad and not n_conf:
        lines.append(msg("submit.nothing", lang))
    if out.run is not None:
        lines.append(msg("submit.authoritative", lang, run=out.run.run_no,
                         version=(out.commit or "")[:10]))
    title = msg("submit.title", lang)
    details = [r for r in out.reports.values() if r.state != "accepted"]
    for r in details[:20]:
        lines.append(f"• {r.key[0]} {r.key[1]}: {r.message}")
    if len(details) > 20:
        lines.append(msg("submit.more", lang, n=len(details) - 20))
    for _table, _i, _key, message in restored[:10]:
        lines.append(f"• {message}")
    if len(restored) > 10:
        lines.append(msg("submit.more_restored", lang, n=len(restored) - 10))
    about_records = records.summary(out.records, wb.tables, lang)
    if about_records:
        lines += ["", about_records]
    plan.alert = ("\n".join(lines), title)
    if details or restored:
        plan.activate_table = "kb_adjustments"
    answer.stamp(plan, period_state=period.state, base_version=out.head or "", submission_id="",
           last_submission=out.submission_id, submitted_at=now, submitted_by=user.name)
    if out.run is not None:
        plan.meta["last_run"] = str(out.run.run_no)
    return plan


