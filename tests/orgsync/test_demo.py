"""`kpibook demo`'s org sync: the three simulated platforms, the initial load and the changes
waiting for HR (what scripts/run shows on /admin/roster)."""

from __future__ import annotations

from sqlalchemy import select

from server.db import session_scope
from server.models import Employee, RosterChange
from sync.simulators.demo import DEMO_CONFIG, DemoOrg


def test_demo_org_sync_waits_for_hr(app, monkeypatch, tmp_path):
    from server.demo import prepare_demo_org, setup_demo

    org = DemoOrg().start()
    try:
        for key, value in org.environment().items():
            monkeypatch.setenv(key, value)
        app.config["SYNC_CONFIG"] = str(DEMO_CONFIG)
        setup_demo(app, tmp_path / "workbooks")
        note = prepare_demo_org(app, org)
        with session_scope(app) as s:
            rows = s.scalars(select(RosterChange).order_by(RosterChange.id)).all()
            assert [(r.source, r.state) for r in rows] == [("dingtalk", "applied"),
                                                           ("dingtalk", "proposed")]
            waiting = {c["employee_id"]: c["kind"] for c in rows[-1].changes}
            assert waiting == {"M1005": "flagged", "M1006": "left", "M1008": "moved",
                               "M1009": "added"}
            assert f"#{rows[-1].id}" in note
            assert s.scalar(select(Employee.active).where(Employee.employee_id == "M1006"))
        # Feishu and WeCom see the same organisation and propose the same changes
        for name in ("feishu", "wecom"):
            from server.services import orgsync

            with session_scope(app) as s:
                change = orgsync.sync_now(s, app.config, name, "test")
                assert {c["employee_id"]: c["kind"] for c in change.changes} == waiting
        # running the demo again keeps what is there
        prepare_demo_org(app, org)
        with session_scope(app) as s:
            assert s.scalar(select(RosterChange.id).where(
                RosterChange.source == "dingtalk", RosterChange.state == "proposed")) == \
                rows[-1].id
    finally:
        org.stop()
