"""Web changes to adjustments: an adjustment from a result page or an appeal answer, and the
revert of a commit.

The same path as Submit: the period's inputs of record (records.current) with the
adjustments of record and the changed cells -> the engine -> a history commit carrying the
engine's lines and totals -> a stored run. The one authority check is
policy.change_refusals; the engine is the one scorer."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import policy
from server.ledger import CellValue, Kind
from server.models import Adjustment as AdjustmentRow
from server.models import Period, PeriodState, ScoreRun, User
from server.scoring.messages import msg
from server.scoring.model import ScoreInput, ScoreResult, ValidationError
from server.services.cells import CellReport, Key, SubmitOutcome
from server.services.errors import BadRequest, NotFound
from server.services.errors import Conflict as ConflictError
from server.services.history_record import record_commit, submission_id_for, workbook_rescore
from server.services.runs import active_adjustments, score_with_record, store_run


def web_input(session: Session, period: Period, lang: str) -> ScoreInput:
    """The period's inputs of record (records.current: rules, roster, data, targets; no
    adjustments), validated so that the engine keeps its run and re-scores only the adjusted
    people; 409 before HR's first Score has made a record."""
    from server.scoring.engine import validate
    from server.services import records

    found = records.current(session, period)
    if found is None:
        raise ConflictError(msg("web_adjust.no_record", lang, period=period.code))
    inp = found[1]
    validate(inp, lang)  # kept by the engine for score(..., base=inp); problems surface later
    return inp


def check_with_engine(session: Session, period: Period, inp: ScoreInput,
                      cells: dict[Key, CellValue | None], lang: str) -> None:
    """Before anything is written: the engine's verdict on the changed cells, as a located
    400 (who, which indicator, why) when it refuses them."""
    try:
        score_with_record(session, period, inp, lang, cells)
    except ValidationError as exc:
        raise BadRequest(_engine_refusal(exc, lang)) from None


def _engine_refusal(exc: ValidationError, lang: str) -> str:
    lines = [msg("web_adjust.refused_points", lang,
                 where=" ".join(p.key[:2]) if p.key else p.table, why=p.text(lang))
             for p in exc.problems]
    return msg("web_adjust.nothing_saved", lang, lines=msg("glue.clauses", lang).join(lines))


def commit_web_adjustment(session: Session, period: Period, user: User, key: Key,
                          value: CellValue, lang: str, requested_id: str | None = None,
                          app=None) -> AdjustmentRow:
    """A web adjustment (result page, appeal answer), checked by the caller with
    `policy.require_changes` and `check_with_engine`: the same history commit as a ribbon
    Submit (git first; the caller commits the database), re-scored by the engine from the
    inputs of record with the adjustments of record, and a stored run naming the commit.
    Returns the new Adjustment row."""
    from server.services import history as hist

    inp = web_input(session, period, lang)
    history = hist.history_for(app)
    sid = submission_id_for(requested_id)
    _reopen_if_approved(history, period, user, "网页调整 / web adjustment", sid)
    scored: list[tuple[ScoreInput, ScoreResult]] = []
    try:
        result = history.submit(period.history_key, history.head(), {key: value},
                                hist.editor_of(user), sid, note="web",
                                rescore=workbook_rescore(session, period, inp, lang, scored))
    except ValidationError as exc:
        raise BadRequest(_engine_refusal(exc, lang)) from None
    hist.fault("after_git_commit")
    if result.commit is None:
        raise ConflictError(msg("web_adjust.unchanged", lang))
    record_commit(session, period, result, Kind.ADJUSTMENT.value, sid, user.name, user.id)
    _store_web_run(session, period, user, lang, scored, sid, result.commit, "adjust")
    return session.scalar(select(AdjustmentRow).where(
        AdjustmentRow.submission_id == sid, AdjustmentRow.employee_id == key[0],
        AdjustmentRow.indicator == key[1]))


def _store_web_run(session: Session, period: Period, user: User, lang: str,
                   scored: list, sid: str, commit: str, kind: str) -> ScoreRun | None:
    if not scored:
        return None
    trial, result = scored[-1]
    run = store_run(session, period, trial, result, user, lang, kind=kind,
                    submission_id=sid, commit=commit)
    for row in active_adjustments(session, period).values():
        if row.submission_id == sid:
            row.score_run_id = run.id
    session.flush()
    return run


def _reopen_if_approved(history, period: Period, user: User, why: str, sid: str) -> None:
    """The history refuses adjustments to an approved period (PeriodClosed) while the
    workflow lets an adjustment or a revert take it back to review: say so in git first
    (a `reopen` status commit `<sid>.review`); the database's move follows with the change."""
    from server.services import history as hist

    if history.status(period.history_key).get("status") == PeriodState.APPROVED.value:
        history.set_status(period.history_key, PeriodState.IN_REVIEW.value, hist.editor_of(user),
                           why, f"{sid}.review", kind=Kind.REOPEN)


def revert_points(cells) -> dict[Key, Decimal]:
    """What a revert of `cells` asks of the one check: each restored value (a removal: the
    value being removed)."""
    return {c.cell: c.old if c.old is not None else (c.new or Decimal(0)) for c in cells}


def revert_submission(session: Session, period: Period, commit: str, user: User, reason: str,
                      lang: str = "zh", requested_id: str | None = None, app=None
                      ) -> SubmitOutcome:
    """Undo one commit's cells (History.revert): a cell changed since is a conflict, not
    overwritten. Authority as for every change (`policy.change_refusals` on each restored
    value); 400 without a reason; 409 once the period is published or closed (frozen).

    After approval a revert is allowed like any adjustment: git first says the period is
    back in review (`reopen` commit `<sid>.review`), then the revert commit; the database
    moves approved -> in_review with the reason (workflow.advance) in the caller's
    transaction. The revert commit carries the engine's lines and totals: the inputs of
    record with the adjustments of record and the restored values (as Submit)."""
    from server import workflow
    from server.ledger import HistoryError, PeriodClosed
    from server.services import history as hist

    reason = (reason or "").strip()
    if not reason:
        raise BadRequest(msg("revert.needs_reason", lang))
    workflow.require_allowed(period, "adjust", lang)
    history = hist.history_for(app)
    try:
        info = history.commit_info(commit)
    except (HistoryError, ValueError, LookupError) as exc:
        raise NotFound(msg("revert.no_commit", lang, commit=commit[:12])) from exc
    if info.period != period.history_key or not info.cells:
        raise BadRequest(msg("revert.not_adjustment", lang, commit=commit[:12],
                             period=period.code))
    policy.require_changes(session, user, period, revert_points(info.cells), lang)
    inp = web_input(session, period, lang)
    check_with_engine(session, period, inp, {
        c.cell: None if c.old is None else CellValue(c.old, reason) for c in info.cells}, lang)
    sid = submission_id_for(requested_id)
    why = msg("revert.why", lang, commit=commit[:10], reason=reason)
    was_approved = period.state == PeriodState.APPROVED.value
    if history.status(period.history_key).get("status") == PeriodState.APPROVED.value:
        # Reopening is a commit of its own: not for a revert that would change nothing
        # (every cell changed since), which would leave git in review and the database
        # approved.
        key = period.history_key
        then, now = history.cells_at(commit, key), history.cells_at(None, key)
        if all(now.get(c.cell) != then.get(c.cell) for c in info.cells):
            cells = ", ".join(f"{c.employee_id} {c.indicator}" for c in info.cells)
            raise ConflictError(msg("revert.changed_since", lang, cells=cells))
    _reopen_if_approved(history, period, user, why, sid)
    scored: list[tuple[ScoreInput, ScoreResult]] = []
    try:
        result = history.revert(period.history_key, commit, hist.editor_of(user), reason, sid,
                                rescore=workbook_rescore(session, period, inp, lang, scored))
    except PeriodClosed:
        # approved again between our reopen and the revert
        raise ConflictError(msg("revert.approved", lang, period=period.code)) from None
    except ValidationError as exc:
        raise BadRequest(_engine_refusal(exc, lang)) from None
    hist.fault("after_git_commit")
    run = None
    if result.commit is not None:
        record_commit(session, period, result, Kind.REVERT.value, sid, user.name, user.id)
        run = _store_web_run(session, period, user, lang, scored, sid, result.commit,
                             "revert")
        workflow.advance(session, period, "adjust", user,
                         reason=why if was_approved else "")
    reports = {c.cell: CellReport(c.cell, "conflict", msg("revert.cell_changed", lang))
               for c in result.conflicts}
    for change in result.applied:
        reports[change.cell] = CellReport(change.cell, "accepted", "reverted")
    if run is None:
        run = workflow_latest(session, period)
    return SubmitOutcome(sid, result.commit, history.head(), result.duplicate, run,
                         scored[-1][1] if scored else None,  # type: ignore[arg-type]
                         scored[-1][0] if scored else None,  # type: ignore[arg-type]
                         reports)


def workflow_latest(session: Session, period: Period) -> ScoreRun | None:
    from server.workflow import latest_run

    return latest_run(session, period)
