"""The org-sync page through the real app (Flask test client, CSRF on): HR syncs, sees the
proposal, applies it with a reason; auditors read only; platform text is escaped."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.db import session_scope
from server.models import Employee, RosterChange
from sync.simulators.org_data import demo_changes
from tests.web.conftest import csrf_from

pytestmark = pytest.mark.both_databases


def _post(client, path, **form):
    page = client.get("/admin/roster")
    return client.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                   **form})


def _active(app, employee_id):
    with session_scope(app) as s:
        return s.scalar(select(Employee.active).where(Employee.employee_id == employee_id))


def test_hr_syncs_reviews_and_applies_with_a_reason(roster_app, dingtalk, web_login):
    client = roster_app.test_client()
    web_login(client, "hr", "hr_admin")
    page = client.get("/admin/roster")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "dingtalk" in html and "daily 02:00" in html and "立即同步" in html
    assert _post(client, "/admin/roster/sync", source="dingtalk").status_code == 302
    with session_scope(roster_app) as s:
        first = s.scalar(select(RosterChange.id))
    assert _post(client, "/admin/roster/apply", change_id=first, reason="初始导入",
                 effective_date="2026-12-01").status_code == 302

    demo_changes(dingtalk.org)
    _post(client, "/admin/roster/sync", source="dingtalk")
    html = client.get("/admin/roster").get_data(as_text=True)
    with session_scope(roster_app) as s:
        second = s.scalar(select(RosterChange.id).where(RosterChange.state == "proposed"))
    assert f'id="proposal-{second}"' in html
    for text in ("调动", "离职", "待核实", "二车间", "三车间", "2026-11-20", "吴刚"):
        assert text in html, text
    assert _active(roster_app, "M1006") is True  # proposed, not applied

    refused = _post(client, "/admin/roster/apply", change_id=second, reason="",
                    effective_date="2026-12-01")
    assert refused.status_code == 422 and _active(roster_app, "M1006") is True
    done = _post(client, "/admin/roster/apply", change_id=second, reason="12月组织调整",
                 effective_date="2026-12-01")
    assert done.status_code == 302
    html = client.get("/admin/roster").get_data(as_text=True)
    assert "12月组织调整" in html and f'id="decided-{second}"' in html
    assert f'id="proposal-{second}"' not in html
    assert _active(roster_app, "M1006") is False and _active(roster_app, "M1005") is True
    with session_scope(roster_app) as s:
        row = s.get(RosterChange, second)
        assert (row.decided_by, row.reason) == ("hr", "12月组织调整")


def test_auditor_reads_but_cannot_sync_or_apply(roster_app, web_login):
    hr = roster_app.test_client()
    web_login(hr, "hr", "hr_admin")
    _post(hr, "/admin/roster/sync", source="dingtalk")
    client = roster_app.test_client()
    web_login(client, "audit", "auditor")
    html = client.get("/admin/roster").get_data(as_text=True)
    assert "周建国" in html and "应用到名单" not in html and "立即同步" not in html
    with session_scope(roster_app) as s:
        change_id = s.scalar(select(RosterChange.id))
    assert _post(client, "/admin/roster/apply", change_id=change_id, reason="x",
                 effective_date="2026-12-01").status_code == 403
    assert _post(client, "/admin/roster/sync", source="dingtalk").status_code == 403
    employee = roster_app.test_client()
    web_login(employee, "M1004", "employee", employee_id="M1004")
    assert employee.get("/admin/roster").status_code == 403


def test_platform_text_is_escaped(roster_app, dingtalk, web_login):
    dingtalk.org.person("dtm1004").title = '<script>alert("x")</script>'
    client = roster_app.test_client()
    web_login(client, "hr", "hr_admin")
    _post(client, "/admin/roster/sync", source="dingtalk")
    html = client.get("/admin/roster").get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html


def test_a_platform_error_is_shown_and_changes_nothing(roster_app, dingtalk, web_login):
    from sync.simulators.platform import SimAnswer

    dingtalk.fail("/api/v1.0/oauth2/accessToken",
                  SimAnswer(400, {"code": "invalidClientIdOrSecret", "message": "bad"}))
    client = roster_app.test_client()
    web_login(client, "hr", "hr_admin")
    answer = _post(client, "/admin/roster/sync", source="dingtalk")
    assert answer.status_code == 422
    assert "invalidClientIdOrSecret" in answer.get_data(as_text=True)
    assert "invalidClientIdOrSecret" in client.get("/admin/roster").get_data(as_text=True)
