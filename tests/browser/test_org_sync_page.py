"""The org-sync page (/admin/roster) in Debian's chromium: HR syncs from the simulated
DingTalk, reviews the proposal and applies it with a reason; desktop and phone width.
Screenshots go to $KPIBOOK_SCREENSHOTS (default /tmp/kpibook-web)."""

from __future__ import annotations

from sqlalchemy import select

from server.db import session_scope
from server.models import Employee
from sync.simulators.dingtalk import DingTalkSimulator
from sync.simulators.org_data import demo_changes
from tests.browser.test_web_pages import shot, sign_in, web  # noqa: F401 - the fixture
from tests.orgsync.conftest import write_org_config


def test_hr_applies_a_roster_change_in_the_browser(web, app, tmp_path):  # noqa: F811
    page, base = web
    with DingTalkSimulator() as dingtalk:
        app.config["SYNC_CONFIG"] = write_org_config(tmp_path / "org.toml", [dingtalk])
        sign_in(page, base, "hr")
        page.goto(f"{base}/admin/roster")
        page.click("#org-sources button[type=submit]")  # 立即同步
        assert "请审核后应用" in page.inner_text(".flash")
        page.fill(".apply-form input[name=reason]", "初次从钉钉导入")
        page.click(".apply-form button[type=submit]")
        assert "已应用名单变更" in page.inner_text(".flash")

        demo_changes(dingtalk.org)  # a move, a leave, a hire, a narrowed scope
        page.click("#org-sources button[type=submit]")
        table = page.inner_text(".proposal table")
        for text in ("调动", "二车间", "三车间", "离职", "2026-11-20", "待核实", "吴刚"):
            assert text in table, text
        shot(page, "org-sync-proposal")
        page.set_viewport_size({"width": 390, "height": 844})
        # the page itself never scrolls sideways: wide tables scroll inside their wrapper
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shot(page, "org-sync-proposal-phone")
        page.set_viewport_size({"width": 1280, "height": 860})
        page.fill(".apply-form input[name=reason]", "12月组织调整")
        page.click(".apply-form button[type=submit]")
        assert "1 人待人工核实" in page.inner_text(".flash")
        assert "12月组织调整" in page.inner_text("#decided")
    with session_scope(app) as s:
        active = dict(s.execute(select(Employee.employee_id, Employee.active)).all())
    assert active["M1006"] is False and active["M1005"] is True and active["M1009"] is True
