"""The org-sync service on SQLite and PostgreSQL: proposals against the Employee table,
HR's apply (all or nothing, who and why recorded), leavers, movers, people only out of
scope, superseded proposals, leases and the schedule."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from server.db import session_scope
from server.models import Employee, OrgIdentity, RosterChange
from server.services import orgsync
from server.services.errors import Conflict, Unprocessable
from sync.simulators.org_data import demo_changes

pytestmark = pytest.mark.both_databases
DAY = dt.date(2026, 12, 1)


def _sync(app, name="dingtalk", by="cli"):
    with session_scope(app) as s:
        change = orgsync.sync_now(s, app.config, name, by)
        return None if change is None else change.id


def _apply(app, change_id, reason="月度组织同步", when=DAY, by="hr"):
    with session_scope(app) as s:
        done = orgsync.apply_roster_change(s, change_id, by, reason, when)
        return done.written, done.flagged


def _roster(app):
    with session_scope(app) as s:
        return {e.employee_id: (e.name, e.department, e.position, e.manager, e.active)
                for e in s.scalars(select(Employee))}


def _change(app, change_id):
    with session_scope(app) as s:
        row = s.get(RosterChange, change_id)
        s.expunge(row)
        return row


def test_first_sync_proposes_and_nothing_changes_until_applied(roster_app, db_backend):
    before = _roster(roster_app)
    change_id = _sync(roster_app)
    assert _roster(roster_app) == before  # a proposal only
    row = _change(roster_app, change_id)
    assert row.state == "proposed" and row.platform == "dingtalk" and row.created_by == "cli"
    assert {(c["kind"], c["employee_id"]) for c in row.changes} == \
        {("added", "G0001"), ("added", "A0001")}
    assert _apply(roster_app, change_id) == (2, 0)
    after = _roster(roster_app)
    assert after["G0001"] == ("周建国", "总经办", "总经理", "", True)
    row = _change(roster_app, change_id)
    assert (row.state, row.decided_by, row.reason, row.effective_date) == \
        ("applied", "hr", "月度组织同步", DAY)
    with session_scope(roster_app) as s:  # who is who on DingTalk, for the leave check
        assert s.scalar(select(OrgIdentity.user_id).where(
            OrgIdentity.employee_id == "M1006")) == "dtm1006"


def test_mover_leaver_newcomer_and_scope(roster_app, dingtalk, db_backend):
    _apply(roster_app, _sync(roster_app))
    demo_changes(dingtalk.org)
    change_id = _sync(roster_app)
    row = _change(roster_app, change_id)
    kinds = {c["employee_id"]: c for c in row.changes}
    assert {k: c["kind"] for k, c in kinds.items()} == \
        {"M1005": "flagged", "M1006": "left", "M1008": "moved", "M1009": "added"}
    moved = kinds["M1008"]
    assert moved["before"] == {"department": "二车间", "manager": "王芳"}
    assert moved["after"] == {"department": "三车间", "manager": "李强"}
    assert moved["manager_id"] == "M1003"
    assert kinds["M1006"]["left_on"] == "2026-11-20"
    assert "leave record" in kinds["M1005"]["evidence"]
    assert row.notes["counts"]["flagged"] == 1

    assert _apply(roster_app, change_id, when=dt.date(2026, 12, 1)) == (3, 1)
    roster = _roster(roster_app)
    assert roster["M1008"] == ("黄俊", "三车间", "副主任", "李强", True)
    assert roster["M1006"][4] is False  # inactive, never deleted
    assert roster["M1005"][4] is True  # only out of scope: HR checks, nothing deactivates
    assert roster["M1009"] == ("吴刚", "一车间", "班组长", "张伟", True)
    row = _change(roster_app, change_id)
    effective = {c["employee_id"]: c.get("effective") for c in row.changes}
    assert effective == {"M1005": None, "M1006": "2026-11-20", "M1008": "2026-12-01",
                         "M1009": "2026-12-01"}
    # the same organisation again: only the flag stays, as one open proposal
    again = _sync(roster_app)
    assert [c["kind"] for c in _change(roster_app, again).changes] == ["flagged"]
    assert _sync(roster_app) == again


def test_feishu_leaver_is_confirmed_by_is_resigned(roster_app, feishu, db_backend):
    _apply(roster_app, _sync(roster_app, "feishu"))
    demo_changes(feishu.org)
    row = _change(roster_app, _sync(roster_app, "feishu"))
    left = [c for c in row.changes if c["kind"] == "left"]
    assert [c["employee_id"] for c in left] == ["M1006"]
    assert "is_resigned" in left[0]["evidence"] and left[0]["left_on"] == ""


def test_apply_needs_a_reason_and_happens_once(roster_app, db_backend):
    change_id = _sync(roster_app)
    with pytest.raises(Unprocessable):
        _apply(roster_app, change_id, reason="  ")
    assert _change(roster_app, change_id).state == "proposed"
    _apply(roster_app, change_id)
    with pytest.raises(Conflict):
        _apply(roster_app, change_id)


def test_apply_refuses_when_the_roster_changed_since_the_proposal(roster_app, dingtalk,
                                                                  db_backend):
    _apply(roster_app, _sync(roster_app))
    demo_changes(dingtalk.org)
    change_id = _sync(roster_app)
    with session_scope(roster_app) as s:  # someone edits 黄俊 by hand meanwhile
        s.scalar(select(Employee).where(Employee.employee_id == "M1008")).department = "质量部"
    before = _roster(roster_app)
    with pytest.raises(Conflict, match="M1008: department changed"):
        _apply(roster_app, change_id)
    assert _roster(roster_app) == before
    assert _change(roster_app, change_id).state == "proposed"


def test_a_newer_sync_supersedes_and_discard_keeps_the_roster(roster_app, dingtalk,
                                                              db_backend):
    first = _sync(roster_app)
    demo_changes(dingtalk.org)
    second = _sync(roster_app)
    assert _change(roster_app, first).state == "superseded"
    before = _roster(roster_app)
    with session_scope(roster_app) as s:
        orgsync.discard_roster_change(s, second, "hr", "平台数据待确认")
    assert _roster(roster_app) == before
    assert (_change(roster_app, second).state, _change(roster_app, second).reason) == \
        ("discarded", "平台数据待确认")


def test_rejoined_employee_becomes_active_again(roster_app, db_backend):
    _apply(roster_app, _sync(roster_app))
    with session_scope(roster_app) as s:
        s.scalar(select(Employee).where(Employee.employee_id == "M1002")).active = False
    row = _change(roster_app, _sync(roster_app))
    assert [(c["kind"], c["employee_id"]) for c in row.changes] == [("rejoined", "M1002")]
    _apply(roster_app, row.id)
    assert _roster(roster_app)["M1002"][4] is True


def test_a_failed_sync_proposes_nothing_and_names_the_platform_error(roster_app, dingtalk,
                                                                      db_backend):
    from sync.simulators.platform import SimAnswer

    dingtalk.fail("/oapi/topapi/v2/department/listsub",
                  SimAnswer(200, {"errcode": 60020, "errmsg": "访问ip不在白名单之中"}))
    with pytest.raises(Unprocessable, match="60020"):
        _sync(roster_app)
    with session_scope(roster_app) as s:
        assert s.scalar(select(RosterChange.id)) is None
    from server.db import get_engine
    from server.services.pull import pull_status

    status = pull_status("org:dingtalk", get_engine(roster_app))
    assert status["state"] == "failed" and "60020" in status["summary"]["error"]


def test_one_run_of_a_source_at_a_time(roster_app, db_backend):
    from server.db import get_engine
    from server.services.pull import PullStatus, PullTracker

    with roster_app.app_context():
        holder = PullTracker(get_engine(), PullStatus("org:dingtalk", by="someone",
                                                      started_at="2026-12-01T00:00:00"))
        holder.start()
        try:
            with pytest.raises(Conflict, match="already running"):
                _sync(roster_app)
        finally:
            holder.finish("done", dt.datetime.now(dt.UTC))
    assert _sync(roster_app) is not None


def test_schedule_runs_each_slot_once_across_workers(roster_app, app_config, db_backend):
    from server import create_app

    # another worker: its own app, engine and scheduler, the same database
    other = create_app({**app_config, "SYNC_CONFIG": roster_app.config["SYNC_CONFIG"]})
    # daily 02:00 Asia/Shanghai = 18:00 UTC the day before
    at = dt.datetime(2026, 12, 2, 18, 30, tzinfo=dt.UTC)
    both = ["dingtalk", "feishu"]
    assert orgsync.run_due_org_syncs(roster_app, at) == both
    # a second worker's tick in the same slot, later on: nothing
    assert orgsync.run_due_org_syncs(other, at + dt.timedelta(hours=5)) == []
    # the next day's slot runs again
    assert orgsync.run_due_org_syncs(other, at + dt.timedelta(days=1)) == both
    from server.db import get_engine

    get_engine(other).dispose()
    with session_scope(roster_app) as s:
        rows = s.scalars(select(RosterChange).order_by(RosterChange.id)).all()
        # one proposal per source: the next day's run found the same changes
        assert [(r.source, r.created_by, r.state) for r in rows] == \
            [("dingtalk", "schedule", "proposed"), ("feishu", "schedule", "proposed")]


def test_schedule_slots():
    from sync.org.config import Schedule

    daily = Schedule("daily 02:00", "Asia/Shanghai")
    assert daily.last_slot(dt.datetime(2026, 12, 2, 17, 59, tzinfo=dt.UTC)) == \
        dt.datetime(2026, 12, 1, 18, 0, tzinfo=dt.UTC)
    assert daily.last_slot(dt.datetime(2026, 12, 2, 18, 0, tzinfo=dt.UTC)) == \
        dt.datetime(2026, 12, 2, 18, 0, tzinfo=dt.UTC)
    every = Schedule("every 30m", "Asia/Shanghai")
    assert every.last_slot(dt.datetime(2026, 12, 2, 10, 44, tzinfo=dt.UTC)) == \
        dt.datetime(2026, 12, 2, 10, 30, tzinfo=dt.UTC)


def test_roster_people_never_seen_on_the_platform_are_listed_not_flagged(roster_app,
                                                                          db_backend):
    with session_scope(roster_app) as s:
        s.add(Employee(employee_id="R2001", name="孙浩", department="研发一部"))
    row = _change(roster_app, _sync(roster_app))
    assert "R2001" not in {c["employee_id"] for c in row.changes}
    assert row.notes["not_on_platform"] == ["R2001 孙浩"]


def test_add_new_false_leaves_platform_people_off_the_roster(roster_app, dingtalk, tmp_path,
                                                             db_backend):
    from tests.orgsync.conftest import write_org_config

    roster_app.config["SYNC_CONFIG"] = write_org_config(tmp_path / "only.toml", [dingtalk],
                                                        add_new=False)
    assert _sync(roster_app) is None  # G0001 and A0001 are not HR's scored managers
    demo_changes(dingtalk.org)
    row = _change(roster_app, _sync(roster_app))
    assert {c["employee_id"]: c["kind"] for c in row.changes} == \
        {"M1005": "flagged", "M1006": "left", "M1008": "moved"}
    assert row.notes["not_on_roster"] == 3  # G0001, A0001, M1009
