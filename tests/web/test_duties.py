"""Separation of duties (docs/roles.md): one finding, one test, through the real server
(Flask test client on the real app, database and git history)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from server.db import session_scope
from server.models import Adjustment, HistoryCommit, Notification, Period, PeriodEvent, ScoreRun
from tests.review.conftest import seed_history
from tests.web.conftest import (
    OTHER,
    OTHER_NAME,
    OWN,
    PERIOD,
    csrf_from,
    make_world,
    sign_in,
)

pytestmark = pytest.mark.both_databases


def _post(client, page_url: str, url: str, **form):
    page = client.get(page_url)
    return client.post(url, data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                  **form})


def _count(app, model) -> int:
    with session_scope(app) as s:
        return s.scalar(select(func.count()).select_from(model))


def _state(app) -> str:
    with session_scope(app) as s:
        return s.scalar(select(Period.state).where(Period.code == PERIOD))


def test_a_department_head_who_is_scored_may_not_adjust_his_own_result(app, web_login):
    make_world(app, state="in_review")
    head = app.test_client()
    # the head of OWN's department is himself the scored manager OWN
    web_login(head, "head2", "dept_head", authority={"departments": ["一车间"]},
              employee_id=OWN)
    before = {m.__name__: _count(app, m) for m in (Adjustment, ScoreRun, HistoryCommit)}
    url = f"/periods/{PERIOD}/results/{OWN}"
    resp = _post(head, url, url + "/adjust", indicator="PROD_EFF", points="2", reason="加班")
    assert resp.status_code == 403
    assert "不能调整自己的考核结果" in resp.get_data(as_text=True)
    assert {m.__name__: _count(app, m) for m in (Adjustment, ScoreRun, HistoryCommit)} \
        == before


@pytest.mark.parametrize("approvers,who,authority,status,says", [
    # default: HR approves the period; an executive does not
    (None, "gm2", {}, 403, "只能由人力资源管理员执行"),
    (None, "hr", None, 302, ""),
    # executives approve where configured, but only one whose scope covers the period
    (("executive",), "gm", None, 403, "您的授权范围不包含：二车间"),
    (("executive",), "gm2", {}, 302, ""),
])
def test_a_period_is_approved_only_by_someone_whose_scope_covers_it(
        app, web_login, approvers, who, authority, status, says):
    make_world(app, state="in_review")
    if approvers:
        app.config["PERIOD_APPROVERS"] = approvers
    client = app.test_client()
    if authority is None:
        sign_in(client, who)
    else:
        web_login(client, who, "executive", authority=authority)
    events = _count(app, PeriodEvent)
    resp = _post(client, f"/periods/{PERIOD}", f"/periods/{PERIOD}/transition",
                 action="approve")
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert says in resp.get_data(as_text=True)
    assert _state(app) == ("approved" if status == 302 else "in_review")
    assert _count(app, PeriodEvent) == events + (status == 302)


def _pending(html: str) -> int:
    m = re.search(r'class="rv-big">(\d+)<small>', html[html.index('id="progress-pending"'):])
    assert m, "no pending count on the dashboard"
    return int(m.group(1))


def test_a_reverted_submission_is_not_pending(app):
    make_world(app, state="in_review")
    commits = seed_history(app)
    hr = app.test_client()
    sign_in(hr, "hr")
    dash = hr.get(f"/review/{PERIOD}").get_data(as_text=True)
    before = _pending(dash)
    section = dash[dash.index('id="progress-pending"'):]
    assert commits["own2"][:10] in section[:section.index("</section>")]
    resp = _post(hr, f"/review/{PERIOD}/submission?commit={commits['own2']}",
                 f"/review/{PERIOD}/revert", commit=commits["own2"], reason="录入错误")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    dash = hr.get(f"/review/{PERIOD}").get_data(as_text=True)
    assert _pending(dash) == before - 1
    section = dash[dash.index('id="progress-pending"'):]
    assert commits["own2"][:10] not in section[:section.index("</section>")]


@pytest.mark.parametrize("action,state", [("publish", "approved"), ("close", "published")])
def test_publish_and_close_show_what_will_happen_and_need_a_confirmation(app, action, state):
    make_world(app, state=state)
    with session_scope(app) as s:  # OTHER's account is gone: they cannot see or answer
        from server.models import Appeal, User

        s.scalar(select(User).where(User.employee_id == OTHER)).active = False
        for a in s.scalars(select(Appeal)):
            a.status = "confirmed"
    hr = app.test_client()
    sign_in(hr, "hr")
    events, notes = _count(app, PeriodEvent), _count(app, Notification)
    resp = _post(hr, f"/periods/{PERIOD}", f"/periods/{PERIOD}/transition", action=action)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'id="confirm-form"' in page
    notified = page[page.index('id="notified"'):page.index('id="without-account"')]
    without = page[page.index('id="without-account"'):]
    assert OWN in notified and "zhang@example.com" in notified and OTHER not in notified
    assert OTHER in without and OTHER_NAME in without
    # nothing happened yet: no move, no notification
    assert _state(app) == state
    assert (_count(app, PeriodEvent), _count(app, Notification)) == (events, notes)
    # the service refuses an unconfirmed move whoever calls it
    from server import workflow
    from server.models import User
    from server.services.errors import BadRequest

    with app.test_request_context(), session_scope(app) as s:
        period = s.scalar(select(Period).where(Period.code == PERIOD))
        user = s.scalar(select(User).where(User.name == "hr"))
        with pytest.raises(BadRequest):
            workflow.transition(s, period, action, user)
    resp = _post(hr, f"/periods/{PERIOD}", f"/periods/{PERIOD}/transition", action=action,
                 confirmed="yes")
    assert resp.status_code == 302
    assert _state(app) == {"publish": "published", "close": "closed"}[action]
    assert _count(app, PeriodEvent) == events + 1
