"""Each connector against a real HTTP server on 127.0.0.1 speaking its source's protocol,
including the faults: a timeout, a 500 then success, 429 with Retry-After, malformed JSON."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from sync.config import PeriodWindow, SourceConfig, parse_config
from sync.connectors import FetchContext, fetch
from sync.errors import SourceError
from sync.mapping import map_records
from sync.pull import pull_sources
from sync.simulators import server as sim_server
from sync.simulators.data import SimData, demo_data, staff_no
from sync.simulators.server import SourceSimulator

WINDOW = PeriodWindow.of("2026-10")


@pytest.fixture
def sim():
    with SourceSimulator(demo_data("2026-10"), page_size=500) as s:
        yield s


def erp(url: str, **extra) -> dict:
    return {"name": "erp", "kind": "rest", "url": f"{url}/erp/api/v1/production",
            "params": {"from": "{period_start}", "to": "{period_end}"}, "items": "items",
            "auth": {"type": "oauth2", "token_url": f"{url}/oauth/token",
                     "client_id": "kpibook", "client_secret_env": "T_ERP_SECRET"},
            "pagination": {"type": "cursor", "size": 50},
            "employee_key": "staff_no", "timeout": 1, "retries": 3, "backoff": 0.05,
            "indicator": [{"indicator": "PROD_EFF", "aggregate": "ratio",
                           "numerator": "output_qty", "denominator": "planned_qty",
                           "unit": "%"}], **extra}


def one(raw: dict) -> SourceConfig:
    return parse_config({"source": [raw]}).sources[0]


def test_rest_oauth2_client_credentials_and_cursor_pages(sim, monkeypatch):
    monkeypatch.setenv("T_ERP_SECRET", sim_server.CLIENT_SECRET)
    source = one(erp(sim.url))
    got = fetch(source, WINDOW, FetchContext())
    assert len(got.records) == 8 * 20 and got.pages == 4  # 160 records, 50 a page
    assert sum("/oauth/token" in r for r in sim.requests) == 1
    assert any("cursor=50" in r for r in sim.requests)
    mapped = map_records(source, got.records, None, got.request)
    values = {f.employee_id: f.value for f in mapped.facts}
    assert values[staff_no("M1001")] == Decimal("0.988")


def test_oauth2_wrong_secret_is_a_clear_source_error(sim, monkeypatch):
    monkeypatch.setenv("T_ERP_SECRET", "wrong")
    with pytest.raises(SourceError) as exc:
        fetch(one(erp(sim.url)), WINDOW, FetchContext())
    assert exc.value.source == "erp" and "token" in str(exc.value)
    monkeypatch.delenv("T_ERP_SECRET")
    with pytest.raises(SourceError, match="T_ERP_SECRET"):
        fetch(one(erp(sim.url)), WINDOW, FetchContext())


def test_500_then_success_is_retried(sim, monkeypatch):
    monkeypatch.setenv("T_ERP_SECRET", sim_server.CLIENT_SECRET)
    sim.fault("/erp/", "500", times=2)
    got = fetch(one(erp(sim.url)), WINDOW, FetchContext())
    assert len(got.records) == 160
    assert sum(r.startswith("GET /erp/") for r in sim.requests) == 4 + 2


def test_429_waits_for_retry_after(sim, monkeypatch):
    monkeypatch.setenv("T_ERP_SECRET", sim_server.CLIENT_SECRET)
    sim.fault("/erp/", "429", times=1)
    began = time.perf_counter()
    got = fetch(one(erp(sim.url)), WINDOW, FetchContext())
    assert time.perf_counter() - began >= 0.95  # Retry-After: 1, not the 0.05 s backoff
    assert len(got.records) == 160


def test_timeout_gives_up_after_bounded_retries(sim, monkeypatch):
    monkeypatch.setenv("T_ERP_SECRET", sim_server.CLIENT_SECRET)
    sim.fault("/erp/", "timeout", times=None)
    source = one(erp(sim.url, timeout=0.3, retries=1))
    began = time.perf_counter()
    with pytest.raises(SourceError, match=r"timed out after 0.3 s .*2 attempts"):
        fetch(source, WINDOW, FetchContext())
    assert time.perf_counter() - began < 3


def test_malformed_json_names_the_page(sim, monkeypatch):
    monkeypatch.setenv("T_ERP_SECRET", sim_server.CLIENT_SECRET)
    sim.fault("/erp/", "malformed", times=1)
    with pytest.raises(SourceError, match=r"malformed JSON in page 1"):
        fetch(one(erp(sim.url)), WINDOW, FetchContext())


def test_one_source_down_does_not_stop_the_others(sim, monkeypatch):
    monkeypatch.setenv("T_ERP_SECRET", sim_server.CLIENT_SECRET)
    monkeypatch.setenv("T_CRM", sim_server.CRM_TOKEN)
    crm = {"name": "crm", "kind": "rest", "url": f"{sim.url}/crm/api/deliveries",
           "items": "data", "auth": {"type": "bearer", "token_env": "T_CRM"},
           "pagination": {"type": "page", "size": 10, "total_pages_field": "total_pages"},
           "employee_key": "salesperson",
           "indicator": [{"indicator": "SALES", "value": "amount_yuan", "scale": "0.0001"}]}
    config = parse_config({"source": [erp(sim.url, timeout=0.3, retries=0), crm]})
    sim.fault("/erp/", "timeout", times=None)
    seen = []
    outcomes = pull_sources(config, WINDOW, on_progress=lambda p: seen.append(
        (p.source, p.state)))
    by = {o.source: o for o in outcomes}
    assert not by["erp"].ok and "timed out" in by["erp"].error
    assert by["crm"].ok and len(by["crm"].facts) == 8
    assert {f.value for f in by["crm"].facts if f.employee_id == staff_no("M1001")} == {450}
    assert ("erp", "failed") in seen and ("crm", "done") in seen
    assert sum(r.startswith("GET /crm/") for r in sim.requests) == 4  # 32 orders, 10 a page


def test_link_header_pagination(sim, monkeypatch):
    monkeypatch.setenv("T_GL", sim_server.GITLAB_TOKEN)
    source = one({"name": "gitlab", "kind": "rest",
                  "url": f"{sim.url}/gitlab/api/v4/merge_requests",
                  "auth": {"type": "header", "header": "PRIVATE-TOKEN", "token_env": "T_GL"},
                  "pagination": {"type": "link", "size": 250, "size_param": "per_page"},
                  "employee_key": "author_username",
                  "indicator": [{"indicator": "CODE_REVIEW", "aggregate": "ratio",
                                 "numerator": "reviewed", "denominator": {"where": {}}}]})
    got = fetch(source, WINDOW, FetchContext())
    assert len(got.records) == 600 and got.pages == 3


def test_jira_search_with_jql(sim, monkeypatch):
    monkeypatch.setenv("T_JIRA", sim_server.JIRA_TOKEN)
    source = one({"name": "jira", "kind": "jira", "url": f"{sim.url}/jira",
                  "jql": "project = RD AND resolved >= '{period_start}'", "page_size": 100,
                  "auth": {"type": "basic", "username": sim_server.JIRA_USER,
                           "password_env": "T_JIRA"},
                  "employee_key": "assignee",
                  "indicator": [{"indicator": "PROJ_PROGRESS", "aggregate": "ratio",
                                 "numerator": {"field": "story_points",
                                               "where": {"issuetype": "Story", "done": 1}},
                                 "denominator": {"field": "story_points",
                                                 "where": {"issuetype": "Story",
                                                           "labels": "planned"}},
                                 "unit": "%"}]})
    got = fetch(source, WINDOW, FetchContext())
    assert len(got.records) == len(sim.data.jira_issues)
    assert any("jql=project+%3D+RD+AND+resolved+%3E%3D+%272026-10-01%27" in r
               for r in sim.requests)
    facts = {f.employee_id: f.value for f in map_records(source, got.records, None,
                                                         got.request).facts}
    assert facts == {"R2001": Decimal("0.96"), "R2002": Decimal("1.05"),
                     "R2003": Decimal("0.82"), "R2004": Decimal("0.9"),
                     "R2005": Decimal("1"), "R2006": Decimal("0.88")}


def test_dingtalk_attendance(sim, monkeypatch):
    monkeypatch.setenv("T_DT", sim_server.DINGTALK_SECRET)
    users = {f"dtm100{i}": f"M100{i}" for i in range(1, 9)}
    source = one({"name": "attendance", "kind": "dingtalk", "url": f"{sim.url}/dingtalk",
                  "appkey": sim_server.DINGTALK_KEY, "appsecret_env": "T_DT", "batch": 3,
                  "limit": 20, "employee_key": "userId", "key_map": users,
                  "indicator": [{"indicator": "ATTEND", "aggregate": "count",
                                 "where": {"timeResult": ["Late", "SeriousLate"]},
                                 "zero_fill": True}]})
    got = fetch(source, WINDOW, FetchContext())
    assert len(got.records) == 8 * 20
    bodies = [r for r in sim.requests if "attendance/list" in r]
    assert len(bodies) >= 5 * 3  # five 7-day windows x three user batches
    facts = {f.employee_id: f.value for f in map_records(
        source, got.records, set(users.values()), got.request, got.subjects).facts}
    assert facts == {"M1001": 2, "M1002": 0, "M1003": 6, "M1004": 1, "M1005": 0, "M1006": 3,
                     "M1007": 1, "M1008": 4}


def test_dingtalk_bad_secret(sim, monkeypatch):
    monkeypatch.setenv("T_DT", "nope")
    source = one({"name": "attendance", "kind": "dingtalk", "url": f"{sim.url}/dingtalk",
                  "appkey": sim_server.DINGTALK_KEY, "appsecret_env": "T_DT",
                  "user_ids": ["dtm1001"],
                  "indicator": [{"indicator": "ATTEND", "aggregate": "count"}]})
    with pytest.raises(SourceError, match="gettoken: errcode 40089"):
        fetch(source, WINDOW, FetchContext())


def test_empty_source_is_not_an_error_but_has_no_values():
    with SourceSimulator(SimData("2026-10")) as empty:
        import os

        os.environ["T_ERP_SECRET"] = sim_server.CLIENT_SECRET
        try:
            got = fetch(one(erp(empty.url)), WINDOW, FetchContext())
        finally:
            del os.environ["T_ERP_SECRET"]
    assert got.records == [] and got.pages == 1


def test_jira_cloud_next_page_token(sim, monkeypatch):
    monkeypatch.setenv("T_JIRA", sim_server.JIRA_TOKEN)
    source = one({"name": "jira", "kind": "jira", "api": "cloud", "url": f"{sim.url}/jira",
                  "jql": "project = RD", "page_size": 100,
                  "auth": {"type": "basic", "username": sim_server.JIRA_USER,
                           "password_env": "T_JIRA"},
                  "employee_key": "assignee",
                  "indicator": [{"indicator": "PROD_INCIDENT", "aggregate": "count",
                                 "where": {"issuetype": "Incident"}}]})
    got = fetch(source, WINDOW, FetchContext())
    assert len(got.records) == len(sim.data.jira_issues)
    assert got.pages == -(-len(sim.data.jira_issues) // 100)
    assert any("nextPageToken=100" in r for r in sim.requests)
    facts = {f.employee_id: f.value for f in map_records(source, got.records, None,
                                                         got.request).facts}
    assert facts == {"R2003": 1}


def test_offset_pagination(sim, monkeypatch):
    monkeypatch.setenv("T_CRM", sim_server.CRM_TOKEN)
    source = one({"name": "crm", "kind": "rest", "url": f"{sim.url}/crm/api/deliveries",
                  "items": "data", "auth": {"type": "bearer", "token_env": "T_CRM"},
                  "pagination": {"type": "offset", "size": 5}, "employee_key": "salesperson",
                  "indicator": [{"indicator": "SALES", "value": "amount_yuan"}]})
    got = fetch(source, WINDOW, FetchContext())
    assert len(got.records) == 32 and got.pages == 7  # 6 full pages and a short one
    assert any("offset=30&limit=5" in r for r in sim.requests)
