"""Faults with the real server (gunicorn, several workers, PostgreSQL on 127.0.0.1):

* a worker SIGKILLed in the middle of a Submit (KPIBOOK_FAULT): after the git commit and
  before the database write, and inside the library after the objects and before the ref
  update. After a restart no acknowledged edit is lost, none is half-applied, the client's
  retry with the same Idempotency-Key records it exactly once, and `kpibook verify` passes.
* a source system that accepts the connection and never answers: Pull reports a timeout for
  that source by name, the other source's data is stored.

The slower ones (PostgreSQL restarted under load, the history's disk full) are
bench/faults.py (docs/deploy.md, "Faults").
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import threading
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from tests.history_server.conftest import set_adjustment
from tests.production.conftest import start_gunicorn, stop_gunicorn

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "workbook_templates" / "manufacturing.xlsx"

pytestmark = pytest.mark.skipif(not TEMPLATE.is_file(), reason="no templates")


def _env(tmp_path: Path, url: str, fault: str = "") -> dict[str, str]:
    return {"KPIBOOK_DATABASE_URL": url, "KPIBOOK_ALLOW_INSECURE_HTTP": "1",
            "KPIBOOK_SECRET_KEY": "faults-secret", "KPIBOOK_FACT_SOURCE": "simulator",
            "KPIBOOK_INSTANCE_PATH": str(tmp_path / "instance"),
            "KPIBOOK_HISTORY_DIR": str(tmp_path / "history"), "KPIBOOK_FAULT": fault}


def _tokens(url: str, tmp_path: Path) -> tuple[str, str]:
    from server import create_app, db
    from server.auth import create_token, create_user

    db.upgrade(url)
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "inst0"),
                      "HISTORY_DIR": str(tmp_path / "history")})
    with db.session_scope(app) as s:
        hr = create_token(s, create_user(s, "hr", "hr_admin", "人力资源部"), "test")
        wang = create_token(s, create_user(s, "wang", "executive", "王总"), "test")
    db.get_engine(app).dispose()
    return hr, wang


def _submit(server, token: str, book: Path, key: str) -> requests.Response:
    from addin.headless import workbook_to_payload

    return requests.post(f"{server.url}/xl/submit", data=json.dumps(workbook_to_payload(book)),
                         headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key,
                                  "Content-Type": "application/json"}, timeout=180)


def _verify(env: dict[str, str]):
    from click.testing import CliRunner

    from server.cli import main

    return CliRunner().invoke(main, ["verify"], env=env, catch_exceptions=False)


def _db_state(url: str, tmp_path: Path, key: str):
    """(history_commits rows, adjustment rows) of `key`, read without the app's start-up
    recovery, and the commits carrying `key` in git."""
    from sqlalchemy.orm import Session

    from server.db import make_engine
    from server.ledger import History
    from server.models import Adjustment, HistoryCommit

    engine = make_engine(url)
    try:
        with Session(engine) as s:
            commits = s.scalars(select(HistoryCommit).where(
                HistoryCommit.submission_id == key)).all()
            rows = [(a.employee_id, a.indicator, str(a.points), a.status) for a in s.scalars(
                select(Adjustment).where(Adjustment.submission_id == key))]
            n_commits = len(commits)
    finally:
        engine.dispose()
    with History(tmp_path / "history", durable=False) as h:
        in_git = [i for i in h.timeline("2026-10", limit=1000) if i.submission_id == key]
    return n_commits, rows, in_git


@pytest.mark.parametrize("fault", ["after_git_commit", "objects-written"])
def test_worker_killed_mid_submit(tmp_path, pg_url, fault):
    from addin.headless import run_button
    from server.commands import http_post

    hr, wang = _tokens(pg_url, tmp_path)
    book = tmp_path / "book.xlsx"
    shutil.copy(TEMPLATE, book)
    env = _env(tmp_path, pg_url)
    server = start_gunicorn(tmp_path, env, workers=2)
    try:
        post = http_post(server.url, {"Authorization": f"Bearer {hr}"}, insecure=False)
        for button in ("new_period?period=2026-10", "pull", "score"):
            run_button(button, book, post=post)
    finally:
        stop_gunicorn(server)
    set_adjustment(book, "M1001", "PROD_EFF", 2, "紧急订单")
    key = f"fault-{fault}"

    # the worker handling the Submit is SIGKILLed at the fault point
    server = start_gunicorn(tmp_path, _env(tmp_path, pg_url, fault), workers=2)
    try:
        try:
            answer = _submit(server, wang, book, key)
        except requests.ConnectionError:
            answer = None  # the connection died with the worker
        assert answer is None or answer.status_code in (500, 502), answer.text
    finally:
        stop_gunicorn(server)
    log = server.log.read_text(errors="replace")
    assert f"KPIBOOK_FAULT: killing the process at {fault}" in log, log
    # the worker replacing the killed one does not recover while the other one serves
    assert _recoveries(log) == [server.proc.pid], log
    n_commits, rows, in_git = _db_state(pg_url, tmp_path, key)
    assert len(in_git) == (1 if fault == "after_git_commit" else 0)
    # never half-applied: the database holds the edit completely exactly when git does, or
    # not at all (start-up recovery runs when the next instance starts, below)
    expected = [("M1001", "PROD_EFF", "2.00", "active")]
    assert (n_commits, rows) in ((0, []), (1, expected)), (n_commits, rows)
    if not in_git:
        assert (n_commits, rows) == (0, [])

    # restart without the fault: start-up recovery, then the client's retry with the same key
    server = start_gunicorn(tmp_path, env, workers=2)
    try:
        answer = _submit(server, wang, book, key)
        assert answer.status_code == 200, (answer.status_code, answer.text,
                                           server.log.read_text(errors="replace")[-4000:])
        again = _submit(server, wang, book, key)
        assert again.status_code == 200 and "已处理过" in again.text, again.text
    finally:
        stop_gunicorn(server)
    n_commits, rows, in_git = _db_state(pg_url, tmp_path, key)
    assert n_commits == 1 and len(in_git) == 1
    assert rows == [("M1001", "PROD_EFF", "2.00", "active")]
    result = _verify(env)
    assert result.exit_code == 0, result.output
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log
    assert _recoveries(log) == [server.proc.pid], log


def _recoveries(log: str) -> list[int]:
    """The pids that ran start-up recovery, from the server's log."""
    return [int(m) for m in re.findall(r"start-up recovery \(pid (\d+)\)", log)]


def test_startup_recovery_runs_once_per_instance(tmp_path, pg_url):
    """Three workers, one recovery: in the master, before any worker exists (it used to run
    in every worker at once; under load the second one logged a UniqueViolation)."""
    from sqlalchemy.orm import Session

    from server.db import make_engine
    from server.ledger import History
    from server.models import HistoryCommit, Period
    from server.services.history import SYSTEM

    _tokens(pg_url, tmp_path)
    engine = make_engine(pg_url)
    try:
        with Session(engine) as s:
            s.add(Period(code="2026-10"))
            s.commit()
        # a commit the database lacks (a crash between git and the database)
        with History(tmp_path / "history", durable=False) as h:
            h.set_status("2026-10", "open", SYSTEM, "lost", "lost-commit-1")
        server = start_gunicorn(tmp_path, _env(tmp_path, pg_url), workers=3)
        stop_gunicorn(server)
        log = server.log.read_text(errors="replace")
        assert _recoveries(log) == [server.proc.pid], log
        assert log.count("recovered history commit") == 1, log
        assert "Traceback" not in log, log
        with Session(engine) as s:
            rows = s.scalars(select(HistoryCommit).where(
                HistoryCommit.submission_id == "lost-commit-1")).all()
            assert [r.recovered for r in rows] == [True]
    finally:
        engine.dispose()


@pytest.fixture
def hanging_source():
    """A TCP server on 127.0.0.1 that accepts connections and never answers (bounded: the
    connections are closed when the test ends)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(10)
        for conn in held:
            conn.close()
        listener.close()


def test_hanging_source_times_out_by_name(tmp_path, hanging_source, held_source, client,
                                          app, hr_token):
    from addin.headless import flask_poster, run_button

    held_source.release.set()  # this one answers at once
    config = tmp_path / "connectors.toml"
    config.write_text(f"""
[settings]
timeout = 2
retries = 0
workers = 2

[[source]]
name = "hung_erp"
kind = "rest"
url = "{hanging_source}/efficiency"
items = "items"
employee_key = "staff"

[[source.indicator]]
indicator = "PROD_EFF"
aggregate = "sum"
value = "eff"

[[source]]
name = "held_crm"
kind = "rest"
url = "{held_source.url}/deliveries"
items = "items"
employee_key = "staff"

[[source.indicator]]
indicator = "SALES"
aggregate = "sum"
value = "amount"
scale = 0.01
unit = "万元"
""", encoding="utf-8")
    app.config["SYNC_CONFIG"] = str(config)
    app.config["FACT_SOURCE"] = "stored"
    book = tmp_path / "book.xlsx"
    shutil.copy(TEMPLATE, book)
    post = flask_poster(client, headers={"Authorization": f"Bearer {hr_token}"})
    run_button("new_period?period=2026-10", book, post=post)
    result = run_button("pull", book, post=post)
    text = "\n".join(m for m, _t in result.alerts)
    assert "hung_erp" in text, text
    assert "超时" in text or "timed out" in text.lower() or "timeout" in text.lower(), text
    status = client.get("/api/v1/periods/2026-10/pull-status",
                        headers={"Authorization": f"Bearer {hr_token}"}).get_json()
    by_name = {s["source"]: s for s in status["sources"]}
    assert by_name["held_crm"]["state"] == "done" and by_name["held_crm"]["records"] == 8
    assert by_name["hung_erp"]["state"] != "done", by_name
