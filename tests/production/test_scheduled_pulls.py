"""Scheduled pulls in the real server: gunicorn with three workers on PostgreSQL, each running
its scheduler from boot against the simulated source systems on 127.0.0.1. Every worker asks
for the same due slots at once; each source is pulled exactly once and recorded as the
schedule's."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from sync.simulators.data import demo_data, write_files
from sync.simulators.demo import DEMO_CONFIG, demo_environment
from sync.simulators.server import SourceSimulator
from tests.production.conftest import start_gunicorn, stop_gunicorn

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "workbook_templates" / "manufacturing.xlsx"


def _connectors(path: Path) -> Path:
    """The demo's connectors with erp and crm due an hour ago (daily: the next slot is 23
    hours away, so no second slot falls inside the test)."""
    due = (dt.datetime.now(ZoneInfo("Asia/Shanghai")) - dt.timedelta(hours=1)).strftime(
        "%H:%M")
    text = re.sub(r'schedule = "[^"]+"', f'schedule = "daily {due}"',
                  DEMO_CONFIG.read_text(encoding="utf-8"))
    path.write_text(text, encoding="utf-8")
    return path


def _hits(sim: SourceSimulator, prefix: str) -> int:
    return sum(1 for r in sim.requests if r.split(" ", 1)[1].startswith(prefix))


@pytest.mark.skipif(not TEMPLATE.is_file(), reason="no templates")
def test_workers_pull_each_due_slot_once(tmp_path, pg_url, monkeypatch):
    import addin.headless as h
    from server import create_app, db
    from server.auth import create_token, create_user
    from server.models import ScheduleClaim, SourceFact

    data = demo_data("2026-10")
    drop = tmp_path / "drop"
    write_files(data, str(drop))
    with SourceSimulator(data) as sim:
        env = demo_environment(sim.url, str(drop))
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        connectors = _connectors(tmp_path / "connectors.toml")
        # the period exists before the workers start: their first tick fills it
        db.upgrade(pg_url)
        app = create_app({"DATABASE_URL": pg_url, "INSTANCE_PATH": str(tmp_path / "inst0"),
                          "HISTORY_DIR": str(tmp_path / "history"), "TESTING": True,
                          "ALLOW_INSECURE_HTTP": True, "SYNC_CONFIG": str(connectors),
                          "FACT_SOURCE": "stored"})
        with db.session_scope(app) as s:
            token = create_token(s, create_user(s, "hr", "hr_admin", "人力资源部"), "test")
        book = tmp_path / "book.xlsx"
        shutil.copy(TEMPLATE, book)
        h.run_button("new_period?period=2026-10", book, post=h.flask_poster(
            app.test_client(), headers={"Authorization": f"Bearer {token}"}))
        assert _hits(sim, "/erp/") == 0
        server = start_gunicorn(tmp_path, {
            **env, "KPIBOOK_DATABASE_URL": pg_url, "KPIBOOK_ALLOW_INSECURE_HTTP": "1",
            "KPIBOOK_SECRET_KEY": "schedule-test", "KPIBOOK_FACT_SOURCE": "stored",
            "KPIBOOK_INSTANCE_PATH": str(tmp_path / "instance"),
            "KPIBOOK_HISTORY_DIR": str(tmp_path / "history"),
            "KPIBOOK_SYNC_CONFIG": str(connectors), "KPIBOOK_SCHEDULER_SECONDS": "1"},
            workers=3)
        engine = db.get_engine(app)
        try:
            # bounded wait for the outcome (not for a moment): both jobs settled
            for _ in range(240):
                with engine.connect() as conn:
                    states = dict(conn.execute(select(ScheduleClaim.job,
                                                      ScheduleClaim.state)).all())
                if states.get("pull:erp") == "done" and states.get("pull:crm") == "done":
                    break
                time.sleep(0.25)
            else:
                pytest.fail(f"scheduled pulls did not finish: {states}\n"
                            f"{server.log.read_text(errors='replace')[-3000:]}")
        finally:
            stop_gunicorn(server)
        assert _hits(sim, "/erp/api/v1/production") == 1, server.log.read_text()[-3000:]
        assert _hits(sim, "/crm/api/deliveries") == 1
        with db.session_scope(app) as s:
            by = {f.indicator: f.fetched_by for f in s.scalars(select(SourceFact))}
        assert by["PROD_EFF"] == by["SALES"] == "schedule"
        engine.dispose()
