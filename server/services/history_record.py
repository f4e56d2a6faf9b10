"""The history's write path on the database side (docs/history.md): the rows of each history
commit (record_commit, idempotent by Submission-Id), Score's baseline or re-score commit, the
engine's `rescore` for Submit and web changes, workflow moves as status commits, and start-up
recovery of commits the database missed.

Not the git ledger itself: that is the pure package server/ledger, opened per process by
services/history.py."""

from __future__ import annotations

import logging
from itertools import compress, repeat
from operator import ne
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.ledger import CellValue, EmployeeInfo, Kind, ScoreSnapshot, TotalLine, make_score_lines
from server.models import Adjustment as AdjustmentRow
from server.models import AdjustmentStatus, HistoryCommit, Period, PeriodEvent, ScoreRun, User
from server.scoring.model import ScoreInput, ScoreResult, line_columns
from server.services.runs import jsonable, score_with_record

log = logging.getLogger("kpibook.scoring")


def record_commit(session: Session, period: Period, info_or_result, kind: str,
                  submission_id: str, author: str, author_id: int | None = None,
                  recovered: bool = False) -> bool:
    """Write the database side of a history commit, idempotently (keyed by Submission-Id).

    `info_or_result` is a SubmitResult or CommitInfo (their `applied`/`cells` changes are
    applied to the Adjustment rows). Returns False when the id was already recorded."""
    if session.scalar(select(HistoryCommit.id).where(
            HistoryCommit.submission_id == submission_id)) is not None:
        return False
    commit = getattr(info_or_result, "commit", None)
    cells = getattr(info_or_result, "applied", None)
    if cells is None:
        cells = getattr(info_or_result, "cells", ())
    for change in cells:
        for old in session.scalars(select(AdjustmentRow).where(
                AdjustmentRow.period_id == period.id,
                AdjustmentRow.employee_id == change.employee_id,
                AdjustmentRow.indicator == change.indicator,
                AdjustmentRow.status == AdjustmentStatus.ACTIVE.value)):
            old.status = AdjustmentStatus.SUPERSEDED.value
        if change.new is not None:
            session.add(AdjustmentRow(
                period_id=period.id, employee_id=change.employee_id,
                indicator=change.indicator, points=change.new, reason=change.reason,
                author=author, author_id=author_id, status=AdjustmentStatus.ACTIVE.value,
                submission_id=submission_id, commit=commit))
    session.add(HistoryCommit(submission_id=submission_id, commit=commit, kind=kind,
                              period_id=period.id, author=author, recovered=recovered))
    session.flush()
    return True


def submission_id_for(requested: str | None) -> str:
    from server.services import history as hist

    return hist.valid_submission_id(requested) or hist.new_submission_id()


def record_score(session: Session, period: Period, inp: ScoreInput, result: ScoreResult,
                 run: ScoreRun, user: User, requested_id: str | None, app=None,
                 note: str = "") -> str | None:
    """Score: a baseline commit (the period's first scores in the history) or a re-score.
    Git first (under the history lock), then the run's ids; the caller commits the session.
    `note`: why the inputs changed (a change to the records), kept in the commit message."""
    from server.services import history as hist

    history = hist.history_for(app)
    sid = submission_id_for(requested_id)
    known = session.scalar(select(HistoryCommit.id).where(
        HistoryCommit.period_id == period.id,
        HistoryCommit.kind.in_([Kind.BASELINE.value, Kind.RESCORE.value])).limit(1))
    kind = Kind.RESCORE if known is not None else Kind.BASELINE
    # The engine is a pure function of its input: scores recorded for this very input at
    # the current head are recorded already (a re-score of an unchanged month).
    fingerprint = f"{run.rules_digest}:{run.input_digest}"
    if requested_id is None and not note and history.holds_scores(period.history_key, fingerprint):
        commit = None
    else:
        commit = history.record_scores(period.history_key, score_snapshot(inp, result),
                                       hist.editor_of(user), sid, kind=kind,
                                       fingerprint=fingerprint, note=note)
    hist.fault("after_git_commit")
    head = history.head()
    if commit is not None:
        # idempotent: after a crash between git and the database, start-up recovery has
        # already written this Submission-Id's row
        record_commit(session, period, SimpleNamespace(commit=commit), kind.value, sid,
                      user.name, user.id)
    run.submission_id, run.commit = sid, commit or head
    session.add(run)  # unadded until now (runs.store_run): one INSERT with its ids
    session.flush()
    return head


def score_snapshot(inp: ScoreInput, result: ScoreResult) -> ScoreSnapshot:
    # `status != "not_applicable"`, not str(status): the same test for a StrEnum or a text,
    # without a Python-level __str__ call per line (50,000 at 5,000 managers). NB: the value
    # of LineStatus.NOT_APPLICABLE is "n/a", so this keeps every line (as it always has).
    eids, codes, bases, adjustments, points, statuses = line_columns(
        result.lines, "employee_id", "indicator", "base_points", "adjustment", "points", "status")
    lines = dict(compress(zip(zip(eids, codes, strict=True),
                              make_score_lines(bases, adjustments, points), strict=True),
                          map(ne, statuses, repeat("not_applicable"))))
    totals = {e.employee_id: TotalLine(e.total, e.grade, e.rank, e.group_rank)
              for e in result.employees}
    employees = {e.employee_id: EmployeeInfo(e.name, e.department or "")
                 for e in inp.employees}
    return ScoreSnapshot(lines, totals, employees, jsonable(inp.rules))


def workbook_rescore(session: Session, period: Period, inp: ScoreInput, lang: str,
                      scored: list | None = None):
    """Submit's `rescore` for History.submit (called under the history lock once the merge
    is known): the engine over the workbook's rules, roster and data with the adjustments of
    record plus the cells being committed — what the answer computes right after the commit
    (`authoritative_input`), so the commit's score lines, totals and ranks are its ScoreRun's.
    The whole snapshot: the workbook may carry newer data than the last Score, and the
    library writes only the files that differ from the head. Web changes pass the stored
    run's input as `inp` and a `scored` list, which gets the (input, result) to store."""

    def rescore(applied) -> ScoreSnapshot:
        trial, result = score_with_record(session, period, inp, lang, {
            c.cell: None if c.new is None else CellValue(c.new, c.reason) for c in applied})
        if scored is not None:
            scored.append((trial, result))
        return score_snapshot(trial, result)

    return rescore


def recover(app) -> list[str]:
    """Start-up: commits on the history branch the database does not know (a crash between
    the git commit and the database write) are written to the database, idempotently."""
    from server.db import session_scope
    from server.services import history as hist

    history = hist.history_for(app)
    with session_scope(app) as session:
        known = set(session.scalars(select(HistoryCommit.submission_id)))
        known |= {f"event-{i}" for i in session.scalars(select(PeriodEvent.id))}
        missing = history.recover(known)
        replayed: list[str] = []
        unknown: dict[str, int] = {}
        for info in missing:
            if info.submission_id.endswith(".review"):
                continue  # the status half of a submission after approval
            period = session.scalar(select(Period).where(Period.history_key == info.period))
            if period is None:
                unknown[info.period] = unknown.get(info.period, 0) + 1
                continue
            author = hist.user_of(session, info.author)
            if record_commit(session, period, info, info.kind, info.submission_id,
                             author.name if author else info.author.name,
                             author.id if author else None, recovered=True):
                replayed.append(info.submission_id)
                log.warning("recovered history commit %s (%s, %s) into the database",
                            info.commit[:12], info.kind, info.submission_id)
        for code, n in sorted(unknown.items()):
            log.warning("%s history commit(s) name period %s, which the database lacks",
                        n, code)
        # Workflow moves are written the other way round (database, then the subscriber's
        # git commit): a move the history missed is replayed as the period's latest status.
        for period in session.scalars(select(Period)):
            event = session.scalar(select(PeriodEvent).where(
                PeriodEvent.period_id == period.id, PeriodEvent.action != "create")
                .order_by(PeriodEvent.id.desc()).limit(1))
            if event is None or history.status(period.history_key).get("status") == event.to_state:
                continue
            if history.commit_of(f"event-{event.id}") is None:
                user = session.get(User, event.actor_id) if event.actor_id else None
                history.set_status(period.history_key, event.to_state,
                                   hist.editor_of(user) if user else hist.SYSTEM,
                                   event.reason or f"{event.action} (recovered)",
                                   f"event-{event.id}",
                                   kind=STATUS_KINDS.get(event.action, Kind.APPROVAL))
                replayed.append(f"event-{event.id}")
    return replayed


def install_history(app, recover_now: bool = True) -> None:
    """create_app: every workflow move becomes a history commit; recover a crash (only
    when the repository exists: a new instance has nothing to recover; not in a gunicorn
    worker, whose master recovered once before forking: server/app.py)."""
    import os

    from server import workflow

    workflow.subscribe(on_period_event)
    if recover_now and os.path.exists(os.path.join(str(app.config["HISTORY_DIR"]), "HEAD")):
        try:
            replayed = recover(app)
            log.info("start-up recovery (pid %d): %d commit(s) replayed", os.getpid(),
                     len(replayed))
        except Exception:  # noqa: BLE001 - an unmigrated database must not stop the app
            log.exception("history recovery at start-up failed")


STATUS_KINDS = {"reopen": Kind.REOPEN, "return": Kind.REOPEN}


def on_period_event(info) -> None:
    """workflow subscriber: every state change of a period is a history commit (after the
    database committed it; a failure is logged and retried at the next start-up)."""
    from flask import current_app, has_app_context

    from server.services import history as hist

    if not has_app_context() or info.action == "create":
        return
    history = hist.history_for(current_app)
    key = info.history_key or info.period_code
    if history.status(key).get("status") == info.to_state:
        return  # already said by the submission that moved it
    from server.db import get_engine

    with Session(get_engine(current_app)) as db:
        user = db.scalar(select(User).where(User.name == info.actor))
    editor = hist.editor_of(user) if user is not None else hist.SYSTEM
    history.set_status(key, info.to_state, editor,
                       info.reason or f"{info.action}: {info.from_state} -> {info.to_state}",
                       f"event-{info.event_id}",
                       kind=STATUS_KINDS.get(info.action, Kind.APPROVAL))
