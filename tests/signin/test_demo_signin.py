"""`kpibook demo` (scripts/run) signs in with every platform of its connectors file: the
simulators start with the demo, the org sync's identities bind 周建国 to gm."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select

from server.db import session_scope
from server.models import User, WebSession
from sync.simulators.demo import DEMO_CONFIG, DemoOrg
from tests.signin.conftest import local, scan, start


def test_the_demo_signs_in_with_each_platform(app, monkeypatch, tmp_path):
    from server.demo import prepare_demo_org, setup_demo

    org = DemoOrg().start()
    try:
        for key, value in org.environment().items():
            monkeypatch.setenv(key, value)
        app.config["SYNC_CONFIG"] = str(DEMO_CONFIG)
        setup_demo(app, tmp_path / "workbooks")
        prepare_demo_org(app, org)
        page = app.test_client().get("/login").get_data(as_text=True)
        for name in ("dingtalk", "feishu", "wecom", "sso"):
            assert f'id="signin-{name}"' in page, name
            client = app.test_client()
            back = scan(start(client, name), "dtg0001")  # 周建国
            resp = client.get(local(back))
            assert resp.status_code == 302, (name, resp.get_data(as_text=True))
            target = urlsplit(resp.headers["Location"]).path
            # the platforms' QR sign-in is gm's second factor; the SSO's id_token has no amr
            assert target == ("/login/verify" if name == "sso" else "/"), name
        with session_scope(app) as s:
            gm = s.scalar(select(User.id).where(User.name == "gm"))
            assert len(s.scalars(select(WebSession).where(WebSession.user_id == gm)).all()) \
                == 3
    finally:
        org.stop()
