"""[[notify]] tables of the connectors file: each names an [[org]] table (URL, credentials,
identities); mistakes are named with the file and table."""

from __future__ import annotations

import pytest

from sync.cards import EVENTS, parse_card_channels
from sync.errors import ConfigError

ORGS = [{"name": "dingtalk", "platform": "dingtalk", "url": "https://oapi.dingtalk.com",
         "api_url": "https://api.dingtalk.com", "appkey": "k", "appsecret_env": "X"},
        {"name": "feishu", "platform": "feishu", "url": "https://open.feishu.cn",
         "app_id": "cli", "app_secret_env": "Y"},
        {"name": "wecom", "platform": "wecom", "url": "${KPIBOOK_TEST_UNSET_WECOM_URL}",
         "corpid": "ww", "corpsecret_env": "Z"}]


def test_channels_use_their_org_tables():
    [dt, fs] = parse_card_channels({"org": ORGS, "notify": [
        {"org": "dingtalk", "agent_id": "3000001", "events": ["approvals_reminder"]},
        {"org": "feishu", "name": "lark"}]}, "c.toml")
    assert (dt.name, dt.platform, dt.agent_id, dt.events) == \
        ("dingtalk", "dingtalk", "3000001", ("approvals_reminder",))
    assert dt.wants("approvals_reminder") and not dt.wants("result_to_acknowledge")
    assert (fs.name, fs.platform, fs.events, fs.org.url()) == \
        ("lark", "feishu", EVENTS, "https://open.feishu.cn")
    # the wecom table's unset ${VAR} does not matter: no channel names it
    assert parse_card_channels({"org": ORGS}) == ()


@pytest.mark.parametrize("notify,why", [
    ({"org": "slack"}, "org = 'slack' names no [[org]] table"),
    ({"org": "dingtalk"}, "agent_id (the app's number) is required for dingtalk"),
    ({"org": "dingtalk", "agent_id": "x1"}, "agent_id"),
    ({"org": "feishu", "events": ["published"]}, "unknown events ['published']"),
    ({"org": "wecom", "agent_id": "1"}, "KPIBOOK_TEST_UNSET_WECOM_URL is not set"),
])
def test_mistakes_are_named(notify, why):
    with pytest.raises(ConfigError) as exc:
        parse_card_channels({"org": ORGS, "notify": [notify]}, "c.toml")
    assert why in str(exc.value) and "c.toml" in str(exc.value)


def test_a_channel_name_is_used_once():
    with pytest.raises(ConfigError, match="used twice"):
        parse_card_channels({"org": ORGS, "notify": [{"org": "feishu"}, {"org": "feishu"}]})
