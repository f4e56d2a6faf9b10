"""The period workflow: states, who moves a period, what each state freezes (docs/roles.md).

    draft -> collecting -> scored -> in_review -> approved -> published -> closed

| action | from | to | who | reason |
| start | draft | collecting | hr_admin | - |
| (Pull) | draft | collecting | hr_admin, automatic | - |
| (Score) | draft, collecting | scored | whoever scores, automatic | - |
| send_for_review | scored | in_review | hr_admin | - |
| (Submit, web adjust, revert) | draft..scored, approved | in_review | adjuster | if approved |
| approve | in_review | approved | executive | - |
| return | in_review | scored | executive, hr_admin | required |
| publish | approved | published | hr_admin | - |
| close | published | closed | hr_admin (no open appeal) | - |
| reopen | approved, published, closed | an earlier state | hr_admin | required |

Freezes: Pull and Score only before approval; adjustments (Submit, web) only before
publishing (after publishing only as HR's answer to an appeal); acknowledgements and appeals
only while published; nothing at all once closed.

A change after approval (Submit, web adjustment, revert) takes the period back to review;
its event carries the reason (the revert's, else which operation changed it).

Every move is a PeriodEvent row. Subscribers in `on_period_event` (the git history, the
notifications) are called with a `PeriodEventInfo` after the transaction that recorded it has
committed, so that nothing outside the database ever sees a move that was rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from server.models import (
    Acknowledgement,
    Adjustment,
    AdjustmentStatus,
    Appeal,
    AppealStatus,
    Period,
    PeriodEvent,
    PeriodState,
    Role,
    ScoreRun,
    User,
)
from server.scoring.messages import msg, word
from server.services import stored_run
from server.services.errors import BadRequest, Conflict, Forbidden

log = logging.getLogger("kpibook.workflow")

S = PeriodState
ORDER = [S.DRAFT, S.COLLECTING, S.SCORED, S.IN_REVIEW, S.APPROVED, S.PUBLISHED, S.CLOSED]
HR, EXEC = Role.HR_ADMIN.value, Role.EXECUTIVE.value


@dataclass(frozen=True, slots=True)
class Transition:
    action: str
    sources: tuple[str, ...]
    target: str | None  # None: chosen by the person (reopen)
    roles: frozenset[str]
    needs_reason: bool = False


TRANSITIONS: dict[str, Transition] = {t.action: t for t in (
    Transition("start", (S.DRAFT,), S.COLLECTING, frozenset({HR})),
    Transition("send_for_review", (S.SCORED,), S.IN_REVIEW, frozenset({HR})),
    # who approves a period is configured (KPIBOOK_PERIOD_APPROVERS): `roles_of`
    Transition("approve", (S.IN_REVIEW,), S.APPROVED, frozenset({HR})),
    Transition("return", (S.IN_REVIEW,), S.SCORED, frozenset({EXEC, HR}), needs_reason=True),
    Transition("publish", (S.APPROVED,), S.PUBLISHED, frozenset({HR})),
    Transition("close", (S.PUBLISHED,), S.CLOSED, frozenset({HR})),
    Transition("reopen", (S.APPROVED, S.PUBLISHED, S.CLOSED), None, frozenset({HR}),
               needs_reason=True),
)}
REOPEN_TARGETS = (S.COLLECTING, S.SCORED, S.IN_REVIEW, S.PUBLISHED)

# operation -> states in which it is allowed
ALLOWED_IN: dict[str, tuple[str, ...]] = {
    "pull": (S.DRAFT, S.COLLECTING, S.SCORED, S.IN_REVIEW),
    "score": (S.DRAFT, S.COLLECTING, S.SCORED, S.IN_REVIEW),
    "submit": (S.DRAFT, S.COLLECTING, S.SCORED, S.IN_REVIEW, S.APPROVED),
    "adjust": (S.DRAFT, S.COLLECTING, S.SCORED, S.IN_REVIEW, S.APPROVED),
    "appeal_adjust": (S.PUBLISHED,),
    "feedback": (S.PUBLISHED,),
    "link": (S.DRAFT, S.COLLECTING, S.SCORED, S.IN_REVIEW, S.APPROVED, S.PUBLISHED),
}

STATE_WORDS = {
    S.DRAFT: ("草稿", "draft"),
    S.COLLECTING: ("数据收集中", "collecting"),
    S.SCORED: ("已计算", "scored"),
    S.IN_REVIEW: ("待审批", "in review"),
    S.APPROVED: ("已审批", "approved"),
    S.PUBLISHED: ("已发布", "published"),
    S.CLOSED: ("已关闭", "closed"),
}
ACTION_WORDS = {
    "start": ("开始收集数据", "start collecting"),
    "send_for_review": ("提交审批", "send for review"),
    "approve": ("审批通过", "approve"),
    "return": ("退回修改", "return for changes"),
    "publish": ("发布结果", "publish results"),
    "close": ("关闭期间", "close the period"),
    "reopen": ("重新打开", "reopen"),
    "create": ("创建", "created"),
    "pull": ("获取数据", "pull"),
    "score": ("计算得分", "score"),
    "submit": ("提交调整", "submit adjustments"),
    "adjust": ("网页调整", "adjust on the web"),
}
OPERATION_WORDS = {
    "pull": ("获取数据", "Pull"),
    "score": ("计算得分", "Score"),
    "submit": ("提交调整", "Submit"),
    "adjust": ("调整分数", "adjusting scores"),
    "appeal_adjust": ("答复申诉时调整", "adjusting in an appeal answer"),
    "feedback": ("确认或申诉", "acknowledging or appealing"),
    "link": ("关联工作簿", "linking the workbook"),
}
FREEZE_REASONS = {
    S.DRAFT: ("期间尚未开始", "the period has not started"),
    S.COLLECTING: ("结果尚未发布", "results are not published yet"),
    S.SCORED: ("结果尚未发布", "results are not published yet"),
    S.IN_REVIEW: ("结果尚未发布", "results are not published yet"),
    S.APPROVED: ("审批后数据与得分已冻结", "facts and scores are frozen after approval"),
    S.PUBLISHED: ("结果已发布，调整只能通过答复申诉进行",
                  "results are published; adjustments only through appeal answers"),
    S.CLOSED: ("期间已关闭，所有内容已冻结", "the period is closed and frozen"),
}


def state_word(state: str, lang: str) -> str:
    return word(STATE_WORDS.get(state, (state, state)), lang)  # type: ignore[call-overload]


def action_word(action: str, lang: str) -> str:
    return word(ACTION_WORDS.get(action, (action, action)), lang)


def require_allowed(period: Period, operation: str, lang: str = "zh") -> None:
    """409 with the reason when the period's state freezes `operation`."""
    if period.state in ALLOWED_IN[operation]:
        return
    why = word(FREEZE_REASONS.get(period.state, ("", "")), lang)  # type: ignore[call-overload]
    raise Conflict(msg("workflow.frozen", lang, period=period.code,
                       state=state_word(period.state, lang),
                       operation=word(OPERATION_WORDS[operation], lang), why=why))


# --- events and subscribers ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeriodEventInfo:
    """What subscribers get (plain data: the database session is gone by then)."""

    period_code: str
    action: str
    from_state: str
    to_state: str
    reason: str
    actor: str
    event_id: int
    # which scorecard of the month: its row and its directory in the history
    period_id: int = 0
    history_key: str = ""


# Subscribers: called after commit with (PeriodEventInfo). Exceptions are logged, never raised:
# a failing notification must not undo an approval that is already stored.
on_period_event: list[Callable[[PeriodEventInfo], None]] = []
_PENDING = "kpibook.pending_period_events"


def record_event(db: Session, period: Period, action: str, from_state: str, to_state: str,
                 user: User | None, reason: str = "") -> PeriodEvent:
    row = PeriodEvent(period_id=period.id, action=action, from_state=from_state,
                      to_state=to_state, reason=reason,
                      actor=user.name if user is not None else "system",
                      actor_id=user.id if user is not None else None)
    db.add(row)
    db.flush()
    db.info.setdefault(_PENDING, []).append(PeriodEventInfo(
        period.code, action, from_state, to_state, reason, row.actor, row.id, period.id,
        period.history_key))
    return row


@event.listens_for(Session, "after_commit")
def _fire_after_commit(db: Session) -> None:
    pending: list[PeriodEventInfo] = db.info.pop(_PENDING, [])
    for info in pending:
        for subscriber in list(on_period_event):
            try:
                subscriber(info)
            except Exception:  # noqa: BLE001 - see on_period_event
                log.exception("period event subscriber %r failed for %s %s", subscriber,
                              info.period_code, info.action)


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(db: Session) -> None:
    db.info.pop(_PENDING, None)


def advance(db: Session, period: Period, operation: str, user: User, reason: str = "") -> None:
    """The automatic moves of the ribbon buttons and web adjustments (see the table above).
    Call `require_allowed` first; this only moves the state forward and records it.

    A change to an approved period takes it back to review, and the event says why: the
    caller's `reason` (a revert's), else which operation changed it."""
    before = period.state
    after = before
    if operation == "pull" and before == S.DRAFT:
        after = S.COLLECTING
    elif operation == "score" and before in (S.DRAFT, S.COLLECTING):
        after = S.SCORED
    elif operation in ("submit", "adjust") and before in (S.DRAFT, S.COLLECTING, S.SCORED,
                                                          S.APPROVED):
        after = S.IN_REVIEW
    if after != before:
        if before == S.APPROVED and not reason:
            zh, en = ACTION_WORDS.get(operation, (operation, operation))
            reason = f"审批后{zh} / {en} after approval"
        period.state = after.value if isinstance(after, S) else after
        record_event(db, period, operation, before, period.state, user, reason)


# --- transitions by people -------------------------------------------------------------------


# Moves that tell people or freeze their chance to answer: shown first (`preview`), done
# only when confirmed.
CONFIRM = ("publish", "close")


def approver_roles() -> tuple[str, ...]:
    """KPIBOOK_PERIOD_APPROVERS of the running app (HR by default)."""
    from flask import current_app, has_app_context

    if has_app_context():
        return tuple(current_app.config.get("PERIOD_APPROVERS") or (HR,))
    return (HR,)


def roles_of(t: Transition) -> frozenset[str]:
    return frozenset(approver_roles()) if t.action == "approve" else t.roles


def available(period: Period, user: User) -> list[Transition]:
    """Transitions `user` may apply to `period` now (the buttons on the period page)."""
    return [t for t in TRANSITIONS.values()
            if period.state in t.sources and user.role in roles_of(t) and user.active]


def period_departments(db: Session, period: Period) -> set[str | None]:
    """The departments (roster of record) of everyone in the period's latest run."""
    from server.services.roster import departments_of

    run = latest_run(db, period)
    ids = [t["employee_id"] for t in (stored_run.totals(run) if run else [])]
    known = departments_of(db, ids)
    return {known.get(eid) or None for eid in ids}


@dataclass(frozen=True, slots=True)
class Person:
    employee_id: str
    name: str
    account: str  # the user name ("" without an account)
    email: str


@dataclass(frozen=True, slots=True)
class Preview:
    """What publishing or closing will do, shown before it is confirmed."""

    action: str
    notified: list[Person]  # managers with an account: told (e-mail/robot) on publish
    without_account: list[Person]  # managers who cannot see or answer their result
    unanswered: list[Person]  # close: managers who neither acknowledged nor appealed


def preview(db: Session, period: Period) -> Preview:
    from server.models import Employee

    run = latest_run(db, period)
    ids = [t["employee_id"] for t in (stored_run.totals(run) if run else [])]
    names = dict(db.execute(select(Employee.employee_id, Employee.name)
                            .where(Employee.employee_id.in_(ids))).all()) if ids else {}
    users = {u.employee_id: u for u in db.scalars(select(User).where(
        User.employee_id.in_(ids), User.active.is_(True)))} if ids else {}

    def person(eid: str) -> Person:
        u = users.get(eid)
        return Person(eid, names.get(eid, eid), u.name if u else "", u.email if u else "")

    answered = set(db.scalars(select(Acknowledgement.employee_id).where(
        Acknowledgement.period_id == period.id))) | set(db.scalars(
            select(Appeal.employee_id).where(Appeal.period_id == period.id)))
    everyone = sorted(set(ids))
    return Preview(
        "publish" if period.state == S.APPROVED else "close",
        [person(e) for e in everyone if e in users],
        [person(e) for e in everyone if e not in users],
        [person(e) for e in everyone if e not in answered] if period.state == S.PUBLISHED
        else [])


def reopen_targets(period: Period) -> list[str]:
    here = ORDER.index(S(period.state))
    return [s.value for s in REOPEN_TARGETS if ORDER.index(s) < here]


def transition(db: Session, period: Period, action: str, user: User, reason: str = "",
               to_state: str | None = None, lang: str = "zh", *,
               confirmed: bool = False) -> PeriodEvent:
    """Apply a workflow action; 403 for the wrong role (or, approving, a scope that does not
    cover the period), 409 from the wrong state, 400 without a required reason, with an
    impossible reopen target, or for publish/close without `confirmed` (after `preview`)."""
    from server import policy

    policy.require(user, "period.transition", lang=lang)
    t = TRANSITIONS.get(action)
    if t is None:
        raise BadRequest(msg("workflow.unknown_action", lang, action=action))
    roles = roles_of(t)
    if user.role not in roles:
        who = msg("glue.list", lang).join(policy.role_word(r, lang) for r in sorted(roles))
        raise Forbidden(msg("workflow.only_roles", lang, who=who,
                            action=action_word(action, lang)))
    if period.state not in t.sources:
        raise Conflict(msg("workflow.not_from_state", lang, period=period.code,
                           state=state_word(period.state, lang),
                           action=action_word(action, lang)))
    reason = (reason or "").strip()
    if t.needs_reason and not reason:
        raise BadRequest(msg("workflow.needs_reason", lang, action=action_word(action, lang)))
    if action == "approve":
        refused = policy.period_approval_refusals(user, period_departments(db, period),
                                                  roles, lang)
        if refused:
            raise Forbidden(msg("workflow.may_not_approve", lang,
                                reasons=msg("glue.clauses", lang).join(refused)))
    if action in CONFIRM and not confirmed:
        raise BadRequest(msg("workflow.needs_confirmation", lang,
                             action=action_word(action, lang)))
    target = t.target
    if action == "reopen":
        if to_state not in reopen_targets(period):
            raise BadRequest(msg("workflow.reopen_target", lang))
        target = to_state
    if action == "publish" and latest_run(db, period) is None:
        raise Conflict(msg("workflow.nothing_to_publish", lang))
    if action == "close":
        still_open = open_appeals(db, period)
        if still_open:
            raise Conflict(msg("workflow.appeals_open", lang, n=still_open))
    before = period.state
    period.state = str(target)
    return record_event(db, period, action, before, period.state, user, reason)


# --- what waits for whom -----------------------------------------------------------------------


def latest_run(db: Session, period: Period) -> ScoreRun | None:
    return db.scalar(select(ScoreRun).where(ScoreRun.period_id == period.id)
                     .order_by(ScoreRun.run_no.desc()).limit(1))


def open_appeals(db: Session, period: Period) -> int:
    return db.scalar(select(func.count()).select_from(Appeal).where(
        Appeal.period_id == period.id,
        Appeal.status != AppealStatus.CONFIRMED.value)) or 0


@dataclass(frozen=True, slots=True)
class Waiting:
    who: str  # a role value, or "employee:<id>"
    what_zh: str
    what_en: str
    count: int = 1

    def text(self, lang: str) -> str:
        return word((self.what_zh, self.what_en), lang)


def waiting_for(db: Session, period: Period) -> list[Waiting]:
    """What the period waits for, and from whom (the period list and notifications)."""
    s = period.state
    if s == S.DRAFT:
        return [Waiting(HR, "开始收集数据", "start collecting")]
    if s == S.COLLECTING:
        return [Waiting(HR, "获取数据并计算得分", "pull data and score")]
    if s == S.SCORED:
        return [Waiting(Role.DEPT_HEAD.value, "在工作簿中调整并提交（如需要）",
                        "adjust and submit in the workbook (if needed)"),
                Waiting(HR, "提交审批", "send for review")]
    if s == S.IN_REVIEW:
        n = db.scalar(select(func.count()).select_from(Adjustment).where(
            Adjustment.period_id == period.id,
            Adjustment.status == AdjustmentStatus.ACTIVE.value)) or 0
        return [Waiting(EXEC, f"审批 {n} 项调整", f"approve {n} adjustment(s)", n),
                *(Waiting(role, "审批期间", "approve the period") for role in approver_roles())]
    if s == S.APPROVED:
        return [Waiting(HR, "发布结果", "publish the results")]
    if s == S.PUBLISHED:
        out = []
        run = latest_run(db, period)
        everyone = {t["employee_id"] for t in (stored_run.totals(run) if run else [])}
        acked = set(db.scalars(select(Acknowledgement.employee_id).where(
            Acknowledgement.period_id == period.id)))
        appeals = list(db.scalars(select(Appeal).where(Appeal.period_id == period.id)))
        appealing = {a.employee_id for a in appeals}
        pending = sorted(everyone - acked - appealing)
        if pending:
            out.append(Waiting(Role.EMPLOYEE.value, f"{len(pending)} 位经理确认或申诉结果",
                               f"{len(pending)} manager(s) to acknowledge or appeal",
                               len(pending)))
        to_answer = sum(a.status == AppealStatus.OPEN.value for a in appeals)
        if to_answer:
            out.append(Waiting(HR, f"答复 {to_answer} 个申诉", f"answer {to_answer} appeal(s)",
                               to_answer))
        to_confirm = sum(a.status == AppealStatus.ANSWERED.value for a in appeals)
        if to_confirm:
            out.append(Waiting(Role.EMPLOYEE.value, f"{to_confirm} 个申诉答复待确认",
                               f"{to_confirm} appeal answer(s) to confirm", to_confirm))
        if not out:
            out.append(Waiting(HR, "关闭期间", "close the period"))
        return out
    return []


def history(db: Session, period: Period) -> list[PeriodEvent]:
    return list(db.scalars(select(PeriodEvent).where(PeriodEvent.period_id == period.id)
                           .order_by(PeriodEvent.id)))


def subscribe(callback: Callable[[PeriodEventInfo], None]) -> Callable[[PeriodEventInfo], Any]:
    """Add a subscriber once (idempotent: create_app may run many times in one process)."""
    if callback not in on_period_event:
        on_period_event.append(callback)
    return callback
