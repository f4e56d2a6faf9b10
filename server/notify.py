"""Notifications: when something waits for someone, tell them — by e-mail, the team's robot
and a card on their own DingTalk / Feishu / WeCom.

* E-mail over SMTP (KPIBOOK_SMTP_*), one message per recipient who has an address, in both
  languages (theirs first).
* A webhook (KPIBOOK_WEBHOOK_URL): one JSON POST per event, shaped for a DingTalk
  (`{"msgtype": "markdown", ...}`) or Feishu (`{"msg_type": "text", ...}`) group robot, or the
  plain event (`KPIBOOK_WEBHOOK_STYLE=plain`) for other integrations. Personal messages (the
  daily reminder) are not posted to the group.
* Cards (sync/cards/): each `[[notify]]` channel of the connectors file sends one card per
  person, addressed by the platform user id the org sync recorded for their 工号
  (org_identities), in their language (User.lang, else KPIBOOK_LANG) with the other
  language as a footnote, and a button that opens the page.

Every message carries the absolute link (KPIBOOK_BASE_URL) to the page where the waiting
thing is done. Each delivery is a Notification row: `prepare` stores it (with what to send
again) held by this process, `deliver` makes one attempt and records sent / retrying (with
the next attempt's time, backing off) / failed (given up, or a failure no retry mends such
as a user the platform does not know). A failure is logged and recorded, never raised: the
approval or appeal that caused it is already stored. Retries are server/services/cards.py.

Triggers: period events (server/workflow.py `on_period_event`: adjustments to approve, results
to acknowledge, a period returned or reopened), feedback (an appeal to answer, an answer
to confirm, see `server/services/feedback.py`) and the daily reminder of pending approvals
(server/services/reminders.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import secrets
import smtplib
import socket
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import requests
from flask import Flask, current_app, has_app_context
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import Notification, OrgIdentity, Role, User
from server.services import stored_run

log = logging.getLogger("kpibook.notify")

# Which process holds a delivery while it is being attempted (services/cards.py claims rows
# for this owner); a lease outlives the longest attempt (a 10 s timeout and a token fetch).
WORKER = f"{socket.gethostname()[:20]}:{os.getpid()}:{secrets.token_hex(3)}"
LEASE_SECONDS = 300
PERSONAL = frozenset({"approvals_reminder"})  # to one person: never posted to the group robot


@dataclass(frozen=True, slots=True)
class Message:
    kind: str  # adjustments_to_approve | result_to_acknowledge | appeal_to_answer | ...
    subject_zh: str
    subject_en: str
    body_zh: str
    body_en: str
    path: str  # the page, e.g. /periods/2025-03

    def link(self, base_url: str) -> str:
        return base_url.rstrip("/") + self.path

    @property
    def subject(self) -> str:
        return f"{self.subject_zh} / {self.subject_en}"

    def subject_in(self, lang: str) -> str:
        return self.subject if lang != "en" else f"{self.subject_en} / {self.subject_zh}"

    def text(self, base_url: str, lang: str = "zh") -> str:
        link = self.link(base_url)
        zh = f"{self.body_zh}\n处理页面：{link}"
        en = f"{self.body_en}\nOpen: {link}"
        first, second = (en, zh) if lang == "en" else (zh, en)
        return f"{first}\n\n{second}\n\n-- kpibook"


def card_for(message: Message, lang: str, base_url: str) -> Any:
    """The card a person reads: their language, the other one as a footnote."""
    from server.scoring.messages import CATALOGUE, msg
    from sync.cards import Card

    key = f"notify.button.{message.kind}"
    button = msg(key if key in CATALOGUE else "notify.button.open", lang)
    if lang == "en":
        return Card(message.subject_en, message.body_en, button, message.link(base_url),
                    message.body_zh)
    return Card(message.subject_zh, message.body_zh, button, message.link(base_url),
                message.body_en)


def recipient_lang(user: User | None, cfg: Mapping[str, Any]) -> str:
    lang = (user.lang if user is not None else "") or str(cfg.get("LANG") or "zh")
    return "en" if lang.startswith("en") else "zh"


def card_channels(cfg: Mapping[str, Any]) -> tuple[Any, ...]:
    """The `[[notify]]` channels of the connectors file (KPIBOOK_SYNC_CONFIG); () without one
    or when it cannot be read (logged: notifications never break the action that sent them)."""
    from server.services.pull import config_path
    from sync.cards import load_card_channels
    from sync.errors import SyncError

    path = config_path(cfg)
    if not path:
        return ()
    try:
        return load_card_channels(path)
    except SyncError as exc:
        log.error("card channels: %s", exc)
        return ()


def _identities(db: Session, source: str, employee_ids: Iterable[str]) -> dict[str, str]:
    """工号 -> the platform user id the org sync of `source` last saw."""
    ids = sorted({e for e in employee_ids if e})
    if not ids:
        return {}
    rows = db.scalars(select(OrgIdentity).where(OrgIdentity.source == source,
                                                OrgIdentity.employee_id.in_(ids))
                      .order_by(OrgIdentity.seen_at))
    return {r.employee_id: r.user_id for r in rows}  # the latest seen wins


def send(db: Session, message: Message, recipients: Iterable[User]) -> list[Notification]:
    """E-mail each recipient (with an address), post once to the webhook, send each a card
    on every card channel; one attempt each now, failures wait for their retry."""
    rows = prepare(db, message, recipients)
    db.flush()
    cfg = current_app.config
    for row in rows:
        if row.lease_owner == WORKER:  # not the ones recorded as failed already
            deliver(db, row, cfg)
    db.flush()
    return rows


def prepare(db: Session, message: Message, recipients: Iterable[User],
            once_key: str = "") -> list[Notification]:
    """The Notification rows of `message`, held by this process (not yet attempted).
    `once_key`: each row's dedupe_key is "<once_key>:<user id>:<channel>", so that a message
    meant to go out once (the daily reminder) cannot be stored twice."""
    cfg = current_app.config
    rows: list[Notification] = []
    people = [u for u in recipients if u.active]
    payload = {"message": dataclasses.asdict(message)}

    def row(channel: str, recipient: str, user: User | None, address: dict[str, Any],
            error: str = "") -> None:
        now = dt.datetime.now(dt.UTC)
        item = Notification(
            kind=message.kind, channel=channel[:20], recipient=recipient[:200],
            subject=message.subject_in(recipient_lang(user, cfg))[:300],
            link=message.link(cfg["BASE_URL"])[:500], user_id=user.id if user else None,
            payload={**payload, "address": address, "lang": recipient_lang(user, cfg)},
            attempts=0, status="retrying", next_attempt_at=now, lease_owner=WORKER,
            lease_until=now + dt.timedelta(seconds=LEASE_SECONDS), updated_at=now,
            dedupe_key=f"{once_key}:{user.id if user else 0}:{channel}"[:120]
            if once_key else None)
        if error:  # nothing to attempt: recorded for HR as it is
            item.status, item.error, item.next_attempt_at = "failed", error, None
            item.lease_owner, item.lease_until = "", None
        db.add(item)
        rows.append(item)

    if cfg.get("SMTP_HOST"):
        for user in people:
            if user.email:
                row("email", user.email, user, {"email": user.email})
    if cfg.get("WEBHOOK_URL") and message.kind not in PERSONAL:
        row("webhook", "、".join(u.label for u in people) or "-", None,
            {"people": [[u.label, u.name] for u in people]})
    for channel in card_channels(cfg):
        if not channel.wants(message.kind):
            continue
        linked = [u for u in people if u.employee_id]  # accounts of people on the roster
        ids = _identities(db, channel.org.name, [u.employee_id for u in linked])
        for user in linked:
            uid = ids.get(user.employee_id)
            if uid is None:
                row(channel.name, user.label, user, {},
                    f"{user.label} ({user.employee_id}) has no {channel.platform} account known "
                    f"to the org sync of {channel.org.name}")
            else:
                row(channel.name, f"{user.label} ({uid})", user, {"user_id": uid})
    return rows


def deliver(db: Session, row: Notification, cfg: Mapping[str, Any]) -> Notification:
    """One attempt of a held row, recorded on it (and its lease released)."""
    from sync.cards import CardError

    now = dt.datetime.now(dt.UTC)
    row.attempts = (row.attempts or 0) + 1
    permanent = False
    try:
        _attempt(db, row, cfg)
    except Exception as exc:  # noqa: BLE001 - any delivery failure is recorded, not raised
        permanent = isinstance(exc, CardError) and exc.permanent
        # The exception's class and text (no credentials are put into either by smtplib,
        # requests or the card clients); the webhook URL may hold a secret token: not logged.
        row.error = f"{type(exc).__name__}: {exc}"[:1000]
        log.warning("notification %s via %s failed (attempt %s): %s", row.kind, row.channel,
                    row.attempts, type(exc).__name__)
        if permanent or row.attempts >= int(cfg.get("NOTIFY_MAX_ATTEMPTS", 5)):
            row.status, row.next_attempt_at = "failed", None
        else:
            wait = int(cfg.get("NOTIFY_RETRY_SECONDS", 60)) * 2 ** (row.attempts - 1)
            row.status, row.next_attempt_at = "retrying", now + dt.timedelta(seconds=wait)
    else:
        row.status, row.error, row.next_attempt_at = "sent", "", None
    row.lease_owner, row.lease_until, row.updated_at = "", None, now
    return row


def _attempt(db: Session, row: Notification, cfg: Mapping[str, Any]) -> None:
    message = Message(**row.payload["message"])
    address = row.payload.get("address") or {}
    lang = row.payload.get("lang") or "zh"
    if row.channel == "email":
        _email(cfg, address["email"], message, lang)
    elif row.channel == "webhook":
        people = [_Person(label, name) for label, name in address.get("people") or []]
        _webhook(cfg, message, people)
    else:
        from sync.cards import CardError, send_card

        channel = next((c for c in card_channels(cfg) if c.name == row.channel), None)
        if channel is None:
            raise CardError(row.channel, "no such [[notify]] channel in the connectors file "
                                         "(any more)")
        uid = address.get("user_id") or _platform_user(db, row, channel.org.name)
        if not uid:
            raise CardError(row.channel, row.error or "no platform account known",
                            permanent=True)
        send_card(channel, uid, card_for(message, lang, cfg["BASE_URL"]))


def _platform_user(db: Session, row: Notification, source: str) -> str:
    """The platform id of the row's person now (an org sync may have linked them since)."""
    user = db.get(User, row.user_id) if row.user_id else None
    if user is None or not user.employee_id:
        return ""
    uid = _identities(db, source, [user.employee_id]).get(user.employee_id, "")
    if uid:
        row.payload = {**row.payload, "address": {"user_id": uid}}
        row.recipient = f"{user.label} ({uid})"[:200]
    return uid


@dataclass(frozen=True, slots=True)
class _Person:
    label: str
    name: str


def _email(cfg: Mapping[str, Any], to: str, message: Message, lang: str = "zh") -> None:
    mail = EmailMessage()
    mail["From"] = cfg["MAIL_FROM"]
    mail["To"] = to
    mail["Subject"] = f"[kpibook] {message.subject_in(lang)}"
    mail.set_content(message.text(cfg["BASE_URL"], lang))
    host, port = cfg["SMTP_HOST"], int(cfg["SMTP_PORT"])
    if cfg.get("SMTP_SSL"):
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=10,
                                              context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=10)
    with smtp:
        if cfg.get("SMTP_STARTTLS"):
            smtp.starttls(context=ssl.create_default_context())
        if cfg.get("SMTP_USER"):
            smtp.login(cfg["SMTP_USER"], cfg["SMTP_PASSWORD"])
        smtp.send_message(mail)


def webhook_body(style: str, message: Message, base_url: str,
                 people: list[Any]) -> dict[str, object]:
    link = message.link(base_url)
    who = "、".join(u.label for u in people)
    if style == "feishu":
        return {"msg_type": "text",
                "content": {"text": f"{message.subject_zh}\n{message.body_zh}\n"
                                    f"{'待办人：' + who if who else ''}\n{link}"}}
    if style == "plain":
        return {"kind": message.kind, "subject": message.subject, "text": message.body_en,
                "text_zh": message.body_zh, "link": link, "recipients": [u.name for u in people]}
    return {"msgtype": "markdown",
            "markdown": {"title": message.subject_zh,
                         "text": f"### {message.subject_zh}\n\n{message.body_zh}\n\n"
                                 f"{'待办人：' + who if who else ''}\n\n[打开页面]({link})"}}


def _webhook(cfg: Mapping[str, Any], message: Message, people: list[Any]) -> None:
    body = webhook_body(cfg.get("WEBHOOK_STYLE", "dingtalk"), message, cfg["BASE_URL"], people)
    resp = requests.post(cfg["WEBHOOK_URL"], data=json.dumps(body, ensure_ascii=False)
                         .encode("utf-8"),
                         headers={"Content-Type": "application/json; charset=utf-8"},
                         timeout=10)
    resp.raise_for_status()
    # DingTalk and Feishu answer 200 with an error code in the body.
    try:
        answer = resp.json()
    except ValueError:
        return
    code = answer.get("errcode", answer.get("code", 0)) if isinstance(answer, dict) else 0
    if code not in (0, None):
        raise RuntimeError(f"robot answered {code}: {answer.get('errmsg') or answer.get('msg')}")


# --- who is told what ----------------------------------------------------------------------


def users_with_role(db: Session, role: str) -> list[User]:
    return list(db.scalars(select(User).where(User.role == role, User.active.is_(True))
                           .order_by(User.name)))


def users_for_employees(db: Session, employee_ids: Iterable[str]) -> list[User]:
    ids = sorted(set(employee_ids))
    if not ids:
        return []
    return list(db.scalars(select(User).where(User.employee_id.in_(ids),
                                              User.active.is_(True))))


def on_period_event(info) -> None:  # noqa: ANN001 - workflow.PeriodEventInfo (import cycle)
    """Subscriber of server.workflow.on_period_event (runs after the commit)."""
    if not has_app_context():
        return
    from server.db import session_scope

    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    code = info.period_code
    with session_scope(app) as db:
        from server.models import PeriodEvent

        # a month with several scorecards: the links open this scorecard's pages, and the
        # words name it
        card = _scorecard_of_event(db, info)
        query = f"?scorecard={card}" if card else ""
        path = f"/periods/{code}{query}"
        if card:
            code = f"{code} {card}"
        event = db.get(PeriodEvent, info.event_id)
        at = _at(event.created_at if event is not None else None)
        actor = _label(db, info.actor)
        if info.to_state == "in_review" and info.action in ("submit", "adjust",
                                                             "send_for_review", "reopen"):
            # executives approve each submission on the review page (docs/review.md)
            send(db, Message(
                "adjustments_to_approve", f"期间 {code} 有调整待审批",
                f"Adjustments of period {code} wait for approval",
                f"{actor} 已提交期间 {code} 的调整，请审批。{at.zh}",
                f"{actor} submitted the adjustments of period {code}; please approve "
                f"them.{at.en}", f"/review/{info.period_code}{query}"),
                users_with_role(db, Role.EXECUTIVE.value))
        elif info.action == "publish":
            from server.models import Period
            from server.workflow import latest_run

            period = db.get(Period, info.period_id) if info.period_id else None
            run = latest_run(db, period) if period else None
            ids = [t["employee_id"] for t in (stored_run.totals(run) if run else [])]
            send(db, Message(
                "result_to_acknowledge", f"期间 {code} 考核结果已发布",
                f"Your result of period {code} is published",
                f"您在期间 {code} 的考核结果已发布。请查看并确认，如有异议请提出申诉。{at.zh}",
                f"Your KPI result of period {code} is published. Please review it and "
                f"acknowledge it, or appeal with a reason.{at.en}", f"/me/{info.period_code}"),
                users_for_employees(db, ids))
        elif info.action in ("return", "reopen"):
            returned = info.action == "return"
            send(db, Message(
                "period_" + info.action, f"期间 {code} 已{'退回' if returned else '重新打开'}",
                f"Period {code} was {'returned' if returned else 'reopened'}",
                f"{actor}：{info.reason}{at.zh}", f"{actor}: {info.reason}{at.en}", path),
                users_with_role(db, Role.HR_ADMIN.value))


def _scorecard_of_event(db, info) -> str:  # noqa: ANN001 - Session, workflow.PeriodEventInfo
    """The event's scorecard when its month holds several ("" when it is the only one)."""
    from server.models import Period

    period = db.get(Period, info.period_id) if info.period_id else None
    if period is None:
        return ""
    others = db.scalar(select(func.count()).select_from(Period).where(
        Period.code == period.code, Period.id != period.id))
    return period.scorecard if others else ""


@dataclass(frozen=True, slots=True)
class _At:
    zh: str
    en: str


def _at(when) -> _At:  # noqa: ANN001 - a stored datetime or None
    """" (时间：…)" / " (at …)" in the company's time zone, or nothing."""
    if when is None:
        return _At("", "")
    from server.display import local_time
    from server.scoring.messages import msg

    text = local_time(when, current_app.config.get("TIMEZONE", ""), zone_label=True)
    return _At(f"（{msg('notify.at', 'zh', when=text)}）",
               f" ({msg('notify.at', 'en', when=text)})")


def _label(db: Session, login: str) -> str:
    """The display name of the account `login` (the login itself for "system")."""
    user = db.scalar(select(User).where(User.name == login))
    return user.label if user is not None else login


def install(app: Flask) -> None:
    from server import workflow

    workflow.subscribe(on_period_event)


def _send_now(kind: str, subject_zh: str, subject_en: str, body_zh: str, body_en: str,
              path: str, recipients_of) -> None:  # noqa: ANN001
    """Send from a request, after its commit, in a session of its own."""
    if not has_app_context():
        return
    from server.db import session_scope

    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        with session_scope(app) as db:
            send(db, Message(kind, subject_zh, subject_en, body_zh, body_en, path),
                 recipients_of(db))
    except Exception:  # noqa: BLE001 - see the module docstring
        log.exception("notification %s failed", kind)


def appeal_created(appeal_id: int, period_code: str, who: str,
                   created_at=None) -> None:  # noqa: ANN001 - datetime
    at = _at(created_at)
    _send_now("appeal_to_answer", f"期间 {period_code} 有新的申诉待答复",
              f"An appeal of period {period_code} waits for an answer",
              f"{who} 对期间 {period_code} 的考核结果提出了申诉，请答复。{at.zh}",
              f"{who} appealed against their result of period {period_code}; please "
              f"answer.{at.en}",
              f"/appeals/{appeal_id}", lambda db: users_with_role(db, Role.HR_ADMIN.value))


def appeal_answered(appeal_id: int, answered_at=None) -> None:  # noqa: ANN001 - datetime
    from server.models import Appeal

    def recipients(db: Session) -> list[User]:
        item = db.get(Appeal, appeal_id)
        return users_for_employees(db, [item.employee_id]) if item else []

    at = _at(answered_at)
    _send_now("answer_to_confirm", "您的申诉已答复，请确认", "Your appeal was answered",
              f"人力资源部已答复您的申诉，请查看并确认。{at.zh}",
              f"HR answered your appeal; please read and confirm it.{at.en}",
              f"/appeals/{appeal_id}", recipients)
