"""Publish -> acknowledge / appeal -> answer (with an adjustment) -> confirm, with real e-mail
(aiosmtpd on 127.0.0.1) and a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.web.conftest import OWN, csrf_from, make_world, sign_in


@pytest.fixture
def smtp_inbox():
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
            import email
            import email.policy

            mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.messages.append((envelope.rcpt_tos,
                                  f"{mail['Subject']}\n{mail.get_body().get_content()}"))
            return "250 OK"

    import socket

    with socket.socket() as probe:  # a free port (aiosmtpd's start-up check cannot use 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.port = port
    yield inbox
    controller.stop()


@pytest.fixture
def robot():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server API
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            answer = b'{"errcode": 0, "errmsg": "ok"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/robot/send?access_token=t", received
    server.shutdown()
    server.server_close()


def _post(client, page_url: str, url: str, **form):
    page = client.get(page_url)
    return client.post(url, data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                  **form})


def _mails_to(inbox, address: str) -> list[str]:
    return [text for tos, text in inbox.messages if address in tos]


def test_publish_appeal_answer_confirm_with_notifications(app, smtp_inbox, robot):
    url, robot_calls = robot
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_inbox.port,
                      WEBHOOK_URL=url, WEBHOOK_STYLE="dingtalk")
    make_world(app, state="approved")
    from server.db import session_scope
    from server.models import Appeal

    with session_scope(app) as s:  # start without the fixture's appeals
        for a in s.query(Appeal):
            s.delete(a)
    hr, manager, other = app.test_client(), app.test_client(), app.test_client()
    sign_in(hr, "hr")
    sign_in(manager, OWN)
    sign_in(other, "M1002")

    # HR publishes: each manager is told, with the link to their result
    resp = _post(hr, "/periods/2025-03", "/periods/2025-03/transition", action="publish",
                 confirmed="yes")
    assert resp.status_code == 302
    mail = _mails_to(smtp_inbox, "zhang@example.com")
    assert mail and "https://kpi.example.com:8443/me/2025-03" in mail[0]
    assert any(c["msgtype"] == "markdown" and "/me/2025-03" in c["markdown"]["text"]
               for c in robot_calls)

    # the other manager acknowledges; the total they saw is recorded
    assert _post(other, "/me/2025-03", "/me/2025-03/acknowledge").status_code == 302
    assert "您已确认本期结果" in other.get("/me/2025-03").get_data(as_text=True)

    # our manager sees total, breakdown and appeals with a reason
    page = manager.get("/me/2025-03").get_data(as_text=True)
    assert "90" in page and "生产效率" in page
    assert _post(manager, "/me/2025-03", "/me/2025-03/appeal", reason="").status_code == 400
    assert _post(manager, "/me/2025-03", "/me/2025-03/appeal",
                 reason="三月设备停机两天，产量不应计入").status_code == 302
    with session_scope(app) as s:
        appeal_id = s.query(Appeal).one().id
    assert _mails_to(smtp_inbox, "hr@example.com"), "HR is told an appeal waits"
    assert f"/appeals/{appeal_id}" in _mails_to(smtp_inbox, "hr@example.com")[-1]

    # HR answers with an adjustment (recorded like any adjustment, reason required)
    resp = _post(hr, f"/appeals/{appeal_id}", f"/appeals/{appeal_id}/answer",
                 answer="已核实停机记录，效率指标加 2 分。", indicator="PROD_EFF", points="2",
                 adjust_reason="申诉：设备停机两天")
    assert resp.status_code == 302
    assert _mails_to(smtp_inbox, "zhang@example.com")[-1].count(f"/appeals/{appeal_id}")
    page = manager.get("/me/2025-03").get_data(as_text=True)
    assert "92" in page and "申诉：设备停机两天" in page and "hr" in page

    # the manager confirms; the appeal and its answer stay
    resp = _post(manager, "/me/2025-03", f"/appeals/{appeal_id}/confirm")
    assert resp.status_code == 302
    with session_scope(app) as s:
        item = s.get(Appeal, appeal_id)
        assert item.status == "confirmed" and item.answer.startswith("已核实")
        assert item.adjustment_id is not None
    # all confirmed: HR may close
    assert _post(hr, "/periods/2025-03", "/periods/2025-03/transition",
                 action="close", confirmed="yes").status_code == 302
    # closed: no more feedback
    assert _post(manager, "/me/2025-03", "/me/2025-03/appeal",
                 reason="again").status_code == 409
    from server.models import Notification

    with session_scope(app) as s:
        kinds = {n.kind for n in s.query(Notification) if n.status == "sent"}
    assert {"result_to_acknowledge", "appeal_to_answer", "answer_to_confirm"} <= kinds


def test_executive_outside_authority_and_submit_approval_notice(app, smtp_inbox):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_inbox.port)
    make_world(app, state="scored")
    gm, head = app.test_client(), app.test_client()
    sign_in(gm, "gm")
    sign_in(head, "head")
    url = f"/periods/2025-03/results/{OWN}"
    # more than the executive's 3 points: refused, nothing stored
    resp = _post(gm, url, url + "/adjust", indicator="PROD_EFF", points="5", reason="表现突出")
    assert resp.status_code == 403
    assert "加分超过您的上限 +3 分" in resp.get_data(as_text=True)
    # QUALITY may only be adjusted by 总经理: the department head is refused
    resp = _post(head, url, url + "/adjust", indicator="QUALITY", points="1", reason="好")
    assert resp.status_code == 403 and "只能由 总经理 调整" in resp.get_data(as_text=True)
    # within authority: stored, the period waits for approval, executives are told
    resp = _post(gm, url, url + "/adjust", indicator="QUALITY", points="2.5", reason="零缺陷")
    assert resp.status_code == 302
    page = gm.get(url).get_data(as_text=True)
    assert "零缺陷" in page and "+2.50" in page
    assert _mails_to(smtp_inbox, "gm@example.com"), "executives hear of adjustments to approve"


def test_failed_delivery_is_recorded_not_raised(app):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=1, WEBHOOK_URL="http://127.0.0.1:1/x")
    make_world(app, state="approved")
    hr = app.test_client()
    sign_in(hr, "hr")
    assert _post(hr, "/periods/2025-03", "/periods/2025-03/transition",
                 action="publish", confirmed="yes").status_code == 302
    from server.db import session_scope
    from server.models import Notification

    with session_scope(app) as s:
        rows = s.query(Notification).all()
        # recorded with the error, waiting for a retry (server/services/cards.py)
        assert rows and all(r.status == "retrying" and r.error and r.next_attempt_at
                            and r.attempts == 1 for r in rows)
        assert all("access_token" not in r.error for r in rows)
