"""The add-in's read-only endpoints against the real app and database, with a real git
history: GET /api/v1/periods/<code>/lines/<employee>/<indicator> (the task pane's selected
line) and GET /api/v1/figures (the custom functions). Scoping: a department head or executive
never gets another department's line, figure, reason or name."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.review.conftest import OTHER_REASON, SCRIPT_REASON
from tests.web.conftest import OTHER, OTHER_NAME, OWN, PERIOD

pytestmark = pytest.mark.both_databases


def get(client, token: str, path: str, **params):
    return client.get(path, query_string=params, headers={"Authorization": f"Bearer {token}"})


def line_path(employee: str = OWN, indicator: str = "PROD_EFF", period: str = PERIOD) -> str:
    return f"/api/v1/periods/{period}/lines/{employee}/{indicator}"


def test_hr_sees_explanation_history_provenance_range_and_links(client, addin_tokens):
    resp = get(client, addin_tokens["hr_admin"], line_path(), lang="zh")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["name"] == "张伟" and body["indicator_name"] == "生产效率"
    # the world is scored by the engine (tests/web/conftest.py: a direct rating of 40)
    assert body["explanation"] == "直接评分 40 = 40.00"
    assert body["line"]["points"] == "40.00"
    # newest first: HR's re-check after the general manager's first adjustment
    assert [(h["who"], h["old"], h["new"], h["reason"]) for h in body["history"]] == [
        ("人力资源部 李娜", "+2.00", "+3.00", "再次核对后上调"),
        ("总经理 周建国", None, "+2.00", "大客户续约\n见邮件 3/28"),
    ]
    assert all(h["when"].endswith("Z") and h["kind"] == "adjustment" for h in body["history"])
    [fact] = body["facts"]
    assert (fact["source"], fact["raw_value"], fact["value"], fact["unit"]) == (
        "erp", "98.0%", "0.98", "%")
    assert fact["request"] == "GET /erp/output?dept=一车间&month=2025-03"
    assert fact["fetched_at"] == "2025-04-02T01:30:00Z" and fact["status"] == "已获取"
    # when the line's data was last pulled, in the company's time zone (KPIBOOK_TIMEZONE)
    assert fact["fetched_at_text"] == "2025-04-02 09:30 UTC+08:00"
    assert body["last_pulled"] == "获取于 2025-04-02 09:30 UTC+08:00（hr）"
    # HR is bounded by the rules table only (PROD_EFF: 5 up, 5 down)
    assert body["adjust"] == {"allowed": True, "min": "-5.00", "max": "+5.00",
                              "current": "+0.00", "more": "+5.00", "less": "+5.00"}
    base = "https://kpi.example.com:8443"
    assert body["links"] == {
        "review": f"{base}/review/{PERIOD}/cell/{OWN}?indicator=PROD_EFF",
        "person": f"{base}/review/{PERIOD}/people/{OWN}",
        "facts": f"{base}/sync/{PERIOD}/facts/{OWN}/PROD_EFF"}


def test_a_hostile_reason_comes_back_as_data(client, addin_tokens):
    body = get(client, addin_tokens["hr_admin"], line_path(indicator="QUALITY")).get_json()
    reasons = [h["reason"] for h in body["history"]]
    assert reasons == ['=HYPERLINK("http://x")', SCRIPT_REASON]


def test_the_executives_range_comes_from_the_policy(app, client, addin_tokens):
    """gm: authority max 3 points (tighter than the rules' 5); the range's ends are exactly
    where server/policy.py starts refusing."""
    from sqlalchemy import select

    from server import policy
    from server.db import session_scope
    from server.models import User

    body = get(client, addin_tokens["executive"], line_path(), lang="en").get_json()
    assert body["adjust"] == {"allowed": True, "min": "-3.00", "max": "+3.00",
                              "current": "+0.00", "more": "+3.00", "less": "+3.00"}
    with session_scope(app) as s:
        gm = s.scalar(select(User).where(User.name == "gm"))
        change = policy.Change(OWN, "一车间", "PROD_EFF", Decimal(0))
        for points, allowed in (("3", True), ("3.01", False), ("-3", True), ("-3.01", False)):
            refused = policy.adjustment_refusals(gm, policy.Change(
                change.employee_id, change.department, change.indicator, Decimal(points)))
            assert (not refused) is allowed, points


def test_a_department_head_outside_adjustable_by_gets_the_reason_not_a_range(client,
                                                                          addin_tokens):
    body = get(client, addin_tokens["dept_head"], line_path(indicator="QUALITY"),
               lang="en").get_json()
    assert body["adjust"]["allowed"] is False
    assert body["adjust"]["reasons"] == ["indicator QUALITY may only be adjusted by 总经理"]
    assert "min" not in body["adjust"]
    own = get(client, addin_tokens["dept_head"], line_path(), lang="en").get_json()
    assert (own["adjust"]["min"], own["adjust"]["max"]) == ("-2.00", "+2.00")


@pytest.mark.parametrize("role", ["executive", "dept_head"])
def test_another_departments_line_is_refused_and_tells_nothing(client, addin_tokens, role):
    resp = get(client, addin_tokens[role], line_path(OTHER), lang="en")
    assert resp.status_code == 403
    text = resp.get_data(as_text=True)
    for secret in (OTHER_NAME, OTHER_REASON, "91%", "达成率", "二车间"):
        assert secret not in text


def test_auditors_read_without_a_range_and_managers_only_their_published_line(
        app, client, addin_tokens):
    body = get(client, addin_tokens["auditor"], line_path(OTHER)).get_json()
    assert body["adjust"] is None and body["name"] == OTHER_NAME
    # the period is in review: a manager does not see even their own line yet
    assert get(client, addin_tokens["employee"], line_path()).status_code == 404
    assert get(client, addin_tokens["employee"], line_path(OTHER)).status_code == 403
    from sqlalchemy import select

    from server.db import session_scope
    from server.models import Period

    with session_scope(app) as s:
        s.scalar(select(Period).where(Period.code == PERIOD)).state = "published"
    own = get(client, addin_tokens["employee"], line_path())
    assert own.status_code == 200 and own.get_json()["adjust"] is None


def test_a_frozen_period_offers_no_range(app, client, addin_tokens):
    from sqlalchemy import select

    from server.db import session_scope
    from server.models import Period

    with session_scope(app) as s:
        s.scalar(select(Period).where(Period.code == PERIOD)).state = "published"
    body = get(client, addin_tokens["executive"], line_path(), lang="en").get_json()
    assert body["adjust"] == {"allowed": False, "reasons": ["the period is published"]}


def test_unknown_period_line_and_missing_token(client, addin_tokens):
    hr = addin_tokens["hr_admin"]
    assert get(client, hr, line_path(period="2031-01")).status_code == 404
    assert get(client, hr, line_path(indicator="NOPE")).status_code == 404
    missing = client.get(line_path())
    assert missing.status_code == 401 and missing.is_json


def test_figures_hr_reads_everyone_of_the_latest_run(client, addin_tokens):
    resp = get(client, addin_tokens["hr_admin"], "/api/v1/figures",
               employee=[OWN, OTHER, "NOBODY"])
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["period"] == PERIOD and body["run_no"] == 1
    assert body["unknown"] == ["NOBODY"]
    own = body["people"][OWN]
    assert (own["total"], own["grade"], own["rank"], own["group_rank"]) == ("90.00", "A", 1, 1)
    assert own["lines"]["PROD_EFF"]["points"] == "40.00"
    assert own["lines"]["QUALITY"]["explanation"] == "直接评分 50 = 50.00"
    assert body["people"][OTHER]["grade"] == "B"


@pytest.mark.parametrize("role", ["executive", "dept_head"])
def test_figures_of_another_department_look_unknown(client, addin_tokens, role):
    resp = get(client, addin_tokens[role], "/api/v1/figures", employee=[OTHER, OWN],
               period=PERIOD)
    body = resp.get_json()
    assert list(body["people"]) == [OWN] and body["unknown"] == [OTHER]
    assert OTHER_NAME not in resp.get_data(as_text=True)
    assert "85" not in resp.get_data(as_text=True)


def test_figures_refuse_bad_requests(client, addin_tokens):
    hr = addin_tokens["hr_admin"]
    assert get(client, hr, "/api/v1/figures").status_code == 400
    assert get(client, hr, "/api/v1/figures", employee=[f"E{i}" for i in range(201)]
               ).status_code == 400
    assert get(client, hr, "/api/v1/figures", employee=OWN, period="2031-01").status_code == 404
    employee = addin_tokens["employee"]  # in review: not published, nothing to read yet
    assert get(client, employee, "/api/v1/figures", employee=OWN).status_code == 404
