"""Notifications: when something waits for someone, tell them by e-mail and the team's robot.

* E-mail over SMTP (KPIBOOK_SMTP_*), one message per recipient who has an address, bilingual.
* A webhook (KPIBOOK_WEBHOOK_URL): one JSON POST per event, shaped for a DingTalk
  (`{"msgtype": "markdown", ...}`) or Feishu (`{"msg_type": "text", ...}`) group robot, or the
  plain event (`KPIBOOK_WEBHOOK_STYLE=plain`) for other integrations.

Every message carries the link to the page where the waiting thing is done. Each attempt is a
Notification row (sent/failed, with the error text but never credentials). A failure is
logged and recorded, never raised: the approval or appeal that caused it is already stored.

Triggers: period events (server/workflow.py `on_period_event`: adjustments to approve, results
to acknowledge, a period returned or reopened) and feedback (an appeal to answer, an answer
to confirm), see `server/services/feedback.py`.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage

import requests
from flask import Flask, current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Notification, Role, User
from server.services import stored_run

log = logging.getLogger("kpibook.notify")


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

    def text(self, base_url: str) -> str:
        link = self.link(base_url)
        return (f"{self.body_zh}\n处理页面：{link}\n\n{self.body_en}\nOpen: {link}\n\n"
                f"-- kpibook")


def send(db: Session, message: Message, recipients: Iterable[User]) -> list[Notification]:
    """E-mail each recipient (with an address) and post once to the webhook."""
    cfg = current_app.config
    rows = []
    people = [u for u in recipients if u.active]
    if cfg.get("SMTP_HOST"):
        for user in people:
            if not user.email:
                continue
            rows.append(_attempt(db, message, "email", user.email,
                                 lambda u=user: _email(cfg, u.email, message)))
    if cfg.get("WEBHOOK_URL"):
        names = "、".join(u.label for u in people) or "-"
        rows.append(_attempt(db, message, "webhook", names,
                             lambda: _webhook(cfg, message, people)))
    db.flush()
    return rows


def _attempt(db: Session, message: Message, channel: str, recipient: str, action) -> Notification:
    row = Notification(kind=message.kind, channel=channel, recipient=recipient[:200],
                       subject=message.subject[:300],
                       link=message.link(current_app.config["BASE_URL"])[:500])
    try:
        action()
        row.status = "sent"
    except Exception as exc:  # noqa: BLE001 - any delivery failure is recorded, not raised
        row.status = "failed"
        # The exception's class and text (no credentials are put into either by smtplib or
        # requests for these calls); the webhook URL may hold a secret token: not logged.
        row.error = f"{type(exc).__name__}: {exc}"[:1000]
        log.warning("notification %s via %s failed: %s", message.kind, channel,
                    type(exc).__name__)
    db.add(row)
    return row


def _email(cfg: dict, to: str, message: Message) -> None:
    mail = EmailMessage()
    mail["From"] = cfg["MAIL_FROM"]
    mail["To"] = to
    mail["Subject"] = f"[kpibook] {message.subject}"
    mail.set_content(message.text(cfg["BASE_URL"]))
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
                 people: list[User]) -> dict[str, object]:
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


def _webhook(cfg: dict, message: Message, people: list[User]) -> None:
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
    path = f"/periods/{code}"
    with session_scope(app) as db:
        from server.models import PeriodEvent

        event = db.get(PeriodEvent, info.event_id)
        at = _at(event.created_at if event is not None else None)
        actor = _label(db, info.actor)
        if info.to_state == "in_review" and info.action in ("submit", "adjust",
                                                             "send_for_review", "reopen"):
            send(db, Message(
                "adjustments_to_approve", f"期间 {code} 有调整待审批",
                f"Adjustments of period {code} wait for approval",
                f"{actor} 已提交期间 {code} 的调整，请审批。{at.zh}",
                f"{actor} submitted the adjustments of period {code}; please approve "
                f"them.{at.en}", path), users_with_role(db, Role.EXECUTIVE.value))
        elif info.action == "publish":
            from server.models import Period
            from server.workflow import latest_run

            period = db.scalar(select(Period).where(Period.code == code))
            run = latest_run(db, period) if period else None
            ids = [t["employee_id"] for t in (stored_run.totals(run) if run else [])]
            send(db, Message(
                "result_to_acknowledge", f"期间 {code} 考核结果已发布",
                f"Your result of period {code} is published",
                f"您在期间 {code} 的考核结果已发布。请查看并确认，如有异议请提出申诉。{at.zh}",
                f"Your KPI result of period {code} is published. Please review it and "
                f"acknowledge it, or appeal with a reason.{at.en}", f"/me/{code}"),
                users_for_employees(db, ids))
        elif info.action in ("return", "reopen"):
            returned = info.action == "return"
            send(db, Message(
                "period_" + info.action, f"期间 {code} 已{'退回' if returned else '重新打开'}",
                f"Period {code} was {'returned' if returned else 'reopened'}",
                f"{actor}：{info.reason}{at.zh}", f"{actor}: {info.reason}{at.en}", path),
                users_with_role(db, Role.HR_ADMIN.value))


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
