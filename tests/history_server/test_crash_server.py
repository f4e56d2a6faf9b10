"""Crash safety with the real server: `kpibook serve` in a child process kills itself
(SIGKILL, KPIBOOK_FAULT=after_git_commit) right after the git commit of a Submit and before
the database write. After a restart the edit is in the database exactly once (start-up
recovery) and the client's retry with the same submission id records nothing again."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from server.db import session_scope
from server.models import Adjustment, HistoryCommit
from tests.processes import dies_with_us

from .conftest import set_adjustment

ROOT = Path(__file__).resolve().parents[2]
SID = "crash-test-0001"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(app_config: dict, port: int, fault: str | None, log: Path,
           started: list[subprocess.Popen]) -> subprocess.Popen:
    env = {**os.environ, "KPIBOOK_DATABASE_URL": app_config["DATABASE_URL"],
           "KPIBOOK_HISTORY_DIR": app_config["HISTORY_DIR"],
           "KPIBOOK_INSTANCE_PATH": app_config["INSTANCE_PATH"],
           "KPIBOOK_ALLOW_INSECURE_HTTP": "1", "KPIBOOK_FACT_SOURCE": "simulator",
           "KPIBOOK_SECRET_KEY": "test"}
    env.pop("KPIBOOK_FAULT", None)
    if fault:
        env["KPIBOOK_FAULT"] = fault
    proc = subprocess.Popen(
        dies_with_us([sys.executable, "-c", "from server.cli import main; main()", "serve",
                      "--http", "--port", str(port)]), cwd=ROOT, env=env, stdout=log.open("ab"),
        stderr=subprocess.STDOUT)
    started.append(proc)  # stopped at the test's end whatever happens (child_processes)
    # synchronisation point: the server answers /healthz (no sleeps in assertions)
    for _ in range(600):
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return proc
        except OSError:
            time.sleep(0.05)
    raise AssertionError("server did not start")


def _poster(port: int, token: str):
    def post(button: str, payload: dict):
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/xl/{button}", data=json.dumps(payload).encode(),
            method="POST", headers={"Content-Type": "application/json",
                                    "Authorization": f"Bearer {token}",
                                    "Idempotency-Key": SID})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
    return post


def test_kill_after_git_commit_then_restart_and_retry(app, app_config, book, press, hr_token,
                                                      make_token, headless, tmp_path,
                                                      child_processes):
    from server.services.history import history_for

    for button in ("new_period?period=2026-10", "pull", "score"):
        press(button, book, hr_token)
    wang = make_token("wang", "executive", display_name="王总")
    set_adjustment(book, "M1001", "PROD_EFF", 2, "紧急订单")
    port, log = _free_port(), tmp_path / "server.log"

    server = _serve(app_config, port, "after_git_commit", log, child_processes)
    try:
        with pytest.raises((ConnectionError, urllib.error.URLError, OSError,
                            headless.ServerError)):
            headless.run_button("submit", book, post=_poster(port, wang))
        assert server.wait(timeout=60) == -signal.SIGKILL
    finally:
        if server.poll() is None:
            server.kill()
    assert "KPIBOOK_FAULT: killing the process at after_git_commit" in log.read_text()

    # git has the commit, the database does not
    history = history_for(app)
    commit = history.commit_of(SID)
    assert commit is not None
    with session_scope(app) as s:
        assert s.scalar(select(HistoryCommit).where(HistoryCommit.submission_id == SID)) is None
        assert s.scalars(select(Adjustment)).all() == []

    # restart: start-up recovery writes the commit into the database
    server = _serve(app_config, port, None, log, child_processes)
    try:
        with session_scope(app) as s:
            row = s.scalar(select(HistoryCommit).where(HistoryCommit.submission_id == SID))
            assert row is not None and row.commit == commit and row.recovered
            [adj] = s.scalars(select(Adjustment)).all()
            assert (adj.employee_id, adj.points, adj.author, adj.submission_id) == (
                "M1001", 2, "wang", SID)

        # the client retries with the same submission id: nothing is recorded twice
        result = headless.run_button("submit", book, post=_poster(port, wang))
        assert "已处理过" in result.alerts[0][0]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    assert history.commit_of(SID) == commit
    assert [c.submission_id for c in history.timeline("2026-10", kind="adjustment")] == [SID]
    with session_scope(app) as s:
        assert len(s.scalars(select(Adjustment)).all()) == 1
        assert len(s.scalars(select(HistoryCommit).where(
            HistoryCommit.submission_id == SID)).all()) == 1
