"""Faults too slow (or too intrusive) for the test suite, with the real server, loopback only.

    .venv/bin/python bench/faults.py [pg-restart] [disk-full]      (as root)

pg-restart  gunicorn (2 workers) on a *private* PostgreSQL cluster (`pg_createcluster`, its own
            port, so the shared cluster other test suites use is not touched): executives
            submit while the cluster is restarted (`pg_ctlcluster ... restart`, what
            `service postgresql restart` does to every cluster). Answers during the outage
            are recorded; the clients retry with the same Idempotency-Key (bounded); then
            every acknowledged edit must be in the database and git exactly once and
            `kpibook verify` must pass.
disk-full   the history folder on a 2 MB tmpfs (`mount -t tmpfs -o size=2m`), filled up, then
            a Submit: the answer, the database (unchanged?) and git are checked; the space is
            freed, `kpibook verify` run and the Submit retried with the same key.

Every scenario prints what the user saw and OK/FAIL lines; mounts, clusters and servers are
removed in finally blocks; every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

TEMPLATE = ROOT / "workbook_templates" / "manufacturing.xlsx"
CELLS = [(f"M100{i}", code) for i in range(1, 9) for code in ("PROD_EFF", "QUALITY")]
RESULTS: list[tuple[str, bool, str]] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    RESULTS.append((name, ok, detail))
    print(f"{'OK  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)


def verify(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from server.cli import main; main()",
                           "verify"], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=600)


def server_errors(log: Path, limit: int = 6000) -> str:
    """The server log's tracebacks and error lines (what a 500 was), for the report."""
    lines = log.read_text(errors="replace").splitlines()
    keep = [i for i, ln in enumerate(lines) if "Traceback" in ln or " ERROR " in ln
            or "[ERROR]" in ln or ln.startswith(("sqlalchemy.", "psycopg.", "OSError"))]
    out: list[str] = []
    for i in keep:
        out.extend(lines[i:i + 40] if "Traceback" in lines[i] else lines[i:i + 1])
    text = "\n".join(out)
    return "  server log:\n" + (text[-limit:] if text else "  (no error lines)")


def users(url: str, tmp: Path, n_exec: int) -> tuple[str, list[str]]:
    from server import create_app, db
    from server.auth import create_token, create_user

    db.upgrade(url)
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp / "inst0"),
                      "HISTORY_DIR": str(tmp / "history")})
    with db.session_scope(app) as s:
        hr = create_token(s, create_user(s, "hr", "hr_admin", "人力资源部"), "f")
        execs = [create_token(s, create_user(s, f"exec{i}", "executive", f"总监{i}"), "f")
                 for i in range(n_exec)]
    db.get_engine(app).dispose()
    return hr, execs


def prepared_book(tmp: Path, post) -> Path:
    from addin.headless import run_button

    book = tmp / "book.xlsx"
    shutil.copy(TEMPLATE, book)
    for button in ("new_period?period=2026-10", "pull", "score"):
        run_button(button, book, post=post)
    return book


def one_cell_payloads(book: Path, tag: str) -> list[tuple[str, tuple[str, str], dict]]:
    """(Idempotency-Key, cell, payload) per cell: the scored workbook with one cell typed."""
    from addin.headless import workbook_to_payload
    from bench.load_submit import points_within_range
    from tests.history_server.conftest import set_adjustment

    points = points_within_range(book)
    out = []
    for k, (eid, code) in enumerate(CELLS):
        copy = book.with_name(f"cell{k}.xlsx")
        shutil.copy(book, copy)
        set_adjustment(copy, eid, code, float(points[(eid, code)]), f"故障测试 {tag} #{k}")
        out.append((f"{tag}-{k:02d}", (eid, code), workbook_to_payload(copy)))
    return out


def exactly_once(url: str, history_dir: Path, keys: list[str]) -> list[str]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from server.db import make_engine
    from server.ledger import History
    from server.models import Adjustment, HistoryCommit

    engine = make_engine(url)
    problems = []
    try:
        with Session(engine) as s:
            db_ids = list(s.scalars(select(HistoryCommit.submission_id).where(
                HistoryCommit.submission_id.in_(keys))))
            rows = list(s.scalars(select(Adjustment.submission_id).where(
                Adjustment.submission_id.in_(keys))))
    finally:
        engine.dispose()
    with History(history_dir, durable=False) as h:
        git_ids = [i.submission_id for i in h.timeline("2026-10", limit=10_000)
                   if i.submission_id in keys]
    for key in keys:
        n = (git_ids.count(key), db_ids.count(key), rows.count(key))
        if n != (1, 1, 1):
            problems.append(f"{key}: git {n[0]}, history_commits {n[1]}, adjustment rows {n[2]}")
    return problems


# --- PostgreSQL restarted under load ---------------------------------------------------------


def private_cluster() -> tuple[str, str, int]:
    """(version, name, port) of a new PostgreSQL cluster for this run only."""
    from tests.production.conftest import free_port

    version = sorted(p.name for p in Path("/usr/lib/postgresql").iterdir())[-1]
    # The test fixtures (tests/conftest.py `_cluster_port`) take the first online cluster
    # that pg_lsclusters lists (by version, then name): "faults..." came before "main", so a
    # test session starting during this run used this cluster and lost it when it was
    # dropped. A name sorting after "main" keeps them on the shared one.
    name, port = f"zz_faults{uuid.uuid4().hex[:6]}", free_port()
    subprocess.run(["pg_createcluster", version, name, "--port", str(port), "--start"],
                   check=True, capture_output=True, timeout=180)
    return version, name, port


def psql(port: int, sql: str) -> None:
    subprocess.run(["su", "postgres", "-c", f"psql -X -p {port} -v ON_ERROR_STOP=1 -c \"{sql}\""],
                   check=True, capture_output=True, timeout=60)


def pg_restart() -> None:
    from server.commands import http_post
    from tests.production.conftest import start_gunicorn, stop_gunicorn

    tmp = Path(tempfile.mkdtemp(prefix="faults_pg_"))
    version, name, port = private_cluster()
    server = None
    try:
        psql(port, "CREATE ROLE kb LOGIN PASSWORD 'kb'")
        psql(port, "CREATE DATABASE kb OWNER kb")
        url = f"postgresql+psycopg://kb:kb@127.0.0.1:{port}/kb"
        hr, execs = users(url, tmp, 4)
        env = {"KPIBOOK_DATABASE_URL": url, "KPIBOOK_ALLOW_INSECURE_HTTP": "1",
               "KPIBOOK_SECRET_KEY": "faults", "KPIBOOK_FACT_SOURCE": "simulator",
               "KPIBOOK_INSTANCE_PATH": str(tmp / "instance"),
               "KPIBOOK_HISTORY_DIR": str(tmp / "history"), "KPIBOOK_FAULT": ""}
        server = start_gunicorn(tmp, env, workers=2)
        book = prepared_book(tmp, http_post(server.url, {"Authorization": f"Bearer {hr}"},
                                            insecure=False))
        jobs = one_cell_payloads(book, "pgr")
        seen: list[tuple[str, int, str]] = []  # (key, status, first line) of every answer
        acked: dict[str, bool] = {}
        started = threading.Event()
        deadline = time.monotonic() + 600

        def executive(i: int) -> None:
            token = execs[i]
            for key, _cell, payload in jobs[i::len(execs)]:
                body = json.dumps(payload)
                for attempt in range(60):  # bounded retries, same key
                    if time.monotonic() > deadline:
                        return
                    try:
                        r = requests.post(f"{server.url}/xl/submit", data=body, timeout=120,
                                          headers={"Authorization": f"Bearer {token}",
                                                   "Idempotency-Key": key,
                                                   "Content-Type": "application/json"})
                        seen.append((key, r.status_code, r.text.strip().splitlines()[0]
                                     if r.text.strip() else ""))
                    except requests.RequestException as exc:
                        seen.append((key, 0, type(exc).__name__))
                        time.sleep(min(3.0, 0.5 * (attempt + 1)))
                        continue
                    started.set()
                    if r.status_code == 200:
                        acked[key] = True
                        break
                    time.sleep(min(3.0, 0.5 * (attempt + 1)))

        threads = [threading.Thread(target=executive, args=(i,), daemon=True)
                   for i in range(len(execs))]
        for t in threads:
            t.start()
        started.wait(120)
        t0 = time.monotonic()
        subprocess.run(["pg_ctlcluster", version, name, "restart"], check=True,
                       capture_output=True, timeout=180)
        print(f"cluster {version}/{name} restarted in {time.monotonic() - t0:.1f} s while "
              f"submits ran", flush=True)
        for t in threads:
            t.join(max(1.0, deadline - time.monotonic()))
        errors: dict[tuple[int, str], int] = {}
        for _key, status, line in seen:
            if status != 200:
                errors[(status, line[:120])] = errors.get((status, line[:120]), 0) + 1
        for (status, line), n in sorted(errors.items()):
            print(f"  answer during the outage x{n}: {status or 'no answer'} {line}", flush=True)
        if any(status not in (0, 503) for (status, _l) in errors):
            print(server_errors(server.log), flush=True)
        keys = [k for k, _c, _p in jobs]
        check("pg-restart: every submit acknowledged after retries",
              len(acked) == len(keys), f"{len(acked)}/{len(keys)}")
        check("pg-restart: the outage answered 503 (retry later)",
              all(status in (0, 503) for (status, _l) in errors),
              ", ".join(sorted({str(s) for (s, _l) in errors})) or "no error seen")
        problems = exactly_once(url, tmp / "history", [k for k in keys if k in acked])
        check("pg-restart: acknowledged edits exactly once in DB and git", not problems,
              "; ".join(problems[:5]))
        stop_gunicorn(server)
        server = None
        v = verify(env)
        check("pg-restart: kpibook verify", v.returncode == 0,
              (v.stdout.strip().splitlines() or ["?"])[-1])
    finally:
        if server is not None:
            stop_gunicorn(server)
        subprocess.run(["pg_dropcluster", version, name, "--stop"], capture_output=True,
                       timeout=180)
        shutil.rmtree(tmp, ignore_errors=True)


# --- the history's disk full -----------------------------------------------------------------


def disk_full() -> None:
    from addin.headless import flask_poster
    from server import create_app
    from server.db import get_engine, upgrade

    tmp = Path(tempfile.mkdtemp(prefix="faults_disk_"))
    mount = tmp / "history"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], check=True,
                   timeout=30)
    app = None
    try:
        url = f"sqlite:///{tmp / 'kpibook.sqlite3'}"
        upgrade(url)
        hr, [wang] = users(url, tmp, 1)
        config = {"DATABASE_URL": url, "INSTANCE_PATH": str(tmp / "instance"),
                  "HISTORY_DIR": str(mount), "SECRET_KEY": "faults", "FACT_SOURCE": "simulator",
                  "ALLOW_INSECURE_HTTP": True}
        env = {"KPIBOOK_DATABASE_URL": url, "KPIBOOK_HISTORY_DIR": str(mount),
               "KPIBOOK_INSTANCE_PATH": str(tmp / "instance"), "KPIBOOK_SECRET_KEY": "faults",
               "KPIBOOK_FAULT": ""}
        app = create_app(config)
        client = app.test_client()
        book = prepared_book(tmp, flask_poster(client, headers={"Authorization":
                                                                f"Bearer {hr}"}))
        [(key, cell, payload)] = one_cell_payloads(book, "disk")[:1]
        filler = mount / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:  # fill the file system (bounded: it holds 2 MB)
            for _ in range(4096):
                os.write(fd, b"\0" * 4096)
        except OSError as exc:
            print(f"history file system full: {exc.strerror}", flush=True)
        finally:
            os.close(fd)
        before = exactly_once(url, mount, [key])
        r = client.post("/xl/submit", json=payload, headers={
            "Authorization": f"Bearer {wang}", "Idempotency-Key": key})
        text = r.get_data(as_text=True).strip()
        print(f"  the user saw: HTTP {r.status_code}: {text[:300]}", flush=True)
        check("disk-full: the submit is refused", r.status_code >= 400, str(r.status_code))
        check("disk-full: the message says the disk is full / try later",
              any(w in text.lower() for w in ("disk", "space", "磁盘", "空间")), text[:120])
        after = exactly_once(url, mount, [key])
        check("disk-full: database unchanged, nothing in git", before == after and
              "git 0, history_commits 0, adjustment rows 0" in (after[0] if after else ""),
              "; ".join(after))
        filler.unlink()
        get_engine(app).dispose()
        v = verify(env)
        check("disk-full: kpibook verify after freeing space", v.returncode == 0,
              (v.stdout.strip().splitlines() or ["?"])[-1] + v.stderr[-300:])
        r = client.post("/xl/submit", json=payload, headers={
            "Authorization": f"Bearer {wang}", "Idempotency-Key": key})
        check("disk-full: the retry with the same key succeeds", r.status_code == 200,
              r.get_data(as_text=True)[:200])
        problems = exactly_once(url, mount, [key])
        check("disk-full: recorded exactly once after the retry", not problems,
              "; ".join(problems))
    finally:
        if app is not None:
            from server.services.history import close_all

            close_all()
            get_engine(app).dispose()
        subprocess.run(["umount", str(mount)], capture_output=True, timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


SCENARIOS = {"pg-restart": pg_restart, "disk-full": disk_full}


def main() -> None:
    parser = argparse.ArgumentParser(description="Fault scenarios against a real server.")
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                        help=f"which to run: {', '.join(SCENARIOS)} (default: all)")
    names = parser.parse_args().scenarios or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    for name in names:
        print(f"== {name}", flush=True)
        try:
            SCENARIOS[name]()
        except Exception as exc:  # noqa: BLE001 - reported, next scenario runs
            import traceback

            traceback.print_exc()
            check(f"{name}: ran to the end", False, repr(exc))
    failed = [r for r in RESULTS if not r[1]]
    print(f"{len(RESULTS) - len(failed)} OK, {len(failed)} FAIL", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
