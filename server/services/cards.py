"""Delivery of notifications after their first attempt: retries of failed e-mails, webhook
posts and cards (DingTalk / Feishu / WeCom), HR's "retry now", the log HR reads on
/admin/notifications, and the workers' schedule that runs retries and the daily reminder.

A row to retry (status "retrying", next_attempt_at due) is claimed with one conditional
UPDATE — `lease_owner`/`lease_until` set only if no live lease holds it — committed before
the attempt: of several workers (or a worker and `kpibook notify retry`) exactly one wins
the row, on SQLite and PostgreSQL alike. A worker that dies mid-attempt leaves a lease that
runs out (notify.LEASE_SECONDS); the row is then due again. The sender is server/notify.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from server import notify
from server.models import Notification
from server.scoring.messages import both
from server.services.errors import Conflict, NotFound

log = logging.getLogger("kpibook.cards")

SCHEDULER_SECONDS = 60.0
BATCH = 50


@dataclass(frozen=True, slots=True)
class RetryReport:
    sent: int = 0
    retrying: int = 0  # failed again, another attempt is scheduled
    failed: int = 0  # given up

    def __add__(self, other: RetryReport) -> RetryReport:
        return RetryReport(self.sent + other.sent, self.retrying + other.retrying,
                           self.failed + other.failed)


def _claim(db: Session, row_id: int, now: dt.datetime, *, due_only: bool = True) -> bool:
    """Hold row `row_id` for this process if it waits for a retry and nobody holds it."""
    conditions = [Notification.id == row_id, Notification.status == "retrying",
                  or_(Notification.lease_until.is_(None), Notification.lease_until < now)]
    if due_only:
        conditions.append(Notification.next_attempt_at <= now)
    result = db.execute(update(Notification).where(*conditions).values(
        lease_owner=notify.WORKER,
        lease_until=now + dt.timedelta(seconds=notify.LEASE_SECONDS), updated_at=now)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def _attempt_claimed(app: Any, row_id: int) -> str:
    from server.db import session_scope

    with session_scope(app) as db:
        row = db.get(Notification, row_id)
        if row is None or row.lease_owner != notify.WORKER:
            return ""
        notify.deliver(db, row, app.config)
        return row.status


def retry_due(app: Any, now: dt.datetime | None = None, limit: int = BATCH) -> RetryReport:
    """One attempt of every notification whose retry is due (at most `limit`), each claimed
    first so that no other worker sends it at the same time."""
    from server.db import session_scope

    now = now or dt.datetime.now(dt.UTC)
    with session_scope(app) as db:
        due = list(db.scalars(select(Notification.id).where(
            Notification.status == "retrying", Notification.next_attempt_at <= now,
            or_(Notification.lease_until.is_(None), Notification.lease_until < now))
            .order_by(Notification.next_attempt_at, Notification.id).limit(limit)))
    report = RetryReport()
    for row_id in due:
        with session_scope(app) as db:
            if not _claim(db, row_id, now):
                continue  # another worker took it
        status = _attempt_claimed(app, row_id)
        report += RetryReport(status == "sent", status == "retrying", status == "failed")
    return report


def retry_now(app: Any, notification_id: int, by: str) -> Notification:
    """HR's "retry now": one attempt at once of a failed or waiting notification (a given-up
    one gets one more attempt). Conflict while another worker is sending it."""
    from server.db import session_scope

    now = dt.datetime.now(dt.UTC)
    with session_scope(app) as db:
        row = db.get(Notification, notification_id)
        if row is None:
            raise NotFound(both("notification.none"))
        if row.status == "sent":
            raise Conflict(both("notification.sent_already"))
        if not row.payload:
            raise Conflict(both("notification.no_payload"))
        if row.status == "failed":
            # given up (or never tried): one more attempt than the limit allows, HR asked
            limit = int(app.config.get("NOTIFY_MAX_ATTEMPTS", 5))
            row.attempts = min(row.attempts, max(limit - 1, 0))
            row.status, row.next_attempt_at = "retrying", now
            db.flush()
        if not _claim(db, notification_id, now, due_only=False):
            raise Conflict(both("notification.sending"))
    log.info("notification %s: retry now by %s", notification_id, by)
    _attempt_claimed(app, notification_id)
    with session_scope(app) as db:
        row = db.get(Notification, notification_id)
        db.expunge(row)
        return row


@dataclass(frozen=True, slots=True)
class NotificationLog:
    rows: list[Notification]
    failed: int  # given up
    retrying: int  # waiting for their next attempt
    channels: list[str]  # card channels configured ([[notify]])


def notification_log(db: Session, app_config: Any, status: str = "",
                     limit: int = 200) -> NotificationLog:
    """What HR reads on /admin/notifications: the latest deliveries (optionally of one status)
    and how many failed or wait for a retry."""
    query = select(Notification).order_by(Notification.id.desc()).limit(limit)
    if status in ("sent", "retrying", "failed"):
        query = query.where(Notification.status == status)
    counts = dict(db.execute(select(Notification.status, func.count())
                             .group_by(Notification.status)).all())
    channels = [f"{c.name} ({c.platform})" for c in notify.card_channels(app_config)]
    return NotificationLog(list(db.scalars(query)), counts.get("failed", 0),
                           counts.get("retrying", 0), channels)


# --- the schedule -------------------------------------------------------------------------------


def run_due(app: Any, now: dt.datetime | None = None) -> None:
    """One tick of the workers' schedule: due retries, then the daily reminder once its time
    has come (services/reminders.py makes it once a day across every worker)."""
    from server.services import reminders

    try:
        report = retry_due(app, now)
        if report.sent or report.retrying or report.failed:
            log.info("notification retries: %s sent, %s to retry, %s given up",
                     report.sent, report.retrying, report.failed)
    except Exception:  # noqa: BLE001 - the reminder still gets its turn
        log.exception("notification retries failed")
    try:
        reminders.run_scheduled(app, now)
    except Exception:  # noqa: BLE001 - the next tick tries again
        log.exception("daily reminder failed")


def start_notify_scheduler(app: Any, interval: float = SCHEDULER_SECONDS) -> threading.Event:
    """A daemon thread running `run_due` every `interval` seconds (gunicorn's workers and
    `kpibook demo` start it; the app factory never does). Set the returned event to stop."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            with app.app_context():
                run_due(app)

    threading.Thread(target=loop, name="kpibook-notify-scheduler", daemon=True).start()
    return stop
