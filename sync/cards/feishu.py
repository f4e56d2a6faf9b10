"""Feishu message with an interactive card (docs/notifications.md).

`POST {url}/open-apis/im/v1/messages?receive_id_type=user_id` (Bearer tenant_access_token)
`{receive_id, msg_type: "interactive", content: "<card JSON as a string>"}` ->
`{code: 0, data: {message_id}}`. The card: `header.title`, `elements` (a `div` of lark_md
text, an `action` with a `button` whose `url` opens the page, a `note`).
Errors: HTTP 400 code 230001 "invalid receive_id" and 230013 (the app is not available to
the user) no retry mends; HTTP 429 code 99991400 is throttling.
The token and error envelope are the org connector's (sync/org/feishu.py).
"""

from __future__ import annotations

import json
from typing import Any

import requests

from sync.cards import Card, CardChannel, refused
from sync.org import feishu as org_feishu
from sync.org.client import PlatformClient, Verdict

SEND = "/open-apis/im/v1/messages"
USER_CODES = {230013, 99992361, 99992364}  # no availability; cross-app / unknown ids
fetch_token = org_feishu._token


def classify(resp: requests.Response, doc: Any) -> Verdict:
    verdict = org_feishu.classify(resp, doc)
    code = doc.get("code") if isinstance(doc, dict) else None
    if verdict.kind == "error" and (code in USER_CODES or (
            code == 230001 and "receive_id" in str(doc.get("msg", "")))):
        return Verdict("denied", verdict.message)
    return verdict


def card_json(card: Card) -> dict[str, Any]:
    elements: list[dict[str, Any]] = [
        {"tag": "div", "text": {"tag": "lark_md", "content": card.text}},
        {"tag": "action", "actions": [
            {"tag": "button", "text": {"tag": "plain_text", "content": card.button},
             "type": "primary", "url": card.url}]}]
    if card.note:
        elements.append({"tag": "note", "elements": [{"tag": "plain_text",
                                                      "content": card.note}]})
    return {"config": {"wide_screen_mode": True},
            "header": {"title": {"tag": "plain_text", "content": card.title},
                       "template": "blue"},
            "elements": elements}


def send(client: PlatformClient, channel: CardChannel, user_id: str, card: Card) -> str:
    id_type = str(channel.org.options.get("user_id_type") or "user_id")
    reply = client.call(
        "POST", channel.org.url() + SEND, "im/v1/messages",
        lambda token: {"headers": {"Authorization": f"Bearer {token}"}},
        params={"receive_id_type": id_type},
        json={"receive_id": user_id, "msg_type": "interactive",
              "content": json.dumps(card_json(card), ensure_ascii=False)})
    if reply.verdict.kind != "ok":
        raise refused(channel, reply.verdict, user_id)
    return str(((reply.doc or {}).get("data") or {}).get("message_id") or "")
