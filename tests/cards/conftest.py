"""Fixtures of the card tests: the web tests' small world (tests/web/conftest.py), the
DingTalk, Feishu and WeCom simulators (real HTTP on 127.0.0.1) and a connectors file whose
[[notify]] tables send cards through them, addressed by org identities."""

from __future__ import annotations

import pytest

from tests.orgsync.conftest import write_org_config
from tests.web.conftest import OTHER, OWN, make_world  # noqa: F401 - re-exported for tests
from tests.web.conftest import world as world  # noqa: F401 - the fixture

# Our people as the simulated platforms know them (sync/simulators/org_data.py demo_org)
PLATFORM_IDS = {OWN: "dtm1001", OTHER: "dtm1002", "G0001": "dtg0001", "A0001": "dta0001"}
AGENTS = {"dingtalk": "3000001", "feishu": "", "wecom": "1000002"}


@pytest.fixture
def sims():
    from sync.simulators.dingtalk import DingTalkSimulator
    from sync.simulators.feishu import FeishuSimulator
    from sync.simulators.wecom import WeComSimulator

    with DingTalkSimulator() as d, FeishuSimulator() as f, WeComSimulator() as w:
        yield {"dingtalk": d, "feishu": f, "wecom": w}


@pytest.fixture(autouse=True)
def _fresh_leases(monkeypatch):
    from server.services import pull, reminders

    monkeypatch.setattr(pull, "_STATUS", {})
    monkeypatch.setattr(reminders, "_RUN_DAYS", {})


def link_people(app, users: dict[str, str]) -> None:
    """Accounts -> 工号 (gm is G0001, hr A0001) and the org sync's identities of everyone on
    every platform."""
    from sqlalchemy import select

    from server.db import session_scope
    from server.models import OrgIdentity, User

    with session_scope(app) as s:
        for name, employee_id in users.items():
            s.scalar(select(User).where(User.name == name)).employee_id = employee_id
        for source in AGENTS:
            for employee_id, uid in PLATFORM_IDS.items():
                s.add(OrgIdentity(source=source, user_id=uid, employee_id=employee_id))


@pytest.fixture
def cards_app(app, world, sims, tmp_path):  # noqa: F811 - world is the fixture above
    path = tmp_path / "connectors.toml"
    write_org_config(path, list(sims.values()))
    lines = [path.read_text(encoding="utf-8")]
    for platform, agent in AGENTS.items():
        lines.append(f'[[notify]]\norg = "{platform}"\n' +
                     (f'agent_id = "{agent}"\n' if agent else ""))
    path.write_text("\n".join(lines), encoding="utf-8")
    app.config.update(SYNC_CONFIG=str(path), NOTIFY_RETRY_SECONDS=60, NOTIFY_MAX_ATTEMPTS=3)
    link_people(app, {"gm": "G0001", "hr": "A0001"})
    return app
