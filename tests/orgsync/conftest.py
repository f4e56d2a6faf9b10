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
