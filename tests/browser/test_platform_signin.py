"""Sign in with the platform in Debian's chromium: the login page's buttons take the browser to
the DingTalk, Feishu, WeCom or OIDC simulator's QR page, a person "scans" (clicks), and the
platform sends the browser back signed in; at desktop width and on a 375 px phone.
Screenshots go to $KPIBOOK_SCREENSHOTS (default /tmp/kpibook-signin)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.signin.conftest import PLATFORMS, people, platforms  # noqa: F401 - fixtures

SHOTS = Path(os.environ.get("KPIBOOK_SCREENSHOTS", "/tmp/kpibook-signin"))


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def open_page(browser, live_server, people):  # noqa: F811 - the fixture above
    contexts = []

    def open_(width: int = 1280, height: int = 860, locale: str = "zh-CN"):
        context = browser.new_context(viewport={"width": width, "height": height},
                                      locale=locale)
        context.set_default_timeout(15_000)
        context.route("**/*", lambda route: route.continue_()
                      if route.request.url.startswith("http://127.0.0.1:") else route.abort())
        page = context.new_page()
        page.kb_errors = []
        page.on("pageerror", lambda e: page.kb_errors.append(str(e)))
        contexts.append((context, page))
        return page

    yield open_, live_server
    for context, page in contexts:
        context.close()
        assert not page.kb_errors


@pytest.mark.parametrize("name", PLATFORMS)
def test_sign_in_with_each_platform_on_the_desktop(open_page, name):
    open_, base = open_page
    page = open_()
    page.goto(f"{base}/me")
    assert "/login" in page.url
    if name == "dingtalk":
        shot(page, "login-platforms")
    page.click(f"#signin-{name}")
    page.wait_for_selector("#scan-dtm1004")  # the platform's QR page (simulated)
    assert "扫码" in page.inner_text("body") or "sign-in" in page.inner_text("body")
    if name == "dingtalk":
        shot(page, "dingtalk-qr")
    page.click("#scan-dtm1004")  # 赵敏 confirms on her phone
    page.wait_for_url(re.compile(r"/me$"))  # back where she was going, signed in
    assert "欢迎" in page.inner_text(".flash")


def test_sign_in_on_a_phone(open_page):
    open_, base = open_page
    page = open_(375, 812)
    page.goto(f"{base}/login")
    for name in PLATFORMS:
        assert page.is_visible(f"#signin-{name}")
    # the page never scrolls sideways; the buttons fit the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    box = page.locator("#signin-wecom").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
    shot(page, "login-platforms-phone")
    page.click("#signin-oidc")
    page.click("#scan-dtm1004")
    page.wait_for_url(re.compile(r"/me$"))
    assert "欢迎" in page.inner_text(".flash")


def test_an_unbound_person_is_told_why_in_english(open_page):
    open_, base = open_page
    page = open_(locale="en-US")
    page.goto(f"{base}/login?lang=en")
    assert page.inner_text("#signin-feishu") == "Sign in with Feishu"
    page.click("#signin-feishu")
    page.click("#scan-dtm1001")  # 张伟 has no kpibook account
    text = page.inner_text("#login-error")
    assert "not bound to any kpibook account" in text and "account page" in text
    assert page.is_visible("#password")  # the password form is still there


def test_a_user_binds_and_removes_a_platform_account(open_page):
    open_, base = open_page
    page = open_()
    page.goto(f"{base}/login")
    page.click("#signin-dingtalk")
    page.click("#scan-dtm1004")
    page.wait_for_url(re.compile(r"/me$"))
    page.goto(f"{base}/account")
    assert page.is_visible("#no-bindings")
    page.click("#bind-oidc")
    page.click("#scan-dtm1004")
    page.wait_for_url(re.compile(r"/account$"))
    assert "已绑定" in page.inner_text(".flash")
    rows = page.inner_text("#binding-list")
    assert "集团统一认证" in rows and "oidc-dtm1004" in rows
    shot(page, "account-bindings")
    page.click("#binding-list button")
    assert "已解除绑定" in page.inner_text(".flash")
    assert page.is_visible("#no-bindings")
