"""The web pages on a phone (375 x 812, Debian's chromium): no page wider than the screen
(wide tables scroll inside their own box), the menu collapses behind a button, and the key
actions — approve a submission, approve the period, appeal, acknowledge — are visible and work.

Screenshots go to $KPIBOOK_SCREENSHOTS (default /tmp/kpibook-phone); the ones in docs/img
were made with ``KPIBOOK_SCREENSHOTS=docs/img``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from server.services import stored_run
from tests.web.conftest import OTHER, OWN, PERIOD, make_world, sign_in_page

SHOTS = Path(os.environ.get("KPIBOOK_SCREENSHOTS", "/tmp/kpibook-phone"))
PHONE = {"width": 375, "height": 812}

# scrollWidth of the document against the screen: > 0 means the page scrolls sideways
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
# elements wider than the screen that are not inside a box that scrolls on its own
OFFENDERS = """() => {
  const w = document.documentElement.clientWidth, out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.right <= w + 1 || r.width === 0) continue;
    let p = el.parentElement, scrolls = false;
    while (p && p !== document.body) {
      const s = getComputedStyle(p);
      if (s.overflowX === 'auto' || s.overflowX === 'scroll') { scrolls = true; break; }
      p = p.parentElement;
    }
    if (!scrolls) out.push(el.tagName + '.' + el.className + '#' + el.id);
  }
  return out.slice(0, 10);
}"""


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True,
                                  has_touch=True)
    context.set_default_timeout(15_000)
    context.route("**/*", lambda route: route.continue_()
                  if route.request.url.startswith("http://127.0.0.1:") else route.abort())
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page, live_server
    context.close()
    assert not errors


def sign_in(page, base: str, name: str) -> None:
    sign_in_page(page, base, name)
    assert "/login" not in page.url


def fits(page, what: str) -> None:
    """The page is no wider than the phone; tap targets of the main actions are usable."""
    assert page.evaluate(OVERFLOW) <= 0, (what, page.evaluate(OFFENDERS))


def shot(page, name: str, full: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full)


def usable(page, selector: str) -> None:
    """Visible, inside the screen's width and at least 40 px high (a finger's tap)."""
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (selector, box)
    assert box["height"] >= 40, (selector, box)


def _seed_review(app) -> dict[str, str]:
    from tests.review.conftest import seed_history

    make_world(app, state="in_review")
    return seed_history(app)


def test_menu_collapses_behind_a_button(app, phone):
    page, base = phone
    make_world(app)
    sign_in(page, base, "hr")
    page.goto(f"{base}/periods")
    fits(page, "periods")
    assert not page.locator(".mainnav").is_visible()
    usable(page, "#nav-button")
    page.click("#nav-button")
    assert page.locator(".mainnav").is_visible()
    shot(page, "phone-menu")
    page.click(".mainnav >> text=复核")
    page.wait_for_url(re.compile(r"/review$"))
    fits(page, "review index")


def test_executive_approves_a_submission_on_a_phone(app, phone):
    page, base = phone
    commits = _seed_review(app)
    sign_in(page, base, "gm")
    for path in (f"/review/{PERIOD}", f"/review/{PERIOD}/timeline", f"/review/{PERIOD}/diff",
                 f"/review/{PERIOD}/people/{OWN}", f"/review/{PERIOD}/cell/{OWN}",
                 f"/periods/{PERIOD}", f"/periods/{PERIOD}/results/{OWN}", "/periods",
                 f"/review/{PERIOD}/submission?commit={commits['gm']}"):
        for lang in ("zh", "en"):  # English words are longer
            page.goto(f"{base}{path}{'&' if '?' in path else '?'}lang={lang}")
            fits(page, f"{path} ({lang})")
    page.goto(f"{base}/periods?lang=zh")
    page.goto(f"{base}/review/{PERIOD}")
    shot(page, "phone-review-dashboard", full=True)
    # HR's submission (nobody approves their own: the gm's has no button)
    page.goto(f"{base}/review/{PERIOD}/submission?commit={commits['script']}")
    fits(page, "submission")
    # the reason the executive approves is on the screen, not behind a sideways scroll
    reason = page.locator("#submission-cells .rv-reason-cell").first
    box = reason.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert "返工" in reason.inner_text()  # SCRIPT_REASON, as text
    usable(page, "#approve")
    page.locator("#approve").scroll_into_view_if_needed()
    shot(page, "phone-review-submission")
    page.fill("#review-reason-input", "同意，客户续约已核实")
    page.click("#approve")
    page.wait_for_load_state()
    assert "已批准" in page.inner_text(".flash")
    assert "已批准" in page.inner_text("#review-state")
    fits(page, "submission after approval")


def test_hr_approves_the_period_on_a_phone(app, phone):
    """Periods are approved by HR by default (KPIBOOK_PERIOD_APPROVERS, docs/roles.md)."""
    page, base = phone
    _seed_review(app)
    sign_in(page, base, "hr")
    page.goto(f"{base}/periods/{PERIOD}")
    fits(page, "period page")
    button = 'button[data-action="approve"]'
    usable(page, button)
    page.click(button)
    page.wait_for_load_state()
    assert page.inner_text("#period-state").strip() == "已审批"
    fits(page, "period page after approval")


def _without_appeals(app) -> None:
    from server.db import session_scope
    from server.models import Appeal, Period

    make_world(app)
    with session_scope(app) as s:
        s.query(Appeal).delete()
        period = s.query(Period).filter_by(code=PERIOD).one()
        period.rules = {**period.rules, "indicators": [  # ratio indicators: percentages
            {**ind, "unit": "%"} for ind in period.rules["indicators"]]}


def _first_line_actual(app) -> object:
    from sqlalchemy import select

    from server.db import session_scope
    from server.models import ScoreRun

    with session_scope(app) as s:
        run = s.scalar(select(ScoreRun).order_by(ScoreRun.id.desc()).limit(1))
        return next(ln["actual"] for ln in stored_run.lines(run)
                    if ln["employee_id"] == OWN)


def test_manager_appeals_and_reads_the_answer_on_a_phone(app, phone, browser, live_server):
    page, base = phone
    _without_appeals(app)
    sign_in(page, base, OWN)
    page.goto(f"{base}/me")
    fits(page, "my results")
    page.goto(f"{base}/me/{PERIOD}")
    fits(page, "my result")
    usable(page, "#acknowledge")
    usable(page, "#appeal")
    # a ratio indicator's actual as a percentage, as the page's one formatter shows it
    from server.display import measure

    actual = _first_line_actual(app)
    assert page.inner_text("#lines td[data-label]").strip().endswith(measure(actual, "%"))
    # every figure of every line is on the screen (no sideways scroll to find the points)
    for cell in page.locator("#lines td").all():
        box = cell.bounding_box()
        assert box is not None and box["x"] + box["width"] <= PHONE["width"], box
    shot(page, "phone-result", full=True)
    page.fill("#appeal-reason", "本月产线停工两天，产量目标应相应调整。")
    page.click("#appeal")
    page.wait_for_load_state()
    assert "申诉已提交" in page.inner_text(".flash")
    assert "等待人力资源部答复" in page.inner_text("#appeal-state")
    fits(page, "result with an open appeal")
    # HR answers (on a phone too), the manager then reads "answered", not "in progress"
    context = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True)
    hr = context.new_page()
    sign_in(hr, live_server, "hr")
    hr.goto(f"{live_server}/appeals")
    fits(hr, "appeals")
    hr.click("#appeals a")
    fits(hr, "appeal")
    hr.fill("#answer", "已核实停工记录，维持原分数。")
    usable(hr, "#send-answer")
    hr.click("#send-answer")
    hr.wait_for_load_state()
    assert "待经理确认" in hr.inner_text("#appeal-status")
    context.close()
    page.reload()
    assert "人力资源部已答复" in page.inner_text("#appeal-state")
    usable(page, "#confirm-answer")
    page.click("#confirm-answer")
    page.wait_for_load_state()
    assert "申诉结束" in page.inner_text(".flash")
    fits(page, "result after confirming")


def test_manager_acknowledges_on_a_phone(app, phone):
    page, base = phone
    _without_appeals(app)
    sign_in(page, base, OTHER)
    page.goto(f"{base}/me/{PERIOD}")
    usable(page, "#acknowledge")
    page.click("#acknowledge")
    page.wait_for_load_state()
    assert "已确认考核结果" in page.inner_text(".flash")
    assert "您已确认本期结果" in page.inner_text("#feedback")
    fits(page, "acknowledged result")


def test_provenance_page_fits_a_phone(app, phone):
    import datetime as dt
    from decimal import Decimal

    from server.db import session_scope
    from server.models import Period, SourceFact

    page, base = phone
    make_world(app)
    with session_scope(app) as s:
        period = s.query(Period).filter_by(code=PERIOD).one()
        s.add(SourceFact(period_id=period.id, employee_id=OWN, indicator="PROD_EFF",
                         field="actual", value_num=Decimal("0.855"), raw_value="85.5%",
                         unit="%", source="erp",
                         request="GET https://erp.example.com/api/v2/kpi/production-efficiency"
                                 "/by-manager {'period': '2025-03', 'page_size': 500}",
                         fetched_at=dt.datetime(2025, 4, 1, 16, 12, tzinfo=dt.UTC),
                         fetched_by="hr"))
    sign_in(page, base, "hr")
    for path in (f"/sync/{PERIOD}", f"/sync/{PERIOD}/facts/{OWN}/PROD_EFF"):
        page.goto(base + path)
        fits(page, path)
    shot(page, "phone-provenance")
