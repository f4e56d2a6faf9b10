"""DingTalk work notification (工作通知) with an ActionCard (docs/notifications.md).

* `POST {url}/topapi/message/corpconversation/asyncsend_v2?access_token=`
  `{agent_id, userid_list: "id1,id2", msg: {msgtype: "action_card", action_card: {title,
  markdown, single_title, single_url}}}` -> `{errcode: 0, task_id}`;
* the send is asynchronous: an unknown user is reported by
  `POST {url}/topapi/message/corpconversation/getsendresult {agent_id, task_id}` ->
  `send_result: {invalid_user_id_list, forbidden_user_id_list, failed_user_id_list, ...}`.
Throttled: errcode 90018 / 90002 (QPS), 143103 / 143104 (people per minute).
The token is the org connector's (sync/org/dingtalk.py).
"""

from __future__ import annotations

from typing import Any

import requests

from sync.cards import Card, CardChannel, CardError
from sync.org import dingtalk as org_dingtalk
from sync.org.client import PlatformClient, Verdict

SEND = "/topapi/message/corpconversation/asyncsend_v2"
RESULT = "/topapi/message/corpconversation/getsendresult"
THROTTLE_CODES = {143103, 143104}
fetch_token = org_dingtalk._token


def classify(resp: requests.Response, doc: Any) -> Verdict:
    if "/v1.0/" in resp.url:
        return org_dingtalk.classify_new(resp, doc)
    verdict = org_dingtalk.classify_old(resp, doc)
    if verdict.kind == "error" and isinstance(doc, dict) and \
            doc.get("errcode") in THROTTLE_CODES:
        return Verdict("throttle", verdict.message)
    return verdict


def body(channel: CardChannel, user_id: str, card: Card) -> dict[str, Any]:
    text = f"### {card.title}\n\n{card.text}"
    if card.note:
        text += f"\n\n---\n\n{card.note}"
    return {"agent_id": int(channel.agent_id), "userid_list": user_id,
            "msg": {"msgtype": "action_card",
                    "action_card": {"title": card.title, "markdown": text,
                                    "single_title": card.button, "single_url": card.url}}}


def send(client: PlatformClient, channel: CardChannel, user_id: str, card: Card) -> str:
    base = channel.org.url()

    def auth(token: str) -> dict[str, Any]:
        return {"params": {"access_token": token}}

    reply = client.call("POST", base + SEND, "asyncsend_v2", auth,
                        json=body(channel, user_id, card))
    if reply.verdict.kind != "ok":
        raise CardError(channel.name, f"asyncsend_v2: {reply.verdict.message}", permanent=True)
    task = reply.doc.get("task_id")
    result = client.call("POST", base + RESULT, "getsendresult", auth,
                         json={"agent_id": int(channel.agent_id), "task_id": task})
    sent = (result.doc or {}).get("send_result") or {} if result.verdict.kind == "ok" else {}
    for key, why in (("invalid_user_id_list", "not a user of the organisation"),
                     ("forbidden_user_id_list", "blocked (too many messages or muted)"),
                     ("failed_user_id_list", "failed")):
        if user_id in (sent.get(key) or []):
            raise CardError(channel.name, f"user {user_id}: {why} ({key})",
                            permanent=key == "invalid_user_id_list")
    return str(task)
