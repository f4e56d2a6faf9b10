"""The Score button: the workbook's inputs checked against the records, the engine on the
inputs and adjustments of record, the run stored and committed to the history, the answer
narrowed to the caller (docs/architecture.md, "The Score button")."""

from __future__ import annotations

from sqlalchemy.orm import Session

from server.models import Period, User
from server.scoring.messages import msg
from server.scoring.model import ValidationError
from server.services import answer, records
from server.services.cells import without_table
from server.services.history_record import record_score
from server.services.runs import authoritative_input, run_engine, store_run
from server.services.workbook import Workbook, invalid
from server.workbook.contract import to_score_input
from server.xlwire.actions import check_writable
from server.xlwire.plan import WritePlan


def score_workbook(session: Session, period: Period, user: User, wb: Workbook, lang: str, *,
                   requested: str | None, apply_reason: str | None, base_url: str,
                   now: str) -> WritePlan:
    """Score `wb` for `user`; the caller commits the session and answers with the plan.
    Nothing is stored before the answer is known to fit the workbook."""
    try:
        bare = to_score_input(without_table(wb.tables, "kb_adjustments"), lang)
    except ValidationError as exc:
        raise invalid(exc.problems, lang) from None
    # The inputs of record, not whatever the workbook says (docs/records.md); then the
    # adjustments of record (the history), not what kb_adjustments happens to say: a score
    # never takes an adjustment that was not submitted (docs/history.md).
    resolution = records.resolve(session, period, user, bare, wb.tables, lang, apply_reason)
    inp, rows = authoritative_input(session, period, resolution.inp)
    result = run_engine(inp, lang, base=resolution.inp)  # one engine run
    plan, unsent = answer.answer_plan(session, user, wb, period, inp, result, rows, {}, lang,
                                      base_url)
    notes = []
    if unsent:
        notes.append(msg("score.unsent", lang, n=unsent))
    about_records = records.summary(resolution, wb.tables, lang)
    if about_records:
        notes.append(about_records)
    if notes:
        plan.alert = ("\n\n".join(notes), "kpibook")
    answer.stamp(plan, period_state=period.state, last_run="", scored_at=now,
           scored_by=user.name, base_version="", submission_id="", last_submission="")
    # Nothing is stored before the answer is known to fit the workbook (docs/workbook.md).
    check_writable(wb.book, plan)
    # the row is written once, by record_score, when its history commit is known
    run = store_run(session, period, inp, result, user, lang, add=False)
    head = record_score(session, period, inp, result, run, user, requested,
                        note=records.history_note(resolution))
    answer.stamp(plan, period_state=period.state, last_run=str(run.run_no), base_version=head or "",
           last_submission=run.submission_id or "")
    return plan


