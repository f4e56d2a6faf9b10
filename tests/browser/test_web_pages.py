"""The web pages in Debian's chromium: sign-in, tokens, authority refusals, the feedback
flow, CSRF. Screenshots go to $KPIBOOK_SCREENSHOTS (default /tmp/kpibook-web)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.web.conftest import OWN, PASSWORD, answer_code_step, make_world

SHOTS = Path(os.environ.get("KPIBOOK_SCREENSHOTS", "/tmp/kpibook-web"))


@pytest.fixture
def web(browser, live_server, app):
    """(page, base URL) at desktop size, in a world with a published period."""
    make_world(app)
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    context.set_default_timeout(15_000)
    context.route("**/*", lambda route: route.continue_()
                  if route.request.url.startswith("http://127.0.0.1:") else route.abort())
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page, live_server
    context.close()
    assert not errors


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page, base: str, name: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("#sign-in")
    answer_code_step(page, name)


def test_sign_in_wrong_then_right(web):
    page, base = web
    page.goto(f"{base}/periods")
    assert "/login" in page.url  # sign-in first
    shot(page, "login")
    sign_in(page, base, "hr", "not the password 1")
    assert "用户名或密码错误" in page.inner_text("#login-error")
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    answer_code_step(page, "hr")  # HR signs in with a one-time code too
    page.wait_for_url(re.compile(r"/periods$"))
    assert "欢迎" in page.inner_text(".flash")
    assert "2025-03" in page.inner_text("#periods")
    shot(page, "periods")


def test_token_creation_shows_token_once(web):
    import requests

    page, base = web
    sign_in(page, base, "gm")
    page.goto(f"{base}/account")
    page.fill("#token-label", "办公室 Excel")
    page.select_option("#token-days", "30")
    page.fill("#token-password", PASSWORD)  # a token needs the password again
    page.click("#create-token")
    token = page.inner_text("#new-token").strip()
    assert token.startswith("kpb_")
    shot(page, "account-token")
    who = requests.get(f"{base}/api/v1/whoami", headers={"Authorization": f"Bearer {token}"},
                       timeout=10)
    assert who.json()["user"] == "gm"
    page.reload()  # a reload must not show it again (no form resubmission: GET)
    page.goto(f"{base}/account")
    assert token not in page.content()
    assert "办公室 Excel" in page.inner_text("#tokens")


def test_executive_outside_authority_sees_why(web, app):
    from server.db import session_scope
    from server.services.periods import find_period

    with session_scope(app) as s:
        find_period(s, "2025-03").state = "scored"
    page, base = web
    sign_in(page, base, "gm")
    page.goto(f"{base}/periods/2025-03/results/{OWN}")
    page.select_option("#adjust-form select[name=indicator]", "PROD_EFF")
    page.fill("#adjust-form input[name=points]", "5")
    page.fill("#adjust-form input[name=reason]", "表现突出")
    page.click("#adjust-form button")
    message = page.inner_text("#error-message")
    assert "超出您的调整权限" in message and "+3" in message
    shot(page, "adjust-refused")
    # the other department is not even readable
    page.goto(f"{base}/periods/2025-03/results/M1002")
    assert "没有权限" in page.inner_text("h1")


def test_publish_acknowledge_appeal_answer_confirm(web, app, browser):
    from server.db import session_scope
    from server.models import Appeal
    from server.services.periods import find_period

    with session_scope(app) as s:
        for a in s.query(Appeal):
            s.delete(a)
        find_period(s, "2025-03").state = "approved"
    page, base = web
    sign_in(page, base, "hr")
    page.goto(f"{base}/periods/2025-03")
    page.click("button[data-action=publish]")
    assert "已发布" in page.inner_text("#period-state")
    shot(page, "period-published")

    manager = browser.new_context(viewport={"width": 1280, "height": 860},
                                  locale="zh-CN").new_page()
    sign_in(manager, base, OWN)
    manager.goto(f"{base}/me/2025-03")
    assert manager.inner_text("#total").strip() == "90.00"
    manager.fill("#appeal-reason", "三月设备停机两天")
    manager.click("#appeal")
    assert "申诉已提交" in manager.inner_text(".flash")
    shot(manager, "me-appealed")

    page.goto(f"{base}/appeals")
    page.click("#appeals a")
    page.fill("#answer", "已核实，效率加 2 分。")
    page.click("#answer-form summary")
    page.select_option("#answer-form select[name=indicator]", "PROD_EFF")
    page.fill("#answer-form input[name=points]", "2")
    page.click("#send-answer")
    assert "待经理确认" in page.inner_text("#appeal-status")
    shot(page, "appeal-answered")

    manager.goto(f"{base}/me/2025-03")
    assert manager.inner_text("#total").strip() == "92.00"
    assert "已核实" in manager.inner_text(".appeal .answer")
    manager.click("#confirm-answer")
    assert "申诉结束" in manager.inner_text(".flash")
    shot(manager, "me-confirmed")
    manager.context.close()


def test_forged_forms_are_refused(web, app):
    page, base = web
    sign_in(page, base, "hr")
    # another site's form: the SameSite cookie is not sent and nothing changes
    page.set_content(f'<form method="post" action="{base}/periods/2025-03/transition">'
                     '<input name="action" value="close"></form>')
    with page.expect_navigation():
        page.evaluate("document.forms[0].submit()")
    assert page.url.startswith(base)
    # a form on our own origin without the CSRF token: refused with a clear message
    page.goto(f"{base}/periods")
    page.evaluate(f"""() => {{ const f = document.createElement('form'); f.method = 'post';
        f.action = '{base}/periods/2025-03/transition';
        f.innerHTML = '<input name="action" value="close">'; document.body.appendChild(f);
        f.submit(); }}""")
    page.wait_for_selector("#error-message")
    assert "CSRF" in page.inner_text("#error-message")
    shot(page, "csrf-refused")
    from server.db import session_scope
    from server.services.periods import find_period

    with session_scope(app) as s:
        assert find_period(s, "2025-03").state == "published"
