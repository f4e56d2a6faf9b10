"""The daily reminder of pending approvals ("待审批 N 人"): the count per approver (their
scope, never their own adjustments), one card per approver and platform, once a day
(idempotent across runs, workers and the CLI), on the workers' schedule."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from server.db import session_scope
from server.models import Adjustment, Employee, Notification, Period
from tests.cards.conftest import PLATFORM_IDS
from tests.web.conftest import OTHER, OTHER_DEPT, OWN, OWN_DEPT, PERIOD

pytestmark = pytest.mark.both_databases
GM = PLATFORM_IDS["G0001"]
MORNING = dt.datetime(2026, 12, 8, 1, 30, tzinfo=dt.UTC)  # 09:30 in Asia/Shanghai
EARLY = dt.datetime(2026, 12, 8, 0, 30, tzinfo=dt.UTC)  # 08:30


@pytest.fixture
def in_review(cards_app, world):
    """The world's period waits for executives: the department head adjusted OWN twice and
    M1003 (both in gm's department) and OTHER (outside it); gm adjusted M1005 himself."""
    with session_scope(cards_app) as s:
        s.add_all([Employee(employee_id="M1003", name="李强", department=OWN_DEPT),
                   Employee(employee_id="M1005", name="刘洋", department=OWN_DEPT)])
        period = s.scalar(select(Period).where(Period.code == PERIOD))
        period.state = "in_review"
        head, gm = world.users["dept_head"], world.users["executive"]
        for emp, ind, author, author_id, status in (
                (OWN, "PROD_EFF", "head", head, "active"),
                (OWN, "QUALITY", "head", head, "active"),
                ("M1003", "PROD_EFF", "head", head, "active"),
                ("M1003", "QUALITY", "head", head, "superseded"),
                (OTHER, "PROD_EFF", "head", head, "active"),
                ("M1005", "PROD_EFF", "gm", gm, "active")):
            s.add(Adjustment(period_id=period.id, employee_id=emp, indicator=ind,
                             points=Decimal(1), reason="测试", author=author,
                             author_id=author_id, status=status))
    return cards_app


def _pending(app, name):
    from server.models import User
    from server.services.reminders import pending_approvals

    with session_scope(app) as s:
        return pending_approvals(s, s.scalar(select(User).where(User.name == name)))


def test_pending_counts_people_in_scope_not_ones_own(in_review, db_backend):
    pending = _pending(in_review, "gm")
    assert (pending.people, pending.periods) == (2, (PERIOD,))  # OWN and M1003
    # without a department scope everyone counts: OWN, M1003, OTHER (in OTHER_DEPT), M1005
    assert _pending(in_review, "hr").people == 4 and OTHER_DEPT != OWN_DEPT


def test_one_reminder_per_approver_and_day(in_review, sims, db_backend):
    from server.services.reminders import send_reminders

    report = send_reminders(in_review, now=MORNING)
    assert report.day == "2026-12-08" and len(report.sent) == 1
    for sim in sims.values():
        [card] = sim.cards_for(GM)
        assert card.title == "待审批 2 人"
        assert card.button == "去审批"
        assert card.url == f"https://kpi.example.com:8443/review/{PERIOD}"
        assert PERIOD in card.text and "2026-12-08 09:30 UTC+08:00" in card.text
        assert "2 people" in card.note
    again = send_reminders(in_review, now=MORNING + dt.timedelta(hours=3))
    assert again.sent == [] and len(again.skipped) == 1
    assert all(len(sim.cards_for(GM)) == 1 for sim in sims.values())
    tomorrow = send_reminders(in_review, now=MORNING + dt.timedelta(days=1))
    assert len(tomorrow.sent) == 1
    assert all(len(sim.cards_for(GM)) == 2 for sim in sims.values())
    with session_scope(in_review) as s:
        keys = sorted(s.scalars(select(Notification.dedupe_key).where(
            Notification.kind == "approvals_reminder")))
    assert len(keys) == 6 and keys[0].startswith("reminder:2026-12-08:")


def test_nothing_pending_nothing_sent(cards_app, sims, world, db_backend):
    from server.services.reminders import send_reminders

    report = send_reminders(cards_app, now=MORNING)
    assert (report.sent, report.nothing) == ([], 1)
    assert all(sim.inbox == [] for sim in sims.values())


def test_the_schedule_sends_after_the_reminder_time_once(in_review, sims, db_backend):
    from server.services import reminders

    in_review.config["REMINDER_TIME"] = "09:00"
    assert reminders.run_scheduled(in_review, EARLY) is None
    assert sims["dingtalk"].inbox == []
    assert len(reminders.run_scheduled(in_review, MORNING).sent) == 1
    assert reminders.run_scheduled(in_review, MORNING + dt.timedelta(minutes=1)) is None
    reminders._RUN_DAYS.clear()  # another worker's tick: the day's keys refuse it
    assert reminders.run_scheduled(in_review, MORNING + dt.timedelta(minutes=2)).sent == []
    assert len(sims["dingtalk"].cards_for(GM)) == 1
    in_review.config["REMINDER_TIME"] = ""
    assert reminders.run_scheduled(in_review, MORNING + dt.timedelta(days=1)) is None


def test_a_failed_reminder_is_retried_not_sent_again(in_review, sims, db_backend):
    from server.services.cards import retry_due
    from server.services.reminders import send_reminders

    sims["feishu"].throttle_cards(1)
    send_reminders(in_review, now=MORNING)
    with session_scope(in_review) as s:
        row = s.scalar(select(Notification).where(Notification.channel == "feishu"))
        due = row.next_attempt_at.replace(tzinfo=dt.UTC)
        assert row.status == "retrying"
    assert send_reminders(in_review, now=MORNING).sent == []  # the day's key is taken
    assert retry_due(in_review, due).sent == 1
    assert [c.title for c in sims["feishu"].inbox] == ["待审批 2 人"]


def test_the_commands(in_review, sims, monkeypatch, db_backend):
    from server.cli import main

    cfg = in_review.config
    for key in ("DATABASE_URL", "SYNC_CONFIG", "BASE_URL", "HISTORY_DIR", "INSTANCE_PATH"):
        monkeypatch.setenv(f"KPIBOOK_{key}", str(cfg[key]))
    sims["wecom"].fail_cards(1)
    out = CliRunner().invoke(main, ["notify", "remind", "--date", "2026-12-08"],
                             catch_exceptions=False).output
    assert "reminded 总经理 周建国: 2" in out and "1 reminded" in out
    out = CliRunner().invoke(main, ["notify", "remind", "--date", "2026-12-08"],
                             catch_exceptions=False).output
    assert "0 reminded, 1 already reminded that day" in out
    with session_scope(in_review) as s:
        row = s.scalar(select(Notification).where(Notification.channel == "wecom"))
        row.next_attempt_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)  # due now
    out = CliRunner().invoke(main, ["notify", "retry"], catch_exceptions=False).output
    assert "1 sent, 0 failed again" in out
    assert len(sims["wecom"].cards_for(GM)) == 1
    result = CliRunner().invoke(main, ["notify", "remind", "--date", "8.12."])
    assert result.exit_code != 0 and "--date" in result.output
    # an approver added with their 工号 and language
    out = CliRunner().invoke(main, ["users", "add", "cfo", "--role", "executive",
                                    "--display-name", "财务总监", "--employee-id", "A0001",
                                    "--lang", "en"], catch_exceptions=False).output
    assert "created user cfo" in out
    with session_scope(in_review) as s:
        from server.models import User

        cfo = s.scalar(select(User).where(User.name == "cfo"))
        assert (cfo.employee_id, cfo.lang) == ("A0001", "en")
