"""The daily reminder of pending approvals: one message per approver — "待审批 5 人", the
number of people whose adjustments wait for them — by e-mail and a card on each channel,
with a button to the review page (docs/notifications.md).

Sent once per approver, channel and local day: every row carries the dedupe key
"reminder:<YYYY-MM-DD>:<user id>:<channel>" (unique in the database), inserted and committed
before anything is sent, so a second run the same day — another worker's tick, or
`kpibook notify remind` after the schedule — finds it and sends nothing. A delivery that
fails is retried like every notification (services/cards.py).

`pending_approvals` is the one place that counts what waits for an approver.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server import notify, policy, workflow
from server.display import local_time, zone
from server.models import Employee, Period, PeriodState, Role, User
from server.scoring.messages import msg
from server.services.runs import active_adjustments

log = logging.getLogger("kpibook.reminders")


@dataclass(frozen=True, slots=True)
class Pending:
    people: int  # distinct people with adjustments waiting for this approver
    periods: tuple[str, ...] = ()
    first_period: str = ""


@dataclass(slots=True)
class ReminderReport:
    day: str
    sent: list[str] = field(default_factory=list)  # "<approver>: <n> (<channels>)"
    skipped: list[str] = field(default_factory=list)  # already reminded today
    nothing: int = 0  # approvers with nothing pending


def approvers(db: Session) -> list[User]:
    """Who approves submitted adjustments (the review page's executives)."""
    return notify.users_with_role(db, Role.EXECUTIVE.value)


def pending_approvals(db: Session, approver: User) -> Pending:
    """People whose adjustments wait for `approver`: the active adjustments of every period
    that waits for executives (workflow.waiting_for), of people in the approver's scope
    (policy.visible), that the approver did not make (nobody approves their own work)."""
    people: set[str] = set()
    periods: list[str] = []
    departments: dict[str, str] = {}
    for period in db.scalars(select(Period).where(Period.state == PeriodState.IN_REVIEW.value)
                             .order_by(Period.code)):
        if not any(w.who == Role.EXECUTIVE.value and w.count
                   for w in workflow.waiting_for(db, period)):
            continue
        rows = active_adjustments(db, period).values()
        if not departments:
            departments = dict(db.execute(select(Employee.employee_id,
                                                    Employee.department)).all())
        mine = {r.employee_id for r in rows if r.author_id != approver.id and r.author !=
                approver.name and policy.visible(approver, r.employee_id,
                                                 departments.get(r.employee_id))}
        if mine:
            people |= mine
            periods.append(period.code)
    return Pending(len(people), tuple(periods), periods[0] if periods else "")


def reminder_message(pending: Pending, now: dt.datetime, timezone: str) -> notify.Message:
    when = local_time(now, timezone, zone_label=True)
    n, listed = pending.people, "、".join(pending.periods)
    path = f"/review/{pending.first_period}" if len(pending.periods) == 1 else "/review"
    return notify.Message(
        "approvals_reminder", msg("notify.reminder.subject", "zh", n=n),
        msg("notify.reminder.subject", "en", n=n),
        msg("notify.reminder.body", "zh", n=n, periods=listed,
            when=msg("notify.at", "zh", when=when)),
        msg("notify.reminder.body", "en", n=n, periods=", ".join(pending.periods),
            when=msg("notify.at", "en", when=when).capitalize() + "."),
        path)


def send_reminders(app: Any, day: dt.date | None = None,
                   now: dt.datetime | None = None) -> ReminderReport:
    """Remind every approver with something pending, once for `day` (default: today in the
    company's time zone)."""
    with app.app_context():
        return _send_reminders(app, day, now)


def _send_reminders(app: Any, day: dt.date | None, now: dt.datetime | None) -> ReminderReport:
    from server.db import session_scope

    now = now or dt.datetime.now(dt.UTC)
    tz = str(app.config.get("TIMEZONE") or "Asia/Shanghai")
    day = day or now.astimezone(zone(tz)).date()
    report = ReminderReport(day.isoformat())
    with session_scope(app) as db:
        ids = [u.id for u in approvers(db)]
    for user_id in ids:
        held: list[int] = []
        try:
            with session_scope(app) as db:
                user = db.get(User, user_id)
                pending = pending_approvals(db, user)
                if not pending.people:
                    report.nothing += 1
                    continue
                rows = notify.prepare(db, reminder_message(pending, now, tz), [user],
                                      once_key=f"reminder:{day.isoformat()}")
                db.flush()
                held = [r.id for r in rows if r.status == "retrying"]
                label = f"{user.label}: {pending.people}"
                channels = ", ".join(r.channel for r in rows)
        except IntegrityError:
            report.skipped.append(str(user_id))  # reminded today already (another run)
            continue
        for row_id in held:
            with session_scope(app) as db:
                row = db.get(notify.Notification, row_id)
                if row is not None and row.lease_owner == notify.WORKER:
                    notify.deliver(db, row, app.config)
        report.sent.append(f"{label} ({channels or 'no channel'})")
    return report


_RUN_DAYS: dict[int, str] = {}  # id(app) -> the local day this process ran the reminder


def run_scheduled(app: Any, now: dt.datetime | None = None) -> ReminderReport | None:
    """The workers' tick: once the local time has passed KPIBOOK_REMINDER_TIME, send today's
    reminders — once per process and day (the dedupe keys make it once across processes);
    what becomes pending later that day waits for tomorrow's reminder."""
    at = str(app.config.get("REMINDER_TIME") or "")
    if not at:
        return None
    now = now or dt.datetime.now(dt.UTC)
    local = now.astimezone(zone(str(app.config.get("TIMEZONE") or "Asia/Shanghai")))
    hour, minute = (int(x) for x in at.split(":"))
    if (local.hour, local.minute) < (hour, minute) or \
            _RUN_DAYS.get(id(app)) == local.date().isoformat():
        return None
    report = send_reminders(app, local.date(), now)
    _RUN_DAYS[id(app)] = local.date().isoformat()
    return report
