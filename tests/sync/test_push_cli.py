"""The inbound push API (authenticated per source, idempotent) and `kpibook pull`."""

from __future__ import annotations

from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from server.db import session_scope
from server.models import Period, PushedRecord, SourceFact
from sync.simulators.demo import DEMO_CONFIG

PUSH_CONFIG = """
[[source]]
name = "qms_push"
kind = "push"
token_env = "T_QMS_PUSH_TOKEN"
employee_key = "工号"
external_id = "ncr_no"

[[source.indicator]]
indicator = "QUALITY_INCIDENT"
aggregate = "sum"
value = "incidents"
unit = "起"
range = [0, 50]
"""


@pytest.fixture
def push_app(app, tmp_path, monkeypatch):
    path = tmp_path / "push.toml"
    path.write_text(PUSH_CONFIG, encoding="utf-8")
    app.config["SYNC_CONFIG"] = str(path)
    monkeypatch.setenv("T_QMS_PUSH_TOKEN", "push-secret-qms")
    with session_scope(app) as s:
        s.add(Period(code="2026-10", template_code="manufacturing", state="collecting"))
    return app


def post(client, body, token="push-secret-qms", key=None):
    headers = {"Authorization": f"Bearer {token}"}
    if key:
        headers["Idempotency-Key"] = key
    return client.post("/api/v1/facts", json=body, headers=headers)


def incidents(app) -> dict[str, Decimal]:
    with session_scope(app) as s:
        return {f.employee_id: f.value.normalize() for f in s.scalars(
            select(SourceFact).where(SourceFact.indicator == "QUALITY_INCIDENT"))}


BODY = {"source": "qms_push", "period": "2026-10", "records": [
    {"ncr_no": "NCR-1", "工号": "M1001", "incidents": 1, "title": "焊缝气孔"},
    {"ncr_no": "NCR-2", "工号": "M1002", "incidents": 1, "title": "尺寸超差"},
    {"ncr_no": "NCR-3", "工号": "M1002", "incidents": 1, "title": "漏检"}]}


def test_push_is_idempotent(push_app, client):
    r = post(client, BODY, key="req-1")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["created"] == 3
    assert incidents(push_app) == {"M1001": 1, "M1002": 2}

    # the client's retry of the same request: same answer, nothing counted twice
    r = post(client, BODY, key="req-1")
    assert r.status_code == 200 and r.get_json()["replayed"] is True
    # the same records again under a new key (a client that re-sends everything)
    r = post(client, BODY, key="req-2")
    assert r.get_json()["unchanged"] == 3 and r.get_json()["created"] == 0
    assert incidents(push_app) == {"M1001": 1, "M1002": 2}

    # a correction of one external id replaces it
    fix = {**BODY, "records": [{"ncr_no": "NCR-1", "工号": "M1001", "incidents": 2}]}
    r = post(client, fix, key="req-3")
    assert r.get_json()["updated"] == 1
    assert incidents(push_app) == {"M1001": 2, "M1002": 2}
    with session_scope(push_app) as s:
        assert s.query(PushedRecord).count() == 3
        fact = s.scalar(select(SourceFact).where(SourceFact.employee_id == "M1001"))
        assert fact.source == "qms_push" and fact.fetched_by.startswith("push/")
        assert "sum of 1 records" in fact.request

    r = post(client, fix | {"records": [{"ncr_no": "NCR-1", "工号": "M1001",
                                         "incidents": 3}]}, key="req-3")
    assert r.status_code == 409 and "already used" in r.get_json()["error"]


def test_push_refuses_bad_tokens_and_bad_records(push_app, client):
    assert post(client, BODY, token="wrong").status_code == 401
    assert post(client, {**BODY, "source": "erp"}).status_code == 401
    bad = {**BODY, "records": [
        {"ncr_no": "NCR-9", "工号": "M9999", "incidents": 1},
        {"ncr_no": "NCR-10", "工号": "M1001", "incidents": "one"},
        {"工号": "M1001", "incidents": 1}]}
    r = post(client, bad)
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert "record 3: field ncr_no: missing" in error
    with session_scope(push_app) as s:
        assert s.query(PushedRecord).count() == 0
    bad["records"] = bad["records"][:2]
    error = post(client, bad).get_json()["error"]
    assert "record 1 (NCR-9): 工号: unknown employee 'M9999'" in error
    assert "record 2 (NCR-10): incidents: 'one' is not a number" in error
    assert incidents(push_app) == {}


def test_push_into_a_frozen_period_is_refused(push_app, client):
    assert post(client, BODY).status_code == 201
    with session_scope(push_app) as s:
        s.scalar(select(Period)).state = "approved"
    more = {**BODY, "records": [{"ncr_no": "NCR-4", "工号": "M1001", "incidents": 5}]}
    r = post(client, more)
    assert r.status_code == 409 and "frozen" in r.get_json()["error"]
    assert incidents(push_app) == {"M1001": 1, "M1002": 2}


def test_cli_pull_prints_progress_per_source(app, db_url, tmp_path, monkeypatch, sources):
    from server.commands import pull_command

    with session_scope(app) as s:
        s.add(Period(code="2026-10", template_code="manufacturing", state="collecting"))
    monkeypatch.setenv("KPIBOOK_DATABASE_URL", db_url)
    monkeypatch.setenv("KPIBOOK_INSTANCE_PATH", str(tmp_path / "inst"))
    result = CliRunner().invoke(pull_command, ["2026-10", "--config", str(DEMO_CONFIG),
                                               "--by", "nightly"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for name in ("erp", "crm", "attendance", "qms", "rating"):
        assert any(line.split("]")[-1].split()[0] == name and " done " in line
                   for line in lines), name
    assert "jira" not in result.output  # an R&D source: not for a manufacturing period
    assert "53 stored" in lines[-1]

    sources.fault("/crm/", "down", times=None)
    result = CliRunner().invoke(pull_command, ["2026-10", "--config", str(DEMO_CONFIG)])
    assert result.exit_code == 2, result.output
    assert "crm: FAILED, last good values kept and marked stale: HTTP 503" in result.output
    assert "8 kept stale" in result.output.splitlines()[-1]
    with session_scope(app) as s:
        sales = s.scalars(select(SourceFact).where(SourceFact.indicator == "SALES")).all()
        assert len(sales) == 8 and all(f.stale and f.fetched_by == "nightly" for f in sales)


def test_a_second_pull_of_the_same_period_waits_its_turn(app):
    from server.services import pull as pull_service
    from server.services.errors import Conflict
    from sync.config import load_config

    with session_scope(app) as s:
        s.add(Period(code="2026-10", template_code="manufacturing", state="collecting"))
    running = pull_service.PullStatus("2026-10", started_at="2026-11-02T16:02:00", by="li")
    pull_service._STATUS["2026-10"] = running
    try:
        with session_scope(app) as s, pytest.raises(Conflict, match="already running"):
            pull_service.run_pull(s, s.scalar(select(Period)), "hr",
                                  load_config(DEMO_CONFIG), app.config)
    finally:
        running.state = "done"
