"""Work notifications and cards on the simulated platforms: what each API receives is kept
in the simulator's inbox and shown the way the platform would show it.

Each platform simulator mixes in its class below (DingTalk ActionCard work notifications,
Feishu interactive cards, WeCom template cards — shapes in sync/cards/). Every simulator
also serves

  GET /_sim/cards         an HTML preview of every card received (newest first)
  GET /_sim/cards/{n}     card n (1 = the first received), as the person would see it

Tests read `inbox` (ReceivedCard), make the next N sends fail with `fail_cards(n)` or
answer the platform's rate limit with `throttle_cards(n)`; a user id the organisation does
not know (or who left) is refused the platform's way (getsendresult's invalid list,
Feishu 230001 invalid receive_id, WeCom invaliduser).
"""

from __future__ import annotations

import html
import itertools
import json
import secrets
import threading
from dataclasses import dataclass
from typing import Any, ClassVar

from sync.simulators.platform import SimAnswer, SimRequest, route


@dataclass(frozen=True, slots=True)
class ReceivedCard:
    n: int
    platform: str
    user_id: str
    title: str
    text: str
    button: str
    url: str
    note: str
    body: dict[str, Any]  # the request body as received


class CardInbox:
    """The inbox and the preview pages; the platform mixins below add the send API."""

    platform: ClassVar[str]
    CARD_PATH: ClassVar[str] = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inbox: list[ReceivedCard] = []
        self._card_lock = threading.Lock()
        self._card_numbers = itertools.count(1)

    def receive(self, user_id: str, title: str, text: str, button: str, url: str, note: str,
                body: dict[str, Any]) -> ReceivedCard:
        with self._card_lock:
            card = ReceivedCard(next(self._card_numbers), self.platform, user_id, title, text,
                                button, url, note, body)
            self.inbox.append(card)
        return card

    def cards_for(self, user_id: str) -> list[ReceivedCard]:
        return [c for c in list(self.inbox) if c.user_id == user_id]

    def known_user(self, user_id: str) -> bool:
        person = self.org.person(user_id)  # type: ignore[attr-defined]
        return person is not None and person.left_at is None and \
            self.org.visible_person(user_id)  # type: ignore[attr-defined]

    def fail_cards(self, times: int = 1, status: int = 500) -> None:
        """The next `times` card sends answer HTTP `status` (an outage)."""
        self.fail(self.CARD_PATH, SimAnswer(status, {"error": "simulated outage"}),  # type: ignore[attr-defined]
                  times)

    def throttle_cards(self, times: int = 1) -> None:
        """The next `times` card sends answer the platform's rate limit."""
        self.throttle(self.CARD_PATH, times)  # type: ignore[attr-defined]

    # -- preview
    @route("GET", "/_sim/cards")
    def card_list(self, req: SimRequest) -> SimAnswer:
        cards = "\n".join(render_card(c) for c in reversed(list(self.inbox))) or \
            '<p class="empty">No cards received yet.</p>'
        return _page(f"{self.platform}: cards received", cards)

    @route("GET", "/_sim/cards/{n}")
    def card_page(self, req: SimRequest) -> SimAnswer:
        found = next((c for c in list(self.inbox) if str(c.n) == req.params["n"]), None)
        if found is None:
            return _page("not found", '<p class="empty">No such card.</p>', 404)
        return _page(f"{self.platform}: card {found.n}", render_card(found))


# --- DingTalk: work notification (工作通知) with an ActionCard ---------------------------------


class DingTalkCards(CardInbox):
    CARD_PATH = "/oapi/topapi/message/corpconversation/asyncsend_v2"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.send_results: dict[int, dict[str, list[str]]] = {}

    @route("POST", "/oapi/topapi/message/corpconversation/asyncsend_v2")
    def asyncsend_v2(self, req: SimRequest) -> SimAnswer:
        if (refused := self._old_token(req)) is not None:  # type: ignore[attr-defined]
            return refused
        body = req.json() or {}
        msg = body.get("msg") or {}
        users = [u for u in str(body.get("userid_list") or "").split(",") if u]
        if not str(body.get("agent_id") or "").isdigit():
            return self.old(400002, "无效的参数 agent_id")  # type: ignore[attr-defined]
        if not users or msg.get("msgtype") != "action_card":
            return self.old(400002, "无效的参数 userid_list / msg")  # type: ignore[attr-defined]
        card = msg.get("action_card") or {}
        if not card.get("single_url") or not card.get("single_title"):
            return self.old(400002, "action_card 需要 single_title 和 single_url")  # type: ignore[attr-defined]
        invalid = [u for u in users if not self.known_user(u)]
        for user in users:
            if user not in invalid:
                text = str(card.get("markdown") or "")
                main, _, note = text.partition("\n\n---\n\n")
                self.receive(user, str(card.get("title") or ""),
                             main.split("\n\n", 1)[-1], str(card["single_title"]),
                             str(card["single_url"]), note, body)
        task = 10_000 + len(self.send_results)
        self.send_results[task] = {"invalid_user_id_list": invalid,
                                   "read_user_id_list": [],
                                   "unread_user_id_list": [u for u in users
                                                           if u not in invalid]}
        return self.old(0, "ok", task_id=task)  # type: ignore[attr-defined]

    @route("POST", "/oapi/topapi/message/corpconversation/getsendresult")
    def getsendresult(self, req: SimRequest) -> SimAnswer:
        if (refused := self._old_token(req)) is not None:  # type: ignore[attr-defined]
            return refused
        result = self.send_results.get(int((req.json() or {}).get("task_id") or 0))
        if result is None:
            return self.old(400002, "无效的参数 task_id")  # type: ignore[attr-defined]
        return self.old(0, "ok", send_result={  # type: ignore[attr-defined]
            "invalid_user_id_list": result["invalid_user_id_list"],
            "forbidden_user_id_list": [], "failed_user_id_list": [],
            "read_user_id_list": result["read_user_id_list"],
            "unread_user_id_list": result["unread_user_id_list"], "forbidden_list": []})


# --- Feishu: im/v1/messages with an interactive card ------------------------------------------


class FeishuCards(CardInbox):
    CARD_PATH = "/open-apis/im/v1/messages"

    @route("POST", "/open-apis/im/v1/messages")
    def create_message(self, req: SimRequest) -> SimAnswer:
        if (refused := self._auth(req)) is not None:  # type: ignore[attr-defined]
            return refused
        kind = req.query.get("receive_id_type") or ""
        if kind not in ("open_id", "user_id", "union_id", "email", "chat_id"):
            return self.error(400, 99992402, "field validation failed: receive_id_type")  # type: ignore[attr-defined]
        body = req.json() or {}
        if body.get("msg_type") != "interactive" or not isinstance(body.get("content"), str):
            return self.error(400, 230001, "Your request contains an invalid request "  # type: ignore[attr-defined]
                                           "parameter, ext=invalid content.")
        try:
            card = json.loads(body["content"])
        except ValueError:
            return self.error(400, 230001, "Your request contains an invalid request "  # type: ignore[attr-defined]
                                           "parameter, ext=content is not JSON.")
        person = self._person_by(str(body.get("receive_id") or ""), kind)  # type: ignore[attr-defined]
        if person is None or not self.known_user(person.userid):
            return self.error(400, 230001, "Your request contains an invalid request "  # type: ignore[attr-defined]
                                           "parameter, ext=invalid receive_id.")
        elements = card.get("elements") or []
        text = next((e["text"]["content"] for e in elements if e.get("tag") == "div"), "")
        button = next((a for e in elements if e.get("tag") == "action"
                       for a in e.get("actions") or [] if a.get("tag") == "button"), {})
        note = next((" ".join(x.get("content", "") for x in e.get("elements") or [])
                     for e in elements if e.get("tag") == "note"), "")
        title = ((card.get("header") or {}).get("title") or {}).get("content", "")
        self.receive(person.userid, title, text, (button.get("text") or {}).get("content", ""),
                     str(button.get("url") or ""), note, body)
        message_id = "om_" + secrets.token_hex(16)
        return self.ok({"message_id": message_id, "msg_type": "interactive",  # type: ignore[attr-defined]
                        "chat_id": "oc_" + secrets.token_hex(8),
                        "sender": {"id": "cli_kpibook", "id_type": "app_id",
                                   "sender_type": "app"}})


# --- WeCom: message/send with a template card -------------------------------------------------


class WeComCards(CardInbox):
    CARD_PATH = "/cgi-bin/message/send"

    @route("POST", "/cgi-bin/message/send")
    def message_send(self, req: SimRequest) -> SimAnswer:
        if (refused := self._auth(req)) is not None:  # type: ignore[attr-defined]
            return refused
        body = req.json() or {}
        if not str(body.get("agentid") or "").isdigit():
            return self.answer_of(40056, "invalid agentid")  # type: ignore[attr-defined]
        card = body.get("template_card") or {}
        if body.get("msgtype") != "template_card" or card.get("card_type") != "text_notice" \
                or not (card.get("card_action") or {}).get("url"):
            return self.answer_of(40008, "invalid message type")  # type: ignore[attr-defined]
        users = [u for u in str(body.get("touser") or "").split("|") if u]
        invalid = [u for u in users if not self.known_user(u)]
        if users and len(invalid) == len(users):
            return self.answer_of(81013, "user & party & tag all invalid",  # type: ignore[attr-defined]
                                  invaliduser="|".join(invalid))
        jump = (card.get("jump_list") or [{}])[0]
        for user in users:
            if user not in invalid:
                self.receive(user, str((card.get("main_title") or {}).get("title") or ""),
                             str(card.get("sub_title_text") or ""),
                             str(jump.get("title") or ""), str(card["card_action"]["url"]),
                             str((card.get("quote_area") or {}).get("quote_text") or ""), body)
        return self.answer_of(0, "ok", invaliduser="|".join(invalid), invalidparty="",  # type: ignore[attr-defined]
                              invalidtag="", unlicenseduser="",
                              msgid=secrets.token_hex(12),
                              response_code=secrets.token_hex(16))


# --- the preview page ---------------------------------------------------------------------------


_STYLE = """
body{font-family:"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;background:#f2f3f5;
margin:0;padding:24px;color:#1f2329}
h1{font-size:15px;color:#646a73;font-weight:normal;margin:0 0 16px}
.card{width:380px;background:#fff;border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.12);
margin:0 0 20px;overflow:hidden}
.meta{font-size:12px;color:#8f959e;margin:0 0 6px}
.empty{color:#8f959e}
.dt .title{font-weight:600;font-size:16px;padding:16px 16px 8px}
.dt .text{padding:0 16px 12px;font-size:14px;line-height:1.6;white-space:pre-wrap}
.dt .note{padding:8px 16px 12px;font-size:12px;color:#8f959e;border-top:1px solid #eee;
white-space:pre-wrap}
.dt .btn{display:block;border-top:1px solid #eee;text-align:center;padding:12px;color:#3370ff;
text-decoration:none;font-size:14px}
.fs .header{background:#3370ff;color:#fff;padding:12px 16px;font-weight:600;font-size:16px}
.fs .text{padding:12px 16px;font-size:14px;line-height:1.6;white-space:pre-wrap}
.fs .actions{padding:0 16px 12px}
.fs .btn{display:inline-block;background:#3370ff;color:#fff;border-radius:6px;padding:6px 16px;
text-decoration:none;font-size:14px}
.fs .note{padding:0 16px 14px;font-size:12px;color:#8f959e;white-space:pre-wrap}
.wc .source{padding:14px 16px 0;font-size:12px;color:#8f959e}
.wc .title{padding:8px 16px 0;font-size:17px;font-weight:600}
.wc .quote{margin:0 16px 12px;padding:8px 10px;background:#f5f6f7;border-radius:4px;
font-size:12px;color:#8f959e;white-space:pre-wrap}
.wc .text{padding:12px 16px;font-size:14px;line-height:1.6;color:#434343;white-space:pre-wrap}
.wc .jump{display:block;padding:10px 16px;border-top:1px solid #eee;color:#2d6cdf;
text-decoration:none;font-size:14px}
.wc .more{display:block;padding:10px 16px;border-top:1px solid #eee;color:#1f2329;font-size:14px;
text-decoration:none}
"""


def render_card(card: ReceivedCard) -> str:
    """The card as the platform's client draws it (approximately), every value escaped."""
    e = html.escape
    meta = f'<p class="meta">#{card.n} {e(card.platform)} → {e(card.user_id)}</p>'
    if card.platform == "dingtalk":
        inner = (f'<div class="card dt"><div class="title">{e(card.title)}</div>'
                 f'<div class="text">{e(card.text)}</div>'
                 + (f'<div class="note">{e(card.note)}</div>' if card.note else "")
                 + f'<a class="btn" href="{e(card.url)}">{e(card.button)}</a></div>')
    elif card.platform == "feishu":
        inner = (f'<div class="card fs"><div class="header">{e(card.title)}</div>'
                 f'<div class="text">{e(card.text)}</div><div class="actions">'
                 f'<a class="btn" href="{e(card.url)}">{e(card.button)}</a></div>'
                 + (f'<div class="note">{e(card.note)}</div>' if card.note else "")
                 + "</div>")
    else:
        inner = (f'<div class="card wc"><div class="source">kpibook</div>'
                 f'<div class="title">{e(card.title)}</div>'
                 f'<div class="text">{e(card.text)}</div>'
                 + (f'<div class="quote">{e(card.note)}</div>' if card.note else "")
                 + f'<a class="jump" href="{e(card.url)}">{e(card.button)}</a>'
                 f'<a class="more" href="{e(card.url)}">查看详情 ›</a></div>')
    return f'<section data-card="{card.n}">{meta}{inner}</section>'


def _page(title: str, content: str, status: int = 200) -> SimAnswer:
    doc = (f'<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>'
           f'{html.escape(title)}</title><style>{_STYLE}</style></head><body>'
           f'<h1>{html.escape(title)}</h1>{content}</body></html>')
    return SimAnswer(status, None, {"Content-Type": "text/html; charset=utf-8"},
                     raw=doc.encode("utf-8"))
