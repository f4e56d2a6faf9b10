"""Fixtures of the org-sync tests: the DingTalk, Feishu and WeCom simulators (real HTTP on
127.0.0.1) and org sources pointing at them (no waiting: backoff 0, platform waits capped)."""

from __future__ import annotations

import pytest

from sync.org.config import OrgSourceConfig, parse_org_config
from sync.simulators import dingtalk as dt_sim
from sync.simulators import feishu as fs_sim
from sync.simulators import wecom as wc_sim


def org_source(sim, **options) -> OrgSourceConfig:
    base = {"name": sim.platform, "platform": sim.platform, "backoff": 0, "max_wait": 0,
            "retries": 3}
    if sim.platform == "dingtalk":
        base.update(url=sim.oapi_url, api_url=sim.api_url, appkey=dt_sim.APP_KEY,
                    appsecret=dt_sim.APP_SECRET)
    elif sim.platform == "feishu":
        base.update(url=sim.url, app_id=fs_sim.APP_ID, app_secret=fs_sim.APP_SECRET)
    else:
        base.update(url=sim.url, corpid=wc_sim.CORP_ID, corpsecret=wc_sim.CORP_SECRET,
                    employee_key="extattr:工号")
    base.update(options)
    return parse_org_config({"org": [base]})[0]


@pytest.fixture
def dingtalk():
    with dt_sim.DingTalkSimulator(page_size=2) as sim:
        yield sim


@pytest.fixture
def feishu():
    with fs_sim.FeishuSimulator(page_size=2) as sim:
        yield sim


@pytest.fixture
def wecom():
    with wc_sim.WeComSimulator() as sim:
        yield sim


@pytest.fixture(params=["dingtalk", "feishu", "wecom"])
def platform(request):
    """Each platform's simulator in turn."""
    return request.getfixturevalue(request.param)


@pytest.fixture(autouse=True)
def _fresh_leases(monkeypatch):
    """SQLite keeps run leases in process memory (server/services/pull.py): each test starts
    without the runs of earlier tests."""
    from server.services import pull

    monkeypatch.setattr(pull, "_STATUS", {})


def write_org_config(path, sims, schedule: str = "", **extra) -> str:
    """A connectors file with an [[org]] table per simulator (secrets inline: tests only)."""
    lines = []
    for sim in sims:
        src = org_source(sim, **extra)
        lines.append("[[org]]")
        lines.append(f'name = "{src.name}"')
        lines.append(f'platform = "{src.platform}"')
        lines.append(f'employee_key = "{src.employee_key}"')
        for key, value in src.options.items():
            value = str(value).lower() if isinstance(value, bool) else repr(value)
            lines.append(f"{key} = {value}".replace("'", '"'))
        lines.append("backoff = 0\nmax_wait = 0")
        if schedule:
            lines.append(f'schedule = "{schedule}"')
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return str(path)


@pytest.fixture
def roster_app(app, tmp_path, dingtalk, feishu):
    """The app with a connectors file naming the DingTalk and Feishu simulators, and the
    demo's manufacturing roster in the Employee table."""
    from server.db import session_scope
    from server.models import Employee
    from server.workbook.template_content import MANUFACTURING

    app.config["SYNC_CONFIG"] = write_org_config(tmp_path / "org.toml", [dingtalk, feishu],
                                                 schedule="daily 02:00")
    with session_scope(app) as s:
        for m in MANUFACTURING.roster:
            s.add(Employee(employee_id=m.employee_id, name=m.name, department=m.department,
                           position=m.position, email=m.email, manager=m.manager))
    return app
