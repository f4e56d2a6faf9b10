"""WeCom app message with a template card (docs/notifications.md).

`POST {url}/cgi-bin/message/send?access_token=` `{touser: "id1|id2", msgtype:
"template_card", agentid, template_card: {card_type: "text_notice", source, main_title:
{title}, sub_title_text, quote_area: {type: 0, quote_text}, jump_list: [{type: 1, title, url}],
card_action: {type: 1, url}}}` -> `{errcode: 0, invaliduser: "id1|id2", msgid}`: users the
platform does not know come back in `invaliduser` (errcode 81013 when nobody was valid).
Throttled: 45009, 45033.
The token and error envelope are the org connector's (sync/org/wecom.py).
"""

from __future__ import annotations

from typing import Any

import requests

from sync.cards import Card, CardChannel, CardError, refused
from sync.org import wecom as org_wecom
from sync.org.client import PlatformClient, Verdict

SEND = "/cgi-bin/message/send"
USER_CODES = {81013, 40003, 60111}  # all receivers invalid; invalid userid; no such user
fetch_token = org_wecom._token


def classify(resp: requests.Response, doc: Any) -> Verdict:
    verdict = org_wecom.classify(resp, doc)
    if verdict.kind == "error" and isinstance(doc, dict) and doc.get("errcode") in USER_CODES:
        return Verdict("denied", verdict.message)
    return verdict


def body(channel: CardChannel, user_id: str, card: Card) -> dict[str, Any]:
    return {"touser": user_id, "msgtype": "template_card", "agentid": int(channel.agent_id),
            "template_card": {
                "card_type": "text_notice",
                "source": {"desc": "kpibook", "desc_color": 0},
                # WeCom's client folds titles over ~26 characters and texts over ~112
                # (its recommendation); the API takes them whole
                "main_title": {"title": card.title},
                "sub_title_text": card.text,
                "quote_area": {"type": 0, "quote_text": card.note},
                "jump_list": [{"type": 1, "title": card.button, "url": card.url}],
                "card_action": {"type": 1, "url": card.url}},
            "enable_duplicate_check": 0}


def send(client: PlatformClient, channel: CardChannel, user_id: str, card: Card) -> str:
    reply = client.call("POST", channel.org.url() + SEND, "message/send",
                        lambda token: {"params": {"access_token": token}},
                        json=body(channel, user_id, card))
    if reply.verdict.kind != "ok":
        raise refused(channel, reply.verdict, user_id)
    invalid = reply.doc.get("invaliduser") or ""
    names = invalid.split("|") if isinstance(invalid, str) else list(invalid)
    if user_id in names:
        raise CardError(channel.name, f"user {user_id} is not a member of the app "
                                      "(invaliduser)", permanent=True)
    return str(reply.doc.get("msgid") or "")
