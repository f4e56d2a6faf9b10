"""The Submit button's answer: the submission through the history (scoring.submit_workbook,
docs/history.md), then the results and the adjustments of record with what happened to each
cell, the computed cells typed over restored, and the alert that says all of it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from server.models import Period, User
from server.scoring.model import ScoreResult
from server.services import answer, records
from server.services import scoring as scoring_service
from server.services.workbook import Workbook
from server.xlwire.actions import check_writable
from server.xlwire.plan import WritePlan

_SUBMIT_META = ("period_state", "base_version", "submission_id", "last_submission",
                "submitted_at", "submitted_by", "last_run")


def submit_answer(session: Session, period: Period, user: User, wb: Workbook, lang: str, *,
                  requested: str | None, base_url: str, now: str) -> WritePlan:
    """Submit `wb`'s kb_adjustments for `user`: stored (history, then the database, which
    this commits right after the history commit: the documented write order) and answered."""
    base = (wb.meta.get("base_version") or "").strip() or None
    restored = scoring_service.overwritten_cells(session, wb.tables, base, lang)

    def fits(result: ScoreResult, inp, rows: dict) -> None:
        # before the history commit: an answer that cannot be written stores nothing
        trial, _unsent_count = answer.answer_plan(session, user, wb, period, inp, result, rows,
                                                  {}, lang, base_url)
        answer.stamp(trial, **dict.fromkeys(_SUBMIT_META, ""))
        check_writable(wb.book, trial)

    out = scoring_service.submit_workbook(session, period, wb.tables, user, lang, base,
                                          requested, check_answer=fits)
    session.commit()  # right after the history commit: the documented write order
    plan, _unsent_count = answer.answer_plan(session, user, wb, period, out.inp, out.result,
                                             out.authoritative, out.reports, lang, base_url)
    answer.mark_restored(plan, wb, restored)
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
    answer.stamp(plan, period_state=period.state, base_version=out.head or "", submission_id="",
           last_submission=out.submission_id, submitted_at=now, submitted_by=user.name)
    if out.run is not None:
        plan.meta["last_run"] = str(out.run.run_no)
    return plan


