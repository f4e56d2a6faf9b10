"""The review pages in Debian's chromium against the live server: timeline, diff between two
versions picked on the timeline, cell history, revert, approve, a manager's own page (and its
printable sheet as PDF through chromium's print), a `<script>` reason shown as text.
Screenshots go to $KPIBOOK_SCREENSHOTS (default /tmp/kpibook-review)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.review.conftest import OTHER_REASON, SCRIPT_REASON, seed_history
from tests.web.conftest import OTHER_NAME, OWN, PASSWORD, PERIOD, answer_code_step, make_world

SHOTS = Path(os.environ.get("KPIBOOK_SCREENSHOTS", "/tmp/kpibook-review"))


def _context(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    context.set_default_timeout(15_000)
    context.route("**/*", lambda route: route.continue_()
                  if route.request.url.startswith("http://127.0.0.1:") else route.abort())
    return context


def _open(browser, live_server, app, state: str):
    make_world(app, state=state)
    commits = seed_history(app)
    context = _context(browser)
    page = context.new_page()
    page.kb_errors, page.kb_dialogs = [], []
    page.on("pageerror", lambda e: page.kb_errors.append(str(e)))

    def dialog(d):
        page.kb_dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    return context, page, live_server, commits


@pytest.fixture
def review(browser, live_server, app):
    context, page, base, commits = _open(browser, live_server, app, "in_review")
    yield page, base, commits
    context.close()
    assert not page.kb_errors and not page.kb_dialogs


@pytest.fixture
def review_published(browser, live_server, app):
    context, page, base, commits = _open(browser, live_server, app, "published")
    yield page, base, commits
    context.close()
    assert not page.kb_errors and not page.kb_dialogs


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page, base: str, name: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_load_state()
    answer_code_step(page, name)


def test_timeline_and_script_reason_is_text(review):
    page, base, commits = review
    sign_in(page, base, "hr")
    page.click("text=复核")
    page.click(f"text={PERIOD}")
    page.click(".rv-tabs >> text=版本记录")
    rows = page.locator("#timeline tbody tr")
    assert rows.count() == len(commits)
    # the <script> reason is on the page as text; no dialog fired (checked by the fixture)
    assert SCRIPT_REASON in page.inner_text("#timeline")
    assert page.locator("#timeline script").count() == 0
    shot(page, "review-timeline")
    page.fill("input[name=employee]", OWN)
    page.select_option("select[name=kind]", "adjustment")
    page.click("#timeline-filters button[type=submit]")
    assert rows.count() == 4  # gm, script, both, own2
    assert "employee=M1001" in page.url


def test_diff_between_two_versions_from_the_timeline(review):
    page, base, commits = review
    sign_in(page, base, "hr")
    page.goto(f"{base}/review/{PERIOD}/timeline")
    page.check(f"tr[data-commit='{commits['baseline']}'] input[name=a]")
    page.check(f"tr[data-commit='{commits['own2']}'] input[name=b]")
    page.click("#compare")
    page.wait_for_url(re.compile(r"/diff\?"))
    assert page.locator("#diff-cells tbody tr").count() == 4
    totals = page.inner_text("#diff-totals")
    assert "▲ 1" in totals and "▼ 1" in totals
    assert "4" in page.inner_text("#diff-summary")
    shot(page, "review-diff")
    with page.expect_download() as download:
        page.click("#export-diff-xlsx")
    assert download.value.suggested_filename.endswith(".xlsx")


def test_cell_history(review):
    page, base, commits = review
    sign_in(page, base, "head")
    page.goto(f"{base}/review/{PERIOD}/timeline")
    page.click("#timeline a:has-text('PROD_EFF') >> nth=0")
    page.wait_for_url(re.compile(r"/cell/"))
    values = page.locator(".rv-blame-value").all_inner_texts()
    assert values == ["+3.00", "+2.00"]
    assert "大客户续约" in page.inner_text("#cell-history")
    assert OTHER_NAME not in page.content() and OTHER_REASON not in page.content()
    shot(page, "review-cell-history")


def test_revert_with_reason(review):
    page, base, commits = review
    sign_in(page, base, "gm")
    page.goto(f"{base}/review/{PERIOD}/submission?commit={commits['own2']}")
    page.fill("#revert-reason", "公式不是理由 <b>撤销</b>")
    page.click("#revert")
    page.wait_for_load_state()
    assert "已撤销版本" in page.inner_text(".flash")
    assert "撤销" in page.inner_text("#submission")
    assert "公式不是理由 <b>撤销</b>" in page.inner_text("#submission-cells")
    shot(page, "review-revert")


def test_approve_and_dashboard(review):
    page, base, commits = review
    sign_in(page, base, "gm")
    # the department head's submission (nobody approves their own: no button on gm's)
    page.goto(f"{base}/review/{PERIOD}/submission?commit={commits['gm']}")
    assert page.locator("#approve").count() == 0
    page.goto(f"{base}/review/{PERIOD}/submission?commit={commits['script']}")
    assert page.inner_text("#review-state") == "待审批"
    page.fill("#review-reason-input", "同意，证据充分")
    page.click("#approve")
    page.wait_for_load_state()
    assert page.inner_text("#review-state") == "已批准"
    assert "同意，证据充分" in page.inner_text("#review-reason")
    shot(page, "review-approve")
    page.goto(f"{base}/review/{PERIOD}")
    assert page.locator("#distributions svg").count() >= 1
    shot(page, "review-dashboard")


def test_managers_own_page_and_printable_sheet(review_published):
    page, base, commits = review_published
    sign_in(page, base, OWN)
    page.goto(f"{base}/review/me")
    page.click(f"#my-periods >> text={PERIOD}")
    page.wait_for_url(re.compile(rf"/review/{PERIOD}/people/{OWN}$"))
    assert page.locator("#trend svg").count() == 1
    assert "大客户续约" in page.inner_text("#person-adjustments")
    assert SCRIPT_REASON in page.inner_text("#person-adjustments")
    assert OTHER_NAME not in page.content()
    shot(page, "review-manager")
    page.click("#print-link")
    page.wait_for_url(re.compile(r"/print$"))
    shot(page, "review-print")
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    (SHOTS / "review-result-sheet.pdf").write_bytes(pdf)


@pytest.fixture
def review_approved(browser, live_server, app):
    """The period approved in the database and in git (the workflow's approval commit)."""
    from server.services.history import SYSTEM, history_for

    context, page, base, commits = _open(browser, live_server, app, "approved")
    history_for(app).set_status(PERIOD, "approved", SYSTEM, "approve", "event-approve")
    yield page, base, commits, app
    context.close()
    assert not page.kb_errors and not page.kb_dialogs


def test_revert_after_approval_goes_back_to_review(review_approved):
    from sqlalchemy import select

    from server.db import session_scope
    from server.models import Period, PeriodEvent
    from server.services.history import history_for

    page, base, commits, app = review_approved
    sign_in(page, base, "gm")
    page.goto(f"{base}/review/{PERIOD}/submission?commit={commits['own2']}")
    assert "已审批" in page.inner_text("h1 .badge")
    page.fill("#revert-reason", "审批后发现重复计算")
    page.click("#revert")
    page.wait_for_load_state()
    assert "已撤销版本" in page.inner_text(".flash")
    assert "待审批" in page.inner_text("h1 .badge")  # back in review
    shot(page, "review-revert-after-approval")
    page.goto(f"{base}/review/{PERIOD}/timeline")
    kinds = page.locator("#timeline tbody tr").all_inner_texts()[:2]
    assert "撤销" in kinds[0] and "重新打开" in kinds[1], kinds
    assert "审批后发现重复计算" in page.inner_text("#timeline")
    history = history_for(app)
    assert history.status(PERIOD)["status"] == "in_review"
    with session_scope(app) as s:
        assert s.scalar(select(Period.state)) == "in_review"
        event = s.scalar(select(PeriodEvent).order_by(PeriodEvent.id.desc()).limit(1))
        assert event.from_state == "approved" and "审批后发现重复计算" in event.reason


def test_published_period_offers_no_revert(review_published):
    page, base, commits = review_published
    sign_in(page, base, "gm")
    page.goto(f"{base}/review/{PERIOD}/submission?commit={commits['own2']}")
    assert page.locator("#revert").count() == 0
