"""`kpibook demo` (scripts/run) shows cards working: its connectors file sends them to the
simulated DingTalk, Feishu and WeCom, addressed by the identities its org sync recorded."""

from __future__ import annotations

from sqlalchemy import select

from server.db import session_scope
from server.models import Notification, Period, PeriodEvent
from sync.simulators.demo import DEMO_CONFIG, DemoOrg


def test_demo_sends_cards_to_the_simulated_platforms(app, monkeypatch, tmp_path):
    from server import notify, workflow
    from server.demo import prepare_demo_org, setup_demo

    org = DemoOrg().start()
    try:
        for key, value in org.environment().items():
            monkeypatch.setenv(key, value)
        app.config["SYNC_CONFIG"] = str(DEMO_CONFIG)
        info = setup_demo(app, tmp_path / "workbooks")
        prepare_demo_org(app, org)
        with session_scope(app) as s:
            # October holds three scorecards: the manufacturing one's adjustments wait
            period = s.scalar(select(Period).where(Period.code == info["period"],
                                                   Period.scorecard == "manufacturing"))
            event = PeriodEvent(period_id=period.id, action="submit", from_state="scored",
                                to_state="in_review", reason="", actor="hr")
            s.add(event)
            s.flush()
            event_id, period_id, history_key = event.id, period.id, period.history_key
        with app.test_request_context():
            notify.on_period_event(workflow.PeriodEventInfo(
                info["period"], "submit", "scored", "in_review", "", "hr", event_id,
                period_id, history_key))
        for sim in org.simulators:  # the executive 总经理 周建国 is dtg0001 on each platform
            [card] = sim.cards_for("dtg0001")
            assert card.url.endswith(f"/review/{info['period']}?scorecard=manufacturing")
            assert card.button == "去审批"
            assert "人力资源部 李娜" in card.text
        with session_scope(app) as s:
            rows = s.scalars(select(Notification)).all()
            assert {(r.channel, r.status) for r in rows} == {
                ("dingtalk", "sent"), ("feishu", "sent"), ("wecom", "sent")}
    finally:
        org.stop()
