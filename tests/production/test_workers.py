"""gunicorn with several workers on the real PostgreSQL (127.0.0.1): a Pull running in one
worker is seen by the others (progress, 409 for a second Pull), and the lease of a pull whose
worker died is taken over."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from pathlib import Path

import pytest

from tests.production.conftest import connectors_file, start_gunicorn, stop_gunicorn

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "workbook_templates" / "manufacturing.xlsx"


def _hr_token(url: str, tmp_path: Path) -> str:
    from server import create_app, db
    from server.auth import create_token, create_user

    db.upgrade(url)
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "inst0")})
    with db.session_scope(app) as s:
        token = create_token(s, create_user(s, "hr", "hr_admin", "人力资源部"), "test")
    db.get_engine(app).dispose()
    return token


@pytest.mark.skipif(not TEMPLATE.is_file(), reason="no templates")
def test_pull_progress_and_guard_across_workers(tmp_path, pg_url, held_source):
    from addin.headless import ServerError, run_button
    from server.commands import http_post

    token = _hr_token(pg_url, tmp_path)
    env = {"KPIBOOK_DATABASE_URL": pg_url, "KPIBOOK_ALLOW_INSECURE_HTTP": "1",
           "KPIBOOK_SECRET_KEY": "workers-test-secret", "KPIBOOK_FACT_SOURCE": "stored",
           "KPIBOOK_INSTANCE_PATH": str(tmp_path / "instance"),
           "KPIBOOK_HISTORY_DIR": str(tmp_path / "history"),
           "KPIBOOK_SYNC_CONFIG": str(connectors_file(tmp_path / "c.toml", held_source.url))}
    server = start_gunicorn(tmp_path, env, workers=3)
    try:
        auth = {"Authorization": f"Bearer {token}"}
        post = http_post(server.url, auth, insecure=False)
        book = tmp_path / "book.xlsx"
        shutil.copy(TEMPLATE, book)
        run_button("new_period?period=2026-10", book, post=post)
        code = "2026-10"
        assert server.get(f"/api/v1/periods/{code}/pull-status", headers=auth).json()[
            "state"] == "idle"

        outcome: dict = {}

        def press_pull() -> None:
            try:
                outcome["result"] = run_button("pull", book, post=post)
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                outcome["error"] = exc

        first = threading.Thread(target=press_pull)
        first.start()
        # The source answers only when released: the pull is running in one (sync) worker,
        # so every answer below comes from another worker process.
        assert held_source.asked.wait(60), "the pull never asked its source"
        seen = [server.get(f"/api/v1/periods/{code}/pull-status", headers=auth).json()
                for _ in range(6)]
        assert all(s["state"] == "running" and s["by"] == "hr" for s in seen), seen
        second = server.post("/xl/pull", headers=auth, json=_payload(book))
        assert second.status_code == 409, second.text
        assert second.headers["Content-Type"].startswith("text/plain")
        assert "already running" in second.text and "hr" in second.text
        assert first.is_alive()

        held_source.release.set()
        first.join(150)
        assert not first.is_alive()
        assert "error" not in outcome, outcome
        done = server.get(f"/api/v1/periods/{code}/pull-status", headers=auth).json()
        assert done["state"] == "done", done
        [src] = done["sources"]
        assert src["source"] == "held_crm" and src["state"] == "done" and src["records"] == 8
        assert done["summary"]["stored"] >= 1
        # a third pull may run now (the lease was released)
        held_source.asked.clear()
        run_button("pull", book, post=post)
        with pytest.raises(ServerError):  # and nothing leaks between workers' sessions
            run_button("pull", book, post=http_post(server.url, {}, insecure=False))
    finally:
        stop_gunicorn(server)
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log, log
    access = (tmp_path / "access.log").read_text()
    assert "/xl/pull" in access and token not in access and "Bearer" not in access


def _payload(book: Path) -> dict:
    from addin.headless import workbook_to_payload

    return workbook_to_payload(book)


def test_lease_conflict_takeover_and_lost_lease(pg_url):
    from sqlalchemy import update

    from server import db
    from server.models import PullRun
    from server.services import pull as pull_service
    from server.services.errors import Conflict

    db.upgrade(pg_url)
    engine = db.make_engine(pg_url)
    try:
        a = pull_service.PullTracker(engine, pull_service.PullStatus("2026-10", by="li"))
        a.start()
        b = pull_service.PullTracker(engine, pull_service.PullStatus("2026-10", by="wang"))
        with pytest.raises(Conflict, match="already running.*li"):
            b.start()
        assert pull_service.pull_status("2026-10", engine)["state"] == "running"
        # a's worker "dies": its heartbeat stops and ages past the lease
        a._stop.set()
        a._beat.join(30)
        old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=pull_service.LEASE_SECONDS + 5)
        with engine.begin() as conn:
            conn.execute(update(PullRun).values(heartbeat_at=old))
        assert pull_service.pull_status("2026-10", engine)["state"] == "failed"
        b.start()  # takes the stale lease over
        status = pull_service.pull_status("2026-10", engine)
        assert status["state"] == "running" and status["by"] == "wang"
        a.finish("done", dt.datetime.now(dt.UTC))  # too late: a no longer owns the row
        assert pull_service.pull_status("2026-10", engine)["by"] == "wang"
        b.finish("done", dt.datetime.now(dt.UTC))
        assert pull_service.pull_status("2026-10", engine)["state"] == "done"
    finally:
        engine.dispose()


def test_simultaneous_pulls_one_wins(pg_url):
    from server import db
    from server.services import pull as pull_service
    from server.services.errors import Conflict

    db.upgrade(pg_url)
    engine = db.make_engine(pg_url)
    barrier = threading.Barrier(6)
    won: list[pull_service.PullTracker] = []
    refused: list[str] = []

    def go(i: int) -> None:
        t = pull_service.PullTracker(engine, pull_service.PullStatus("2026-11", by=f"u{i}"))
        barrier.wait(30)
        try:
            t.start()
            won.append(t)
        except Conflict as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=go, args=(i,)) for i in range(6)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(won) == 1 and len(refused) == 5, (won, refused)
        won[0].finish("done", dt.datetime.now(dt.UTC))
    finally:
        engine.dispose()
