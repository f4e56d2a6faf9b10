"""Fixtures of the production tests: gunicorn with several workers on the real PostgreSQL,
on 127.0.0.1, and a source system on 127.0.0.1 whose answer the test releases."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.processes import dies_with_us, stop_process

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class HeldSource:
    """A REST source on 127.0.0.1 that answers only once `release` is set (bounded)."""

    records: list[dict]
    release: threading.Event = field(default_factory=threading.Event)
    asked: threading.Event = field(default_factory=threading.Event)
    url: str = ""


@pytest.fixture
def held_source() -> Iterator[HeldSource]:
    src = HeldSource(records=[{"staff": f"M100{i}", "amount": 100 * i} for i in range(1, 9)])

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def do_GET(self):  # noqa: N802 - http.server's naming
            src.asked.set()
            src.release.wait(120)  # bounded: the test releases it much sooner
            body = json.dumps({"items": src.records}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    src.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield src
    src.release.set()
    httpd.shutdown()
    httpd.server_close()


def connectors_file(path: Path, url: str) -> Path:
    path.write_text(f"""
[settings]
timeout = 150
retries = 0
workers = 2

[[source]]
name = "held_crm"
kind = "rest"
url = "{url}/deliveries"
items = "items"
employee_key = "staff"

[[source.indicator]]
indicator = "SALES"
aggregate = "sum"
value = "amount"
scale = 0.01
unit = "万元"
""", encoding="utf-8")
    return path


@dataclass
class Gunicorn:
    url: str
    proc: subprocess.Popen
    log: Path

    def get(self, path: str, **kw) -> requests.Response:
        return requests.get(self.url + path, timeout=60, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return requests.post(self.url + path, timeout=180, **kw)


_STARTED: list[Gunicorn] = []  # by start_gunicorn, stopped by _servers_stopped


@pytest.fixture(autouse=True)
def _servers_stopped() -> Iterator[None]:
    """Every gunicorn a test started is gone at its end, pass or fail: the master, its
    workers (also a replacement of a SIGKILLed one, or a worker whose master died) and their
    git helpers, as one process group."""
    yield
    while _STARTED:
        stop_gunicorn(_STARTED.pop())


def start_gunicorn(tmp_path: Path, env: dict[str, str], workers: int) -> Gunicorn:
    port = free_port()
    log = tmp_path / "gunicorn.log"
    full_env = {**os.environ, "KPIBOOK_BIND": f"127.0.0.1:{port}",
                "KPIBOOK_WORKERS": str(workers), "KPIBOOK_THREADS": "1",
                "KPIBOOK_ACCESS_LOG": str(tmp_path / "access.log"), **env}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            dies_with_us([sys.executable, "-m", "gunicorn", "-c",
                          str(ROOT / "server/gunicorn_conf.py")]),
            cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    g = Gunicorn(f"http://127.0.0.1:{port}", proc, log)
    _STARTED.append(g)
    for _ in range(240):  # bounded: up to ~60 s for the workers to import and connect
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log.read_text(errors='replace')}")
        try:
            if g.get("/healthz").status_code == 200:
                return g
        except requests.ConnectionError:
            pass
        time.sleep(0.25)
    stop_gunicorn(g)
    raise RuntimeError(f"gunicorn did not answer: {log.read_text(errors='replace')}")


def stop_gunicorn(g: Gunicorn) -> None:
    """Graceful stop (SIGTERM, bounded), then SIGKILL to whatever of its process group is
    left. Idempotent: the autouse fixture calls it again for every server a test started."""
    stop_process(g.proc, term_timeout=90)
