"""The cards as the simulated platforms received them, on the simulators' preview pages in
Debian's chromium: the button opens kpibook's page, untrusted text stays text.

Screenshots go to $KPIBOOK_SCREENSHOTS (default /tmp/kpibook-cards); the ones in docs/img
were made with ``KPIBOOK_SCREENSHOTS=docs/img``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from server.db import session_scope
from server.models import User
from tests.cards.test_cards import BASE, GM, _event
from tests.web.conftest import PERIOD

SHOTS = Path(os.environ.get("KPIBOOK_SCREENSHOTS", "/tmp/kpibook-cards"))


@pytest.fixture
def card_page(browser):
    context = browser.new_context(viewport={"width": 440, "height": 560}, locale="zh-CN",
                                  device_scale_factor=2)
    context.route("**/*", lambda route: route.continue_()
                  if route.request.url.startswith("http://127.0.0.1:") else route.abort())
    page = context.new_page()
    yield page
    context.close()


def test_each_platforms_card_as_received(cards_app, sims, card_page):
    _event(cards_app, "submit", "scored", "in_review")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for platform, sim in sims.items():
        [card] = sim.cards_for(GM)
        card_page.goto(f"{sim.url}/_sim/cards/{card.n}")
        section = card_page.locator(f'section[data-card="{card.n}"]')
        assert f"期间 {PERIOD} 有调整待审批" in section.inner_text()
        assert "一车间主任 已提交" in section.inner_text()  # the display name, not "head"
        button = section.get_by_role("link", name="去审批")
        assert button.get_attribute("href") == f"{BASE}/review/{PERIOD}"
        section.screenshot(path=str(SHOTS / f"card-{platform}.png"))
    # the list page shows every card received
    page = requests.get(f"{sims['dingtalk'].url}/_sim/cards", timeout=10)
    assert page.headers["Content-Type"].startswith("text/html") and "去审批" in page.text
    assert requests.get(f"{sims['dingtalk'].url}/_sim/cards/99", timeout=10).status_code == 404


def test_untrusted_text_stays_text(cards_app, sims, card_page):
    with session_scope(cards_app) as s:
        s.scalar(select(User).where(User.name == "head")).display_name = "<i>一车间主任</i>"
    _event(cards_app, "submit", "scored", "in_review")
    for sim in sims.values():
        [card] = sim.cards_for(GM)
        card_page.goto(f"{sim.url}/_sim/cards/{card.n}")
        assert "<i>一车间主任</i> 已提交" in card_page.inner_text("body")
        assert card_page.locator("i").count() == 0
