"""Cards to each person on DingTalk, Feishu and WeCom, through the simulators over HTTP:
every event on every platform, language and time zone, retries after outages and rate
limits (one worker per delivery), users the platform does not know, HR's view and retry."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from server.db import session_scope
from server.models import Notification, PeriodEvent, User
from tests.cards.conftest import PLATFORM_IDS
from tests.web.conftest import OTHER, OWN, PERIOD, sign_in

pytestmark = pytest.mark.both_databases
BASE = "https://kpi.example.com:8443"
UTC_1612 = dt.datetime(2026, 12, 7, 8, 12, tzinfo=dt.UTC)  # 16:12 in Asia/Shanghai
GM, OWN_UID = PLATFORM_IDS["G0001"], PLATFORM_IDS[OWN]


def _event(app, action: str, from_state: str, to_state: str, actor: str = "head") -> None:
    from server import notify, workflow
    from server.models import Period

    with session_scope(app) as s:
        period = s.scalar(select(Period).where(Period.code == PERIOD))
        row = PeriodEvent(period_id=period.id, action=action, from_state=from_state,
                          to_state=to_state, reason="", actor=actor, created_at=UTC_1612)
        s.add(row)
        s.flush()
        event_id, period_id, history_key = row.id, period.id, period.history_key
    with app.test_request_context():
        notify.on_period_event(workflow.PeriodEventInfo(PERIOD, action, from_state, to_state,
                                                        "", actor, event_id, period_id,
                                                        history_key))


def _rows(app, **where) -> list[Notification]:
    with session_scope(app) as s:
        rows = list(s.scalars(select(Notification).filter_by(**where).order_by(Notification.id)))
        s.expunge_all()
        return rows


def _set_lang(app, name: str, lang: str) -> None:
    with session_scope(app) as s:
        s.scalar(select(User).where(User.name == name)).lang = lang


def test_each_event_reaches_each_platform_with_its_button(cards_app, sims, world, db_backend):
    from server import notify

    _event(cards_app, "submit", "scored", "in_review")  # adjustments to approve -> gm
    _event(cards_app, "publish", "approved", "published", actor="hr")  # results -> managers
    with cards_app.test_request_context():
        notify.appeal_created(world.appeals["own"], PERIOD, "张伟", UTC_1612)  # -> hr
        notify.appeal_answered(world.appeals["own"], UTC_1612)  # -> the manager
    expected = {
        (GM, "adjustments_to_approve"): (f"期间 {PERIOD} 有调整待审批", "去审批",
                                         f"{BASE}/review/{PERIOD}"),
        (OWN_UID, "result_to_acknowledge"): (f"期间 {PERIOD} 考核结果已发布", "查看结果",
                                             f"{BASE}/me/{PERIOD}"),
        (PLATFORM_IDS[OTHER], "result_to_acknowledge"): (
            f"期间 {PERIOD} 考核结果已发布", "查看结果", f"{BASE}/me/{PERIOD}"),
        (PLATFORM_IDS["A0001"], "appeal_to_answer"): (
            f"期间 {PERIOD} 有新的申诉待答复", "去答复",
            f"{BASE}/appeals/{world.appeals['own']}"),
        (OWN_UID, "answer_to_confirm"): ("您的申诉已答复，请确认", "查看答复",
                                         f"{BASE}/appeals/{world.appeals['own']}"),
    }
    for platform, sim in sims.items():
        got = [(c.user_id, c.title, c.button, c.url) for c in sim.inbox]
        assert sorted(got) == sorted((uid, *v) for (uid, _), v in expected.items()), platform
    rows = [r for r in _rows(cards_app) if r.channel in sims]
    assert len(rows) == 3 * len(expected)
    assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}
    gm_card = sims["dingtalk"].cards_for(GM)[0]
    # display names, not logins; the company's time zone
    assert "一车间主任" in gm_card.text and "head " not in gm_card.text
    assert "2026-12-07 16:12 UTC+08:00" in gm_card.text
    # the platforms' own shapes arrived
    dt_body = gm_card.body
    assert dt_body["agent_id"] == 3000001 and dt_body["userid_list"] == GM
    assert dt_body["msg"]["action_card"]["single_url"] == f"{BASE}/review/{PERIOD}"
    assert sims["wecom"].cards_for(GM)[0].body["template_card"]["card_type"] == "text_notice"
    assert sims["feishu"].cards_for(GM)[0].body["msg_type"] == "interactive"


def test_cards_speak_the_recipients_language(cards_app, sims, world, db_backend):
    _set_lang(cards_app, "gm", "en")
    _event(cards_app, "submit", "scored", "in_review")
    for sim in sims.values():
        card = sim.cards_for(GM)[0]
        assert card.title == f"Adjustments of period {PERIOD} wait for approval"
        assert card.button == "Review and approve"
        assert "(at 2026-12-07 16:12 UTC+08:00)" in card.text
        assert "请审批" in card.note  # the other language as a footnote
    row = _rows(cards_app, channel="dingtalk")[0]
    assert row.subject.startswith("Adjustments of period")


def test_an_outage_is_retried_with_backoff_and_then_delivered(cards_app, sims, db_backend):
    from server.services.cards import retry_due

    sims["dingtalk"].fail_cards(1)
    _event(cards_app, "submit", "scored", "in_review")
    [row] = _rows(cards_app, channel="dingtalk")
    assert (row.status, row.attempts) == ("retrying", 1)
    assert "500" in row.error and row.lease_until is None
    wait = (row.next_attempt_at.replace(tzinfo=dt.UTC) - row.updated_at.replace(tzinfo=dt.UTC))
    assert wait == dt.timedelta(seconds=60)
    assert sims["dingtalk"].inbox == [] and len(sims["feishu"].inbox) == 1
    # not due yet: nothing is attempted
    assert retry_due(cards_app, row.updated_at.replace(tzinfo=dt.UTC)).sent == 0
    sims["dingtalk"].fail_cards(1)
    report = retry_due(cards_app, row.next_attempt_at.replace(tzinfo=dt.UTC))
    assert (report.sent, report.retrying) == (0, 1)
    [row] = _rows(cards_app, channel="dingtalk")
    wait = (row.next_attempt_at.replace(tzinfo=dt.UTC) - row.updated_at.replace(tzinfo=dt.UTC))
    assert (row.attempts, wait) == (2, dt.timedelta(seconds=120))  # doubled
    report = retry_due(cards_app, row.next_attempt_at.replace(tzinfo=dt.UTC))
    assert report.sent == 1
    [row] = _rows(cards_app, channel="dingtalk")
    assert (row.status, row.attempts, row.error, row.next_attempt_at) == ("sent", 3, "", None)
    assert [c.user_id for c in sims["dingtalk"].inbox] == [GM]


@pytest.mark.parametrize("platform,code", [("dingtalk", "90018"), ("feishu", "99991400"),
                                           ("wecom", "45009")])
def test_rate_limits_are_retried_later(cards_app, sims, platform, code, db_backend):
    from server.services.cards import retry_due

    sims[platform].throttle_cards(1)
    _event(cards_app, "submit", "scored", "in_review")
    [row] = _rows(cards_app, channel=platform)
    assert row.status == "retrying" and code in row.error
    assert retry_due(cards_app, row.next_attempt_at.replace(tzinfo=dt.UTC)).sent == 1
    assert [c.user_id for c in sims[platform].inbox] == [GM]


def test_attempts_stop_at_the_limit(cards_app, sims, db_backend):
    from server.services.cards import retry_due

    sims["wecom"].fail_cards(10)
    _event(cards_app, "submit", "scored", "in_review")
    for _ in range(5):
        [row] = _rows(cards_app, channel="wecom")
        if row.next_attempt_at is None:
            break
        retry_due(cards_app, row.next_attempt_at.replace(tzinfo=dt.UTC))
    [row] = _rows(cards_app, channel="wecom")
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 3, None)


@pytest.mark.parametrize("platform", ["dingtalk", "feishu", "wecom"])
def test_a_user_the_platform_does_not_know_is_reported_not_retried(cards_app, sims, platform,
                                                                   db_backend):
    from server.models import OrgIdentity
    from server.services.cards import retry_due

    with session_scope(cards_app) as s:
        for row in s.scalars(select(OrgIdentity).where(OrgIdentity.employee_id == "G0001")):
            row.user_id = "dtghost"  # left the company since the last org sync
    _event(cards_app, "submit", "scored", "in_review")
    [row] = _rows(cards_app, channel=platform)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 1, None)
    assert "dtghost" in row.error
    assert {"dingtalk": "invalid_user_id_list", "feishu": "invalid receive_id",
            "wecom": "81013"}[platform] in row.error
    assert retry_due(cards_app, dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).sent == 0
    assert sims[platform].inbox == []


def test_people_without_a_platform_account_are_reported(cards_app, sims, db_backend):
    from server.models import OrgIdentity

    with session_scope(cards_app) as s:
        for row in s.scalars(select(OrgIdentity).where(OrgIdentity.employee_id == "G0001")):
            s.delete(row)
    _event(cards_app, "submit", "scored", "in_review")
    rows = [r for r in _rows(cards_app) if r.channel in sims]
    assert {(r.status, r.attempts) for r in rows} == {("failed", 0)}
    assert "has no dingtalk account" in next(r.error for r in rows if r.channel == "dingtalk")


def test_a_delivery_held_by_another_worker_is_not_sent_twice(cards_app, sims, db_backend):
    from server.services import cards

    sims["feishu"].fail_cards(1)
    _event(cards_app, "submit", "scored", "in_review")
    [row] = _rows(cards_app, channel="feishu")
    due = row.next_attempt_at.replace(tzinfo=dt.UTC)
    with session_scope(cards_app) as s:  # another worker claimed it a moment ago
        other = s.get(Notification, row.id)
        other.lease_owner, other.lease_until = "other-worker", due + dt.timedelta(minutes=5)
    assert cards.retry_due(cards_app, due).sent == 0
    assert sims["feishu"].inbox == []
    with session_scope(cards_app) as s:  # and its claim on the row is the only one
        assert not cards._claim(s, row.id, due)
    # the other worker died: its lease runs out and the row is due again, for one of us
    later = due + dt.timedelta(minutes=6)
    assert cards.retry_due(cards_app, later).sent == 1
    assert cards.retry_due(cards_app, later).sent == 0
    assert len(sims["feishu"].cards_for(GM)) == 1


def test_hr_sees_failures_and_retries_now(cards_app, sims, world, client, db_backend):
    sims["wecom"].fail_cards(1)
    _event(cards_app, "submit", "scored", "in_review")
    [row] = _rows(cards_app, channel="wecom")
    assert sign_in(client, "hr").status_code == 302
    page = client.get("/admin/notifications").get_data(as_text=True)
    assert "等待重试 1" in page and f'data-id="{row.id}" data-status="retrying"' in page
    assert "Retry now" in page or "立即重试" in page
    page = client.get("/admin/notifications?status=retrying").get_data(as_text=True)
    assert page.count('data-status="retrying"') == 1 and 'data-status="sent"' not in page
    from tests.web.conftest import csrf_from

    resp = client.post(f"/admin/notifications/{row.id}/retry",
                       data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 302
    [row] = _rows(cards_app, channel="wecom")
    assert (row.status, row.attempts) == ("sent", 2)
    assert [c.user_id for c in sims["wecom"].inbox] == [GM]
    page = client.get("/admin/notifications").get_data(as_text=True)
    assert "没有未送达的通知" in page
    # a sent one is not sent again
    resp = client.post(f"/admin/notifications/{row.id}/retry",
                       data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 409
    assert len(sims["wecom"].inbox) == 1


def test_the_auditor_reads_but_cannot_retry(cards_app, sims, world, client, db_backend):
    sims["wecom"].fail_cards(1)
    _event(cards_app, "submit", "scored", "in_review")
    [row] = _rows(cards_app, channel="wecom")
    assert sign_in(client, "auditor").status_code == 302
    page = client.get("/admin/notifications").get_data(as_text=True)
    assert f'data-id="{row.id}"' in page and "立即重试" not in page
    from tests.web.conftest import csrf_from

    resp = client.post(f"/admin/notifications/{row.id}/retry",
                       data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 403
    assert sims["wecom"].inbox == []
