"""Scheduled pulls: schedules in the connectors file, slots in a time zone, one run per slot
across workers (the claim row of server/schedule.py, on SQLite and PostgreSQL), a missed run
caught up once, and pulls recorded as the schedule's — against the simulated source systems
on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select

from server import schedule as scheduler
from server.db import get_engine, session_scope
from server.models import Period, ScheduleClaim, SourceFact
from server.services import pull as pull_service
from server.services import schedule as schedule_service
from sync.config import parse_config
from sync.errors import ConfigError
from sync.schedule import Schedule
from tests.sync.test_pull_e2e import blank_book, headless

pytestmark = pytest.mark.both_databases
UTC = dt.UTC


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


# --- the schedule ---------------------------------------------------------------------------


def _config(**source: object) -> dict:
    return {"source": [{"name": "erp", "kind": "rest", "url": "http://127.0.0.1:1/x",
                        "indicator": [{"indicator": "PROD_EFF", "value": "v"}], **source}]}


def test_schedule_is_read_from_the_source_table():
    cfg = parse_config(_config(schedule="daily 06:30"))
    assert cfg.sources[0].schedule == Schedule("daily 06:30", "")  # the company's zone
    cfg = parse_config(_config(schedule="every 2h", timezone="Europe/Berlin"))
    assert cfg.sources[0].schedule == Schedule("every 2h", "Europe/Berlin")
    assert "schedule" not in cfg.sources[0].options  # not a connector option
    assert parse_config(_config()).sources[0].schedule is None
    for bad in ("daily 24:00", "daily 6", "every 0m", "every 25h", "hourly", "weekly 06:30"):
        with pytest.raises(ConfigError, match=r"source #1 \(erp\): schedule"):
            parse_config(_config(schedule=bad))
    with pytest.raises(ConfigError, match="timezone 'Mars/Base' is unknown"):
        parse_config(_config(schedule="daily 06:30", timezone="Mars/Base"))


def test_daily_slots_in_shanghai():
    daily = Schedule("daily 06:30")
    # 06:30 in Shanghai (UTC+8, no daylight saving) is 22:30 UTC the day before
    assert daily.last_slot(at(2026, 12, 7, 22, 29), "Asia/Shanghai") == at(2026, 12, 6, 22, 30)
    assert daily.last_slot(at(2026, 12, 7, 22, 30), "Asia/Shanghai") == at(2026, 12, 7, 22, 30)
    assert daily.next_run(at(2026, 12, 7, 22, 30), "Asia/Shanghai") == at(2026, 12, 8, 22, 30)
    assert daily.next_run(at(2026, 12, 7, 12, 0), "Asia/Shanghai") == at(2026, 12, 7, 22, 30)
    # the same text in the company's other zone gives other moments
    assert daily.next_run(at(2026, 12, 7, 12, 0), "UTC") == at(2026, 12, 8, 6, 30)
    # the source's own zone wins over the company's
    assert Schedule("daily 06:30", "UTC").next_run(at(2026, 12, 7, 12, 0), "Asia/Shanghai") \
        == at(2026, 12, 8, 6, 30)


def test_interval_slots_count_from_local_midnight():
    every = Schedule("every 2h")
    # 09:10 in Shanghai: the last slot is 08:00 local (00:00 UTC), the next 10:00 local
    assert every.last_slot(at(2026, 12, 8, 1, 10), "Asia/Shanghai") == at(2026, 12, 8, 0, 0)
    assert every.next_run(at(2026, 12, 8, 1, 10), "Asia/Shanghai") == at(2026, 12, 8, 2, 0)
    quarter = Schedule("every 45m")  # 23:15 is the day's last; the next is midnight
    assert quarter.next_run(at(2026, 12, 8, 15, 20), "Asia/Shanghai") == at(2026, 12, 8, 16, 0)
    assert quarter.last_slot(at(2026, 12, 8, 15, 59), "Asia/Shanghai") == \
        at(2026, 12, 8, 15, 15)


def test_daylight_saving_zone():
    """Europe/Berlin: 29 March 2026 the clock jumps 02:00 -> 03:00; 25 October 03:00 ->
    02:00. A daily pull keeps its wall-clock time; a skipped time runs when the clock has
    jumped past it; a time shown twice runs once (its first showing)."""
    berlin = "Europe/Berlin"
    daily = Schedule("daily 06:30")
    assert daily.next_run(at(2026, 3, 28, 12, 0), berlin) == at(2026, 3, 29, 4, 30)  # CEST
    assert daily.next_run(at(2026, 3, 27, 12, 0), berlin) == at(2026, 3, 28, 5, 30)  # CET
    skipped = Schedule("daily 02:30")
    assert skipped.next_run(at(2026, 3, 28, 12, 0), berlin) == at(2026, 3, 29, 1, 30)
    twice = Schedule("daily 02:30")
    first = twice.next_run(at(2026, 10, 24, 12, 0), berlin)
    assert first == at(2026, 10, 25, 0, 30)  # 02:30 CEST, not also 02:30 CET an hour later
    assert twice.next_run(first, berlin) == at(2026, 10, 26, 1, 30)
    every = Schedule("every 6h")
    # on the short day: 00:00 CET, then 06:00 CEST (five hours later by the clock's jump)
    assert every.last_slot(at(2026, 3, 29, 3, 59), berlin) == at(2026, 3, 28, 23, 0)
    assert every.next_run(at(2026, 3, 29, 1, 30), berlin) == at(2026, 3, 29, 4, 0)


# --- the claim --------------------------------------------------------------------------------


def _claimers(db_url: str, n: int, slot: dt.datetime, now: dt.datetime) -> list[bool]:
    """n threads, each with its own engine (as n workers have), claim the same slot at once."""
    from server.db import make_engine

    engines = [make_engine(db_url) for _ in range(n)]
    gate = threading.Barrier(n)
    won: list[bool] = [False] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            gate.wait()
            won[i] = scheduler.claim(engines[i], "test:job", slot, now=now) is not None
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in engines:
        e.dispose()
    assert not errors, errors
    return won


def test_one_of_many_concurrent_claimers_wins_each_slot(app, app_config):
    url = app_config["DATABASE_URL"]
    slot = at(2026, 12, 7, 22, 30)
    # the first claim of a job also races on creating its row
    assert sum(_claimers(url, 8, slot, slot)) == 1
    assert sum(_claimers(url, 8, slot, slot + dt.timedelta(minutes=5))) == 0  # same slot
    nxt = slot + dt.timedelta(days=1)
    assert sum(_claimers(url, 8, nxt, nxt)) == 1
    with get_engine(app).connect() as conn:
        row = conn.execute(select(ScheduleClaim.__table__)).one()
    assert row.job == "test:job" and row.state == "running"


CLAIMER = """
import datetime as dt, sys
from server import schedule
from server.db import make_engine
engine = make_engine(sys.argv[1])
slot = dt.datetime.fromisoformat(sys.argv[2])
engine.connect().close()
print("ready", flush=True)
sys.stdin.readline()  # the parent's "go": every worker asks at once
print("won" if schedule.claim(engine, "test:process", slot, now=slot) else "lost", flush=True)
engine.dispose()
"""


def test_one_of_many_worker_processes_wins_each_slot(app, app_config):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    slot = at(2026, 12, 7, 22, 30)
    procs = [subprocess.Popen([sys.executable, "-c", CLAIMER, app_config["DATABASE_URL"],
                               slot.isoformat()], cwd=root, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(4)]
    try:
        assert [p.stdout.readline().strip() for p in procs] == ["ready"] * 4
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        got = [p.stdout.readline().strip() for p in procs]
    finally:
        for p in procs:
            p.stdin.close()
            p.wait(timeout=120)
    assert sorted(got) == ["lost"] * 3 + ["won"]
    assert all(p.returncode == 0 for p in procs)


def test_a_dead_claimers_slot_is_taken_over_after_its_lease(app):
    engine = get_engine(app)
    slot = at(2026, 12, 7, 22, 30)
    first = scheduler.claim(engine, "test:lease", slot, now=slot, lease_seconds=60)
    assert first is not None
    # its worker dies without finishing; inside the lease nobody else may run the slot
    assert scheduler.claim(engine, "test:lease", slot, now=slot + dt.timedelta(seconds=59),
                           lease_seconds=60) is None
    second = scheduler.claim(engine, "test:lease", slot, now=slot + dt.timedelta(seconds=61),
                             lease_seconds=60)
    assert second is not None
    assert not first.renew()  # the dead worker, had it woken, no longer holds it
    second.finish("done", "ok")
    # a finished slot is never taken over, however late
    assert scheduler.claim(engine, "test:lease", slot, now=slot + dt.timedelta(days=1)) is None
    assert scheduler.last_runs(engine, "test:")["test:lease"].note == "ok"


def test_a_released_slot_is_claimed_again(app):
    engine = get_engine(app)
    slot = at(2026, 12, 7, 22, 30)
    won = scheduler.claim(engine, "test:retry", slot, now=slot)
    assert scheduler.run_claimed(won, lambda: (_ for _ in ()).throw(
        scheduler.TryLater("busy"))) == "released"
    again = scheduler.claim(engine, "test:retry", slot, now=slot)
    assert again is not None
    assert scheduler.run_claimed(again, lambda: "pulled") == "done"
    assert scheduler.claim(engine, "test:retry", slot, now=slot) is None
    failed = scheduler.claim(engine, "test:retry", slot + dt.timedelta(hours=1))
    assert scheduler.run_claimed(failed, lambda: 1 / 0) == "failed"
    row = scheduler.last_runs(engine, "test:")["test:retry"]
    assert row.state == "failed" and "ZeroDivisionError" in row.note


# --- scheduled pulls against the simulated sources ----------------------------------------------

# sync/demo_connectors.toml: erp "daily 06:30" and crm "every 2h", company zone Asia/Shanghai
NOW = at(2026, 12, 8, 1, 10)  # 09:10 in Shanghai: erp's slot 22:30 UTC, crm's 00:00 UTC


def _hits(sim, prefix: str) -> int:
    return sum(1 for r in sim.requests if r.split(" ", 1)[1].startswith(prefix))


@pytest.fixture
def period(app, client, hr_token, tmp_path, sources):
    """Period 2026-10 of the manufacturing template, created by New period (no pull yet)."""
    h = headless()
    book = blank_book(tmp_path, "manufacturing")
    h.run_button("new_period?period=2026-10", book, post=h.flask_poster(
        client, headers={"Authorization": f"Bearer {hr_token}"}))
    return book


def _tick(worker, now=NOW) -> list[tuple[str, ...]]:
    return [tuple(r.sources) for r in schedule_service.run_due_pulls(worker, now)]


def test_each_slot_is_pulled_once_across_workers(app, app_config, period, sources):
    from server import create_app

    other = create_app(app_config)  # a second worker: its own app, engine and scheduler
    try:
        assert _tick(app) == [("erp",), ("crm",)]  # one pull per slot (different slots)
        assert _tick(other) == []  # the same slots: already run
        assert _tick(other, NOW + dt.timedelta(minutes=40)) == []
        assert _hits(sources, "/erp/api/v1/production") == 1
        assert _hits(sources, "/crm/api/deliveries") == 1
        # the next crm slot (10:00 Shanghai) runs in whichever worker asks first
        assert _tick(other, NOW + dt.timedelta(minutes=50)) == [("crm",)]
        assert _tick(app, NOW + dt.timedelta(minutes=51)) == []
        assert _hits(sources, "/crm/api/deliveries") == 2
        assert _hits(sources, "/erp/api/v1/production") == 1
    finally:
        get_engine(other).dispose()
    with session_scope(app) as s:
        by = {f.indicator: f.fetched_by for f in s.scalars(select(SourceFact))}
    assert by["SALES"] == by["PROD_EFF"] == "schedule"
    assert "QUALITY" not in by  # unscheduled sources wait for the button
    status = pull_service.pull_status("2026-10", get_engine(app))
    assert status["by"] == "schedule" and status["state"] == "done"


def test_concurrent_workers_pull_each_slot_once(app, app_config, period, sources):
    """Four workers tick at the same moment, again and again until nothing is due: every
    slot is pulled exactly once (a worker that claimed a slot while another pulled the same
    period gives it back and a later tick runs it)."""
    from server import create_app

    workers = [app] + [create_app(app_config) for _ in range(3)]
    ran: list[tuple[str, ...]] = []
    lock = threading.Lock()
    try:
        for _round in range(6):
            gate = threading.Barrier(len(workers))
            got: list[tuple[str, ...]] = []

            def tick(worker, gate=gate, got=got) -> None:
                gate.wait()
                done = schedule_service.run_due_pulls(worker, NOW)
                with lock:
                    got.extend(tuple(r.sources) for r in done if r.state == "done")

            threads = [threading.Thread(target=tick, args=(w,)) for w in workers]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            ran.extend(got)
            rows = scheduler.last_runs(get_engine(app), "pull:")
            if rows and all(r.state == "done" for r in rows.values()) and len(rows) == 2:
                break
    finally:
        for w in workers[1:]:
            get_engine(w).dispose()
    assert sorted(s for names in ran for s in names) == ["crm", "erp"]
    assert _hits(sources, "/erp/api/v1/production") == 1
    assert _hits(sources, "/crm/api/deliveries") == 1


def test_a_missed_run_runs_once_when_the_server_is_back(app, period, sources):
    assert _tick(app) == [("erp",), ("crm",)]
    # the server is down for three days: 3 daily slots and 36 two-hourly ones pass
    back = NOW + dt.timedelta(days=3, minutes=1)
    assert _tick(app, back) == [("erp",), ("crm",)]
    assert _tick(app, back) == []
    assert _hits(sources, "/erp/api/v1/production") == 2
    assert _hits(sources, "/crm/api/deliveries") == 2
    claims = scheduler.last_runs(get_engine(app), "pull:")
    assert claims["pull:erp"].slot == at(2026, 12, 10, 22, 30)  # the latest, not the first
    assert claims["pull:crm"].slot == at(2026, 12, 11, 0, 0)


def test_only_periods_open_for_pull_are_filled(app, period, sources):
    with session_scope(app) as s:
        s.scalar(select(Period)).state = "approved"
    assert _tick(app) == [("erp",), ("crm",)]
    assert _hits(sources, "/erp/") == 0  # nothing to fill: no source was asked
    with session_scope(app) as s:
        assert s.scalars(select(SourceFact)).all() == []


def test_the_sync_page_lists_the_schedules(app, client, period, web_login):
    _tick(app)
    web_login(client, "hr")
    page = client.get("/sync/2026-10?lang=en").get_data(as_text=True)
    assert 'id="schedules"' in page and "daily 06:30 (Asia/Shanghai)" in page
    assert "every 2h (Asia/Shanghai)" in page and "2026-10: done" in page
