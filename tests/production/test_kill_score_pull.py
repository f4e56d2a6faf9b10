"""kill -9 in the middle of a Score and of a Pull (issue #7, "Faults"), with the real server
(gunicorn, two workers, PostgreSQL on 127.0.0.1):

* Score: the worker is SIGKILLed after the history's baseline commit and before the database
  commit. After a restart the client's retry with the same Idempotency-Key answers 200, the
  history holds the baseline exactly once, the database one score run for it, and
  `kpibook verify` passes.
* Pull: every worker is SIGKILLed while the pull waits for its source, and (with the fault
  hook) after the facts were written but before the commit. Nothing half-stored: the facts are
  those of before the pull; the dead pull shows as failed once its lease expires, and the next
  pull stores everything.

Submit's kill points are tests/production/test_faults.py.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select, update

from tests.production.conftest import connectors_file, start_gunicorn, stop_gunicorn

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "workbook_templates" / "manufacturing.xlsx"
PERIOD = "2026-10"

pytestmark = pytest.mark.skipif(not TEMPLATE.is_file(), reason="no templates")


def _env(tmp_path: Path, url: str, fault: str = "", **extra: str) -> dict[str, str]:
    return {"KPIBOOK_DATABASE_URL": url, "KPIBOOK_ALLOW_INSECURE_HTTP": "1",
            "KPIBOOK_SECRET_KEY": "kill-test-secret",
            "KPIBOOK_INSTANCE_PATH": str(tmp_path / "instance"),
            "KPIBOOK_HISTORY_DIR": str(tmp_path / "history"), "KPIBOOK_FAULT": fault,
            **extra}


def _hr_token(url: str, tmp_path: Path) -> str:
    from server import create_app, db
    from server.auth import create_token, create_user

    db.upgrade(url)
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "inst0"),
                      "HISTORY_DIR": str(tmp_path / "history")})
    with db.session_scope(app) as s:
        token = create_token(s, create_user(s, "hr", "hr_admin", "人力资源部"), "test")
    db.get_engine(app).dispose()
    return token


def _post(server, button: str, token: str, book: Path, key: str | None = None
          ) -> requests.Response:
    from addin.headless import workbook_to_payload

    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    return requests.post(f"{server.url}/xl/{button}", data=json.dumps(workbook_to_payload(book)),
                         headers=headers, timeout=180)


def _verify(env: dict[str, str]):
    from click.testing import CliRunner

    from server.cli import main

    return CliRunner().invoke(main, ["verify"], env=env, catch_exceptions=False)


def _query(url: str, fn):
    """fn(session) on a fresh engine, without the app's start-up recovery."""
    from sqlalchemy.orm import Session

    from server.db import make_engine

    engine = make_engine(url)
    try:
        with Session(engine) as s:
            return fn(s)
    finally:
        engine.dispose()


def _workers(server) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(server.proc.pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _log(server) -> str:
    return server.log.read_text(errors="replace")


def test_worker_killed_mid_score(tmp_path, pg_url):
    from addin.headless import run_button
    from server.commands import http_post
    from server.ledger import History
    from server.models import HistoryCommit, ScoreRun

    hr = _hr_token(pg_url, tmp_path)
    book = tmp_path / "book.xlsx"
    shutil.copy(TEMPLATE, book)
    env = _env(tmp_path, pg_url, KPIBOOK_FACT_SOURCE="simulator")
    server = start_gunicorn(tmp_path, env, workers=2)
    try:
        post = http_post(server.url, {"Authorization": f"Bearer {hr}"}, insecure=False)
        for button in ("new_period?period=2026-10", "pull"):
            run_button(button, book, post=post)
    finally:
        stop_gunicorn(server)

    key = "kill-mid-score"
    server = start_gunicorn(tmp_path, _env(tmp_path, pg_url, "after_git_commit",
                                           KPIBOOK_FACT_SOURCE="simulator"), workers=2)
    try:
        try:
            answer = _post(server, "score", hr, book, key)
        except requests.ConnectionError:
            answer = None  # the connection died with the worker
        assert answer is None or answer.status_code in (500, 502), answer.text
    finally:
        stop_gunicorn(server)
    assert "KPIBOOK_FAULT: killing the process at after_git_commit" in _log(server)

    def runs(s):
        return s.scalar(select(func.count()).select_from(ScoreRun).where(
            ScoreRun.submission_id == key))

    assert _query(pg_url, runs) == 0  # the database's half was never committed
    with History(tmp_path / "history", durable=False) as h:
        assert [i.submission_id for i in h.timeline(PERIOD, limit=100)].count(key) == 1

    # restart without the fault: recovery, then the client's retry with the same key
    server = start_gunicorn(tmp_path, env, workers=2)
    try:
        answer = _post(server, "score", hr, book, key)
        assert answer.status_code == 200, (answer.status_code, answer.text, _log(server)[-4000:])
        assert any(a.get("func") == "setValues" for a in answer.json()["actions"])
    finally:
        stop_gunicorn(server)
    assert "Traceback" not in _log(server), _log(server)[-4000:]
    assert _query(pg_url, runs) == 1
    assert _query(pg_url, lambda s: s.scalar(select(func.count()).select_from(
        HistoryCommit).where(HistoryCommit.submission_id == key))) == 1
    with History(tmp_path / "history", durable=False) as h:
        assert [i.submission_id for i in h.timeline(PERIOD, limit=100)].count(key) == 1
    result = _verify(env)
    assert result.exit_code == 0, result.output


def _facts(url: str) -> list[tuple]:
    from server.models import SourceFact

    return _query(url, lambda s: sorted(
        (f.employee_id, f.indicator, f.field, str(f.value_num), f.stale)
        for f in s.scalars(select(SourceFact))))


def _age_lease(url: str) -> None:
    """Time passes: the dead worker's heartbeat is older than the lease."""
    from server.models import PullRun
    from server.services import pull as pull_service

    old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=pull_service.LEASE_SECONDS + 5)

    def age(s):
        s.execute(update(PullRun).values(heartbeat_at=old))
        s.commit()

    _query(url, age)


@pytest.mark.parametrize("where", ["waiting_for_source", "pull_stored"])
def test_worker_killed_mid_pull(tmp_path, pg_url, held_source, where):
    from addin.headless import run_button
    from server.commands import http_post

    hr = _hr_token(pg_url, tmp_path)
    book = tmp_path / "book.xlsx"
    shutil.copy(TEMPLATE, book)
    sync = {"KPIBOOK_FACT_SOURCE": "stored",
            "KPIBOOK_SYNC_CONFIG": str(connectors_file(tmp_path / "c.toml", held_source.url))}
    env = _env(tmp_path, pg_url, **sync)
    fault = "pull_stored" if where == "pull_stored" else ""
    server = start_gunicorn(tmp_path, _env(tmp_path, pg_url, fault, **sync), workers=2)
    auth = {"Authorization": f"Bearer {hr}"}
    outcome: dict = {}
    try:
        post = http_post(server.url, auth, insecure=False)
        run_button("new_period?period=2026-10", book, post=post)
        before = _facts(pg_url)

        def press() -> None:
            try:
                outcome["answer"] = _post(server, "pull", hr, book)
            except requests.ConnectionError as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=press)
        thread.start()
        assert held_source.asked.wait(60), "the pull never asked its source"
        if where == "waiting_for_source":
            for pid in _workers(server):
                os.kill(pid, signal.SIGKILL)
        else:
            held_source.release.set()  # the worker kills itself after storing the facts
        thread.join(120)
        assert not thread.is_alive()
        answer = outcome.get("answer")
        assert answer is None or answer.status_code in (500, 502), answer.text
        for _ in range(120):  # gunicorn replaces the dead worker(s)
            try:
                if server.get("/healthz").status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.25)
        # nothing half-stored; the dead pull still holds its lease for a while
        assert _facts(pg_url) == before
        status = server.get(f"/api/v1/periods/{PERIOD}/pull-status", headers=auth).json()
        assert status["state"] == "running", status
        refused = _post(server, "pull", hr, book)
        assert refused.status_code == 409 and "already running" in refused.text, refused.text
    finally:
        held_source.release.set()
        stop_gunicorn(server)
    if where == "pull_stored":
        assert "KPIBOOK_FAULT: killing the process at pull_stored" in _log(server)

    _age_lease(pg_url)
    server = start_gunicorn(tmp_path, env, workers=2)
    try:
        status = server.get(f"/api/v1/periods/{PERIOD}/pull-status", headers=auth).json()
        assert status["state"] == "failed", status
        assert "stopped" in status["summary"]["error"]
        held_source.asked.clear()
        answer = _post(server, "pull", hr, book)
        assert answer.status_code == 200, (answer.status_code, answer.text)
        done = server.get(f"/api/v1/periods/{PERIOD}/pull-status", headers=auth).json()
        assert done["state"] == "done", done
    finally:
        stop_gunicorn(server)
    stored = [f for f in _facts(pg_url) if f[1] == "SALES"]
    assert len(stored) == 8 and all(not f[4] for f in stored), stored
    assert "Traceback" not in _log(server), _log(server)[-4000:]
