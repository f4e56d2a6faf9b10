"""The task pane's selected line and the custom functions in a real browser at Excel's task
pane width (350 px), against the real server with the add-in tests' world (a git history,
source facts, a user per role). Office.js is tests/browser/office_stub.js: the test selects
cells with `__kbStub.select`, which raises Workbook.onSelectionChanged like Excel."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.addin.conftest import seed_addin_world
from tests.browser.workbooks import line_workbook
from tests.review.conftest import OTHER_REASON, SCRIPT_REASON
from tests.web.conftest import OTHER_NAME

SCREENSHOTS = Path("/tmp")
PANE = {"width": 350, "height": 1500}


@pytest.fixture
def tokens(app) -> dict[str, str]:
    return seed_addin_world(app)


def text(page, selector: str) -> str:
    return page.locator(selector).text_content() or ""


def select(page, sheet: str, address: str) -> None:
    page.evaluate("([sheet, address]) => window.__kbStub.select(sheet, address)", [sheet, address])


def wait_line(page, heading: str) -> None:
    page.wait_for_function(
        "(h) => !document.getElementById('line').hidden && "
        "document.getElementById('line-heading').textContent.startsWith(h)", arg=heading)


def no_overflow(page) -> None:
    assert page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0


def test_an_executive_selects_a_score_and_writes_a_reason(open_taskpane, page, tokens,
                                                           live_server):
    page.set_viewport_size(PANE)
    page = open_taskpane("zh-CN", workbook=line_workbook(), token=tokens["executive"])
    page.wait_for_function("window.__kbStub.selectionHandlers.length === 1")
    assert page.is_visible("#line-hint") and page.is_hidden("#line")

    select(page, "得分明细", "F2")
    wait_line(page, "M1001 张伟 · PROD_EFF 生产效率")
    assert text(page, "#line-points") == "得分: 40.00 · 90.00 (A)"
    assert text(page, "#line-explanation") == "直接评分 40 = 40.00"
    history = page.locator("#line-history li")
    assert history.count() == 2
    assert "人力资源部 李娜" in history.nth(0).text_content()
    assert "+2.00 → +3.00" in history.nth(0).text_content()
    assert history.nth(0).locator(".kb-line-reason").text_content() == "再次核对后上调"
    assert history.nth(1).locator(".kb-line-reason").text_content() == "大客户续约\n见邮件 3/28"
    fact = text(page, "#line-facts li")
    assert "actual: 0.98 % · erp" in fact and "GET /erp/output?dept=一车间&month=2025-03" in fact
    # pulled at 01:30 UTC: shown in the company's time zone, whatever the PC's is
    assert "2025-04-02 09:30 UTC+08:00" in fact
    assert text(page, "#line-pulled") == "获取于 2025-04-02 09:30 UTC+08:00（hr）"
    # the executive's authority: 3 points either way (server/policy.py), tighter than the rules
    assert text(page, "#line-range") == (
        "可将调整分设为 -3.00 至 +3.00（当前 +0.00：最多再加 +3.00、再减 +3.00）。")
    no_overflow(page)
    page.screenshot(path=str(SCREENSHOTS / "kpibook-taskpane-line-zh-CN.png"), full_page=True)
    # docs/img/taskpane-line.png is this card (docs/addin.md)
    page.locator("#line-card").screenshot(path=str(SCREENSHOTS / "kpibook-line-card-zh-CN.png"))

    # a multi-line reason that looks like a formula goes into the reason cell as text
    assert page.evaluate("document.getElementById('line-reason').tagName") == "TEXTAREA"
    page.fill("#line-reason", "=SUM(A1)\n大客户续约，见邮件 3/28")
    page.click("#line-reason-save")
    page.wait_for_function("document.getElementById('line-reason-status').textContent !== ''")
    assert text(page, "#line-reason-status") == "理由已写入 调整 第 2 行。"
    adjustments = page.evaluate("window.__kbStub.model.sheets[1]")
    assert adjustments["cells"]["1,3"] == "=SUM(A1)\n大客户续约，见邮件 3/28"
    assert adjustments["quotePrefix"] == {"1,3": True}
    assert adjustments["protection"]["protected"] is True  # written without unprotecting
    assert page.evaluate("window.__kbStub.refusedWrites") == []

    page.click("[data-line-link=review]")
    assert page.evaluate("window.__kbStub.openedUrls") == [
        "https://kpi.example.com:8443/review/2025-03/cell/M1001?indicator=PROD_EFF"]

    # another department's line: the server refuses; nothing of it is shown
    select(page, "得分明细", "B4")
    page.wait_for_function("document.getElementById('line-status').classList.contains("
                           "'kb-error-text')")
    assert page.is_hidden("#line")
    assert "您无权查看或处理其他部门/其他人的数据" in text(page, "#line-status")
    assert OTHER_REASON not in page.content()
    # outside the line tables: the hint again
    select(page, "_kpibook", "B2")
    page.wait_for_function("!document.getElementById('line-hint').hidden")
    assert page.is_hidden("#line") and page.is_hidden("#line-status")
    assert all("403" in problem for problem in page.kb_problems), page.kb_problems
    assert page.kb_dialogs == []


def test_hr_in_english_sees_a_hostile_reason_as_text_and_the_data_row(open_taskpane, page,
                                                                       tokens):
    page.set_viewport_size(PANE)
    page = open_taskpane("en-US", workbook=line_workbook(), token=tokens["hr_admin"])
    page.wait_for_function("window.__kbStub.selectionHandlers.length === 1")
    select(page, "调整", "D3")
    wait_line(page, "M1001 张伟 · QUALITY 质量")
    reasons = page.locator("#line-history .kb-line-reason").all_text_contents()
    assert reasons == ['=HYPERLINK("http://x")', SCRIPT_REASON]
    assert page.locator("#line-history script, #line-history b").count() == 0
    assert text(page, "#line-range") == (
        "You may set the adjustment from -5.00 to +5.00 (now +0.00: up to +5.00 more or "
        "+5.00 less).")
    assert text(page, "#line-facts") == "No source-system values (entered by hand or missing)."
    # a source-data cell names the same kind of line; HR sees the other department too
    select(page, "源数据", "D2")
    wait_line(page, "M1001 张伟 · PROD_EFF")
    no_overflow(page)
    page.screenshot(path=str(SCREENSHOTS / "kpibook-taskpane-line-en-US.png"), full_page=True)
    page.locator("#line-card").screenshot(path=str(SCREENSHOTS / "kpibook-line-card-en-US.png"))
    assert page.kb_problems == [] and page.kb_dialogs == []


def test_an_auditor_reads_without_a_reason_field(open_taskpane, page, tokens):
    page = open_taskpane("zh-CN", workbook=line_workbook(), token=tokens["auditor"])
    page.wait_for_function("window.__kbStub.selectionHandlers.length === 1")
    select(page, "得分明细", "A4")
    wait_line(page, f"M1002 {OTHER_NAME}")
    assert page.is_hidden("#line-adjust") and page.is_hidden("#line-reason-box")
    assert page.kb_problems == []


def test_custom_functions_run_in_the_pane_with_its_token(open_taskpane, page, tokens):
    page = open_taskpane("en-US", workbook=line_workbook(), token=tokens["dept_head"])
    page.wait_for_function("Object.keys(window.__kbStub.functions).length === 4")
    assert page.evaluate("Object.keys(window.__kbStub.functions).sort()") == [
        "EXPLAIN", "GRADE", "RANK", "SCORE"]
    got = page.evaluate("""async () => {
        const f = window.__kbStub.functions;
        const settle = (p) => p.then((v) => ["ok", v], (e) => [e.code, e.message]);
        return Promise.all([f.SCORE("M1001", null, null), f.GRADE("M1001", null),
                            f.RANK("M1001", true, null), f.EXPLAIN("M1001", "QUALITY", null),
                            f.SCORE("M1002", null, null), f.SCORE(null, null, null)].map(settle));
    }""")
    assert got == [["ok", 90], ["ok", "A"], ["ok", 1], ["ok", "直接评分 50 = 50.00"],
                   ["#N/A", "Period 2025-03 has no employee M1002 you may see."],
                   ["#VALUE!", "The employee ID must be text or a whole number."]]
    assert page.kb_problems == []
