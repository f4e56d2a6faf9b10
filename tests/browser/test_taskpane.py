"""The add-in's task pane and help page in a real browser, against the real server.

Office.js is replaced by tests/browser/office_stub.js; everything else (taskpane.html, its ES
modules, the CSS, /api/v1/whoami, /xl/<button>) is the real thing.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.browser.workbooks import meta_workbook, stub_workbook_from_xlsx, table_rows

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "workbook_templates" / "manufacturing.xlsx"
SCREENSHOTS = Path("/tmp")
OUTPUT_SHEETS = ("调整", "得分明细", "汇总")
HOSTILE_NAME = '<script>alert(1)</script><img src=x onerror="window.__kbInjected=1;alert(2)">'


def text(page, selector: str) -> str:
    return page.locator(selector).text_content() or ""


def assert_clean(page) -> None:
    """No JavaScript error, no console error, no dialog."""
    assert page.kb_problems == []
    assert page.kb_dialogs == []


def paste_token(page, token: str) -> None:
    page.fill("#token", token)
    page.click("#token-form button[type=submit]")


@pytest.mark.parametrize(("language", "texts"), [
    ("zh-CN", {"h1": "KPI 绩效考核", "score": "计算得分", "period": "（本工作簿尚无考核期间）",
               "who": "尚未登录：请粘贴个人访问令牌。", "lang": "zh-CN"}),
    ("en-US", {"h1": "KPI scoring", "score": "Score", "period": "(this workbook has no period yet)",
               "who": "Not signed in: paste your personal access token.", "lang": "en"}),
])
def test_taskpane_renders_in_the_display_language(open_taskpane, live_server, language, texts):
    page = open_taskpane(language, workbook=meta_workbook(period=None))
    assert text(page, "h1") == texts["h1"]
    assert text(page, "[data-button=score]") == texts["score"]
    assert text(page, "#who") == texts["who"]
    assert page.get_attribute("html", "lang") == texts["lang"]
    assert text(page, "#server") == live_server
    page.locator("#period:not(:empty)").wait_for()
    assert text(page, "#period") == texts["period"]
    # Every translated element got a text; nothing overflows the narrow pane.
    untranslated = page.eval_on_selector_all(
        "[data-i18n]", "els => els.filter(e => !e.textContent.trim()).length")
    assert untranslated == 0
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    # The ribbon handlers are registered in the shared runtime.
    handlers = page.evaluate("Object.keys(window.__kbStub.handlers).sort()")
    assert handlers == sorted(["kpiNewPeriod", "kpiPullData", "kpiScore", "kpiCheck", "kpiSubmit",
                               "kpiRefresh", "kpiOpenReview"])
    page.screenshot(path=str(SCREENSHOTS / f"kpibook-taskpane-{language}.png"), full_page=True)
    assert_clean(page)


def test_saving_a_token_shows_who_is_signed_in(open_taskpane, make_token):
    token = make_token("li.na", "hr_admin", display_name="人力资源部 李娜")
    page = open_taskpane("zh-CN", workbook=meta_workbook())
    paste_token(page, f"  {token}  ")
    page.locator("#who", has_text="李娜").wait_for()
    assert text(page, "#who") == "人力资源部 李娜 (li.na) · 角色: hr_admin"
    assert text(page, "#token-status") == "令牌已保存。"
    assert page.input_value("#token") == ""
    assert page.evaluate("localStorage.getItem('kpibook.token')") == token
    page.click("#token-clear")
    assert text(page, "#who") == "尚未登录：请粘贴个人访问令牌。"
    assert page.evaluate("localStorage.getItem('kpibook.token')") is None
    assert_clean(page)


def test_a_wrong_token_shows_the_servers_error(open_taskpane, client):
    server_says = client.get("/api/v1/whoami", headers={"Authorization": "Bearer kb_wrong"})
    assert server_says.status_code == 401
    page = open_taskpane("en-US", workbook=meta_workbook())
    paste_token(page, "kb_wrong")
    page.locator("#who", has_text=re.compile(r"^The token")).wait_for()
    shown = text(page, "#who")
    assert shown.startswith("The token is invalid or expired: paste a new one in the task pane.")
    assert server_says.get_json()["error"] in shown
    # The browser logs the 401 response itself; nothing else may go wrong.
    assert all("401" in problem for problem in page.kb_problems)
    assert page.kb_dialogs == []


@pytest.mark.parametrize("period", ["2024-Q3", "2025 年上半年"])
def test_the_period_is_read_from_kb_meta(open_taskpane, period):
    page = open_taskpane("zh-CN", workbook=meta_workbook(period))
    page.locator("#period:not(:empty)").wait_for()
    assert text(page, "#period") == period
    assert_clean(page)


def test_a_hostile_display_name_is_shown_as_text(open_taskpane, make_token):
    token = make_token("mallory", "hr_admin", display_name=HOSTILE_NAME)
    page = open_taskpane("zh-CN", workbook=meta_workbook(), token=token)
    page.locator("#who", has_text="mallory").wait_for()
    assert text(page, "#who") == f"{HOSTILE_NAME} (mallory) · 角色: hr_admin"
    assert page.locator("#who *").count() == 0
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("body script").count() == 0
    page.wait_for_timeout(300)  # an injected onerror would have fired by now
    assert page.evaluate("window.__kbInjected") is None
    assert_clean(page)


@pytest.fixture
def pulled_book(tmp_path, client, hr_token) -> Path:
    """The manufacturing template after New period and Pull data (headless client, same app),
    ready for Score: its output sheets are protected without a password, as shipped."""
    if not TEMPLATE.is_file():
        pytest.skip("workbook_templates/manufacturing.xlsx not built yet")
    from addin import headless

    path = tmp_path / "考核.xlsx"
    shutil.copy(TEMPLATE, path)
    poster = headless.flask_poster(client, headers={"Authorization": f"Bearer {hr_token}"})
    headless.run_button("new_period?period=2026-10", path, post=poster)
    headless.run_button("pull", path, post=poster)
    return path


def test_the_score_button_posts_the_workbook_and_applies_the_actions(open_taskpane, pulled_book,
                                                                      hr_token):
    workbook = stub_workbook_from_xlsx(pulled_book)
    protected_before = {s["name"]: s["protection"] for s in workbook["sheets"]
                        if s["name"] in OUTPUT_SHEETS}
    assert all(p["protected"] and p["password"] is None for p in protected_before.values())
    page = open_taskpane("zh-CN", workbook=workbook, token=hr_token)
    page.locator("#period:not(:empty)").wait_for()
    assert text(page, "#period") == "2026-10"

    with page.expect_response(lambda r: r.url.endswith("/xl/score")) as reply:
        page.click("[data-button=score]")
    assert reply.value.status == 200
    assert reply.value.request.headers["authorization"] == f"Bearer {hr_token}"
    page.locator("#last-result", has_text="完成").wait_for()
    assert page.is_hidden("#error-box")
    applied = len(reply.value.json()["actions"])
    assert f"完成：已应用 {applied} 项更改。" in text(page, "#last-result")

    model = page.evaluate("window.__kbStub.model")
    summary = table_rows(model, "kb_summary")
    assert len(summary) == 8
    assert any(isinstance(v, (int, float)) for row in summary for v in row.values())
    assert len(table_rows(model, "kb_scores")) >= 50
    # The writes went through: the protected output sheets were unprotected for them and are
    # protected again, with the options they had.
    assert page.evaluate("window.__kbStub.refusedWrites") == []
    for sheet in model["sheets"]:
        if sheet["name"] in protected_before:
            assert sheet["protection"]["protected"] is True, sheet["name"]
            assert sheet["protection"]["options"] == protected_before[sheet["name"]]["options"]
    logs = {s["name"]: s["protectionLog"] for s in model["sheets"] if s["protectionLog"]}
    assert logs and all(log == ["unprotect", "protect"] for log in logs.values())
    assert set(logs) <= set(protected_before) | {"_kpibook", "说明"}
    page.screenshot(path=str(SCREENSHOTS / "kpibook-taskpane-after-score.png"), full_page=True)
    assert_clean(page)


def test_a_password_protected_sheet_stops_the_score_button_with_a_clear_message(
        open_taskpane, pulled_book, hr_token):
    workbook = stub_workbook_from_xlsx(pulled_book)
    summary_sheet = next(s for s in workbook["sheets"] if s["name"] == "汇总")
    summary_sheet["protection"]["password"] = "secret"
    before = {s["name"]: dict(s["cells"]) for s in workbook["sheets"]}
    page = open_taskpane("en-US", workbook=workbook, token=hr_token)
    page.click("[data-button=score]")
    page.wait_for_selector("#error-box:not([hidden])")
    message = text(page, "#error-text")
    assert "工作表“汇总”设置了密码保护" in message
    assert 'The sheet "汇总" is protected with a password' in message
    page.screenshot(path=str(SCREENSHOTS / "kpibook-taskpane-password-sheet.png"), full_page=True)
    model = page.evaluate("window.__kbStub.model")
    assert {s["name"]: s["cells"] for s in model["sheets"]} == before
    assert all(s["protection"]["protected"] for s in model["sheets"] if s["name"] in OUTPUT_SHEETS)
    assert page.kb_dialogs == []


def test_the_ribbon_handler_runs_the_button_and_completes_the_event(open_taskpane, pulled_book,
                                                                    hr_token):
    page = open_taskpane("zh-CN", workbook=stub_workbook_from_xlsx(pulled_book), token=hr_token)
    completed = page.evaluate("""() => new Promise((resolve) => {
        window.__kbStub.handlers.kpiCheck({ completed: () => resolve(true) });
    })""")
    assert completed is True
    assert "检查" in text(page, "#last-result")
    assert page.locator(".kb-alert").count() >= 1  # the server's check report
    assert_clean(page)


def test_the_help_page_loads(page, live_server):
    response = page.goto(f"{live_server}/addin/help.html")
    assert response is not None and response.status == 200
    assert page.title() == "kpibook 帮助 / Help"
    assert page.locator("section[lang=zh-CN] h2").text_content() == "使用方法"
    assert page.locator("section[lang=en] h2").text_content() == "How to use"
    # The stylesheet and the icon loaded.
    assert page.evaluate("getComputedStyle(document.querySelector('.kb-header')).display") == "flex"
    assert page.evaluate("document.querySelector('.kb-header img').naturalWidth") == 32
    assert page.kb_problems == []


def test_new_period_sends_the_month_in_the_field(open_taskpane, tmp_path, hr_token, app):
    """The field is prefilled with the server's current month (whoami); the pane's New period
    sends what the person leaves there, and the server's refusal of a bad code is shown."""
    if not TEMPLATE.is_file():
        pytest.skip("workbook_templates/manufacturing.xlsx not built yet")
    import re

    from server.db import session_scope
    from server.services.periods import find_period

    path = tmp_path / "考核.xlsx"
    shutil.copy(TEMPLATE, path)
    page = open_taskpane("en-US", workbook=stub_workbook_from_xlsx(path), token=hr_token)
    page.wait_for_function("document.getElementById('who').textContent.includes('hr')")
    offered = page.input_value("#new-period")
    assert re.fullmatch(r"20\d\d-(0[1-9]|1[0-2])", offered)

    page.fill("#new-period", "2030-13")
    with page.expect_response(lambda r: "/xl/new_period" in r.url) as reply:
        page.click("[data-button=new_period]")
    assert reply.value.status == 400 and reply.value.url.endswith("?period=2030-13")
    page.wait_for_function("!document.getElementById('error-box').hidden")
    # in the workbook's language (the server's default here: Chinese)
    assert "月份须为 01 到 12" in text(page, "#error-text")

    page.fill("#new-period", "2026-11")
    with page.expect_response(lambda r: "/xl/new_period" in r.url) as reply:
        page.click("[data-button=new_period]")
    assert reply.value.status == 200 and reply.value.url.endswith("?period=2026-11")
    # the answer's kb_meta write reaches the pane (the stub keeps Excel's text prefix "'")
    page.wait_for_function("document.getElementById('period').textContent.endsWith('2026-11')")
    with session_scope(app) as s:
        assert find_period(s, "2026-11") is not None and find_period(s, "2030-13") is None
    # HR's reason for applying the workbook's rules and roster to the records goes with Score
    # (docs/records.md); here the period's first Score adopts them with that reason
    page.fill("#apply-reason", "按总经理要求调整权重")
    with page.expect_response(lambda r: "/xl/score" in r.url) as reply:
        page.click("[data-button=score]")
    assert "apply_reason=" in reply.value.url and reply.value.status == 200
    page.wait_for_function("document.getElementById('apply-reason').value === ''")
    from sqlalchemy import select

    from server.models import InputRecord

    with session_scope(app) as s:
        assert s.scalars(select(InputRecord.reason)).all() == ["按总经理要求调整权重"]
    # the browser logs the refused request itself; nothing else went wrong
    assert page.kb_problems == ["Failed to load resource: the server responded with a status of "
                                "400 (BAD REQUEST)"]
    assert page.kb_dialogs == []


def test_new_period_sends_the_scorecard_typed(open_taskpane, tmp_path, hr_token, app):
    """A second workbook of the same template joins the month as its own scorecard: the
    pane's scorecard field goes with New period, and kb_meta then holds it."""
    if not TEMPLATE.is_file():
        pytest.skip("workbook_templates/manufacturing.xlsx not built yet")
    from server.db import session_scope
    from server.services.periods import scorecards_of

    path = tmp_path / "二厂.xlsx"
    shutil.copy(TEMPLATE, path)
    page = open_taskpane("zh-CN", workbook=stub_workbook_from_xlsx(path), token=hr_token)
    page.wait_for_function("document.getElementById('who').textContent.includes('hr')")
    page.fill("#new-period", "2026-11")
    page.fill("#new-scorecard", "plant2")
    with page.expect_response(lambda r: "/xl/new_period" in r.url) as reply:
        page.click("[data-button=new_period]")
    assert reply.value.status == 200
    assert reply.value.url.endswith("?period=2026-11&scorecard=plant2")
    with session_scope(app) as s:
        assert [p.scorecard for p in scorecards_of(s, "2026-11")] == ["plant2"]
    assert page.kb_problems == [] and page.kb_dialogs == []
