"""Browser tests: the real Flask app served on 127.0.0.1, Debian's chromium driven by Playwright.

Shared fixtures for every web-page test:

* ``live_server`` — the base URL (``http://127.0.0.1:<port>``) of the app from tests/conftest.py
  (its own migrated SQLite database per test), served by werkzeug in a background thread.
* ``browser`` — one chromium per session (``/usr/bin/chromium``; Playwright never downloads a
  browser here), from tests/chromium.py through tests/conftest.py, shared with tests/cards.
  ``page`` — a fresh context and page per test that may talk to 127.0.0.1 only; console
  errors, page errors and dialogs are recorded on ``page.kb_problems`` / ``page.kb_dialogs``.
* ``open_taskpane`` — opens /addin/taskpane.html with Microsoft's office.js replaced by
  ``office_stub.js`` (Office + a tiny in-memory Excel), see that file.

Chromium runs with --no-sandbox, so the tests also run as root in CI (scripts/setup-system
installs chromium).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

OFFICE_STUB = Path(__file__).with_name("office_stub.js")
# A task pane is narrow: Excel's default is about 350 px wide.
TASKPANE_VIEWPORT = {"width": 360, "height": 900}


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The app on a free port of 127.0.0.1; yields its base URL (no trailing slash)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live_server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def page(browser) -> Iterator[Any]:
    """A fresh page; requests leaving 127.0.0.1 are refused unless a test routes them."""
    # bypass_csp: Playwright's wait_for_function polls by evaluating strings, which the add-in
    # pages' CSP (no 'unsafe-eval', docs/security.md) refuses; the pages' own scripts run under
    # the CSP in tests/browser/test_web_pages.py and the headers are checked in
    # tests/web/test_signin_asvs.py.
    context = browser.new_context(viewport=TASKPANE_VIEWPORT, locale="zh-CN", bypass_csp=True)
    context.set_default_timeout(15_000)

    def only_local(route: Any) -> None:
        if route.request.url.startswith("http://127.0.0.1:"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    page.kb_problems = []
    page.kb_dialogs = []
    page.on("console", lambda msg: msg.type == "error" and page.kb_problems.append(msg.text))
    page.on("pageerror", lambda error: page.kb_problems.append(str(error)))

    def record_dialog(dialog: Any) -> None:
        page.kb_dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record_dialog)
    yield page
    context.close()


@pytest.fixture
def open_taskpane(page, live_server) -> Callable[..., Any]:
    """open_taskpane(language="zh-CN", workbook=None, token=None) -> the page, ready.

    `workbook` is the stub's model (see office_stub.js and tests/browser/workbooks.py); `token`
    is put into the add-in's localStorage before the page loads.
    """
    stub_source = OFFICE_STUB.read_text(encoding="utf-8")

    def open_(language: str = "zh-CN", workbook: dict | None = None,
              token: str | None = None) -> Any:
        config = {"displayLanguage": language, "workbook": workbook}
        script = f"window.__kbStubConfig = {json.dumps(config)};"
        if token is not None:
            script += f"localStorage.setItem('kpibook.token', {json.dumps(token)});"
        page.add_init_script(script)
        page.route("**/office.js", lambda route: route.fulfill(
            status=200, content_type="text/javascript; charset=utf-8", body=stub_source))
        response = page.goto(f"{live_server}/addin/taskpane.html")
        assert response is not None and response.status == 200
        # taskpane.js has run Office.onReady once the server's address is shown.
        page.locator("#server:not(:empty)").wait_for()  # no eval: the add-in CSP
        return page

    return open_
