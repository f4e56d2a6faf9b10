"""Concurrent Submits through gunicorn (4 workers) on PostgreSQL, loopback only.

50 executives (users + tokens created through the services, each with authority over one
department of 4 managers) each send 20 adjustments at the same time through POST /xl/submit:
the headless client's payload of the scored workbook with one cell typed (each executive
adjusts distinct cells: its own department's). Every request carries an Idempotency-Key; a
request answered 503 or cut off is retried with the same key (bounded), as the client does.
Then: all edits present exactly once in the database (history_commits, adjustment rows) and in
git (History timeline and the state at the head), `kpibook verify` clean, and latency p50/p99
and throughput printed.

    .venv/bin/python bench/load_submit.py [--executives 50] [--per-executive 20] [--workers 4]

Needs the Debian PostgreSQL cluster (started like tests/conftest.py does) and root for
`su postgres`. Bounded: every request times out after 300 s, the run after --deadline s.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

PERIOD = "2026-10"
CELL_INDICATORS = ("PROD_EFF", "QUALITY", "SALES", "ATTEND", "QUALITY_INCIDENT")
MANAGERS_PER_DEPT = 4
DEDUCTIONS = ("QUALITY_INCIDENT",)  # range -6..0


def big_template(departments: int):
    """The manufacturing template with `departments` x 4 managers (values cycled)."""
    from server.workbook import template_content as tc

    base = tc.MANUFACTURING
    roster, values = [], {}
    for d in range(departments):
        for m in range(MANAGERS_PER_DEPT):
            src = base.roster[(d * MANAGERS_PER_DEPT + m) % len(base.roster)]
            eid = f"E{d:03d}{m}"
            roster.append(dataclasses.replace(src, employee_id=eid, department=f"部门{d:03d}",
                                              email=f"{eid.lower()}@example.com", manager=""))
            values[eid] = dict(base.values[src.employee_id])
    return dataclasses.replace(base, roster=tuple(roster), values=values, targets=(),
                               stale=frozenset())


def build_book(path: Path, departments: int) -> None:
    from server.workbook.templates import build_workbook

    build_workbook(big_template(departments)).save(path)


def pg_database() -> tuple[str, str]:
    """(url, name) of a new database on the local cluster (started when down)."""
    from tests.conftest import _cluster_port, _psql

    port = _cluster_port()
    role, password = "kpibook_bench", "kpibook_bench_pw"
    exists = _psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'").strip()
    _psql(f"{'ALTER' if exists else 'CREATE'} ROLE {role} LOGIN CREATEDB PASSWORD '{password}'")
    name = "kpibook_load_" + uuid.uuid4().hex[:10]
    _psql(f"CREATE DATABASE {name} OWNER {role} ENCODING 'UTF8' TEMPLATE template0")
    return f"postgresql+psycopg://{role}:{password}@127.0.0.1:{port}/{name}", name


def drop_database(name: str) -> None:
    from tests.conftest import _psql

    _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def cell_locations(book: Path, cells: list[tuple[str, str]]) -> tuple[dict, dict]:
    """The base payload and, per cell, where its points and reason sit in the payload."""
    import openpyxl

    from addin.headless import workbook_to_payload
    from server.workbook.schema import ADJUSTMENTS, match_column

    base = workbook_to_payload(book)
    wb = openpyxl.load_workbook(book)
    where: dict[tuple[str, str], tuple] = {}
    for s, ws in enumerate(wb.worksheets):
        if "kb_adjustments" not in ws.tables:
            continue
        ref = ws.tables["kb_adjustments"].ref
        rows = list(ws[ref])
        keys = [getattr(match_column(ADJUSTMENTS, str(c.value or "")), "key", None)
                for c in rows[0]]
        for row in rows[1:]:
            d = {k: c for k, c in zip(keys, row, strict=True) if k}
            key = (d["employee_id"].value, d["indicator"].value)
            if key in cells:
                where[key] = (s, d["points"].row - 1, d["points"].column - 1,
                              d["reason"].column - 1)
    missing = [c for c in cells if c not in where]
    if missing:
        raise SystemExit(f"kb_adjustments has no rows for {missing[:5]}...")
    assert base["sheets"][0] is not None
    return base, where


def points_within_range(book: Path) -> dict[tuple[str, str], Decimal]:
    """-0.50 where the rule score allows it, else +0.50 (the engine refuses a line pushed
    outside its range: a full score cannot go up, a zero cannot go down)."""
    from tests.history_server.conftest import table_rows

    out = {}
    for row in table_rows(book, "kb_scores"):
        values = list(row.values())
        eid, code, rule_score = values[0], values[3], values[8]
        score = Decimal(str(rule_score or 0))
        down = score >= Decimal("0.5") or (code in DEDUCTIONS and score > -5)
        out[(eid, code)] = Decimal("-0.5") if down else Decimal("0.5")
    return out


def payload_for(base: dict, where: tuple, points: float, reason: str) -> dict:
    s, r, c_points, c_reason = where
    p = copy.copy(base)
    p["sheets"] = list(base["sheets"])
    sheet = dict(p["sheets"][s])
    values = list(sheet["values"])
    row = list(values[r])
    row[c_points], row[c_reason] = points, reason
    values[r] = row
    sheet["values"] = values
    p["sheets"][s] = sheet
    return p


@dataclasses.dataclass
class Outcome:
    sid: str
    cell: tuple[str, str]
    status: int = 0
    seconds: float = 0.0  # the successful attempt's latency
    attempts: int = 0
    points: Decimal = Decimal("0.5")
    messages: list[str] = dataclasses.field(default_factory=list)
    answers: list[int] = dataclasses.field(default_factory=list)  # every attempt (0: cut off)


RETRY_STATUSES = {502, 503, 504}


def submit(url: str, token: str, payload: dict, out: Outcome, deadline: float,
           max_attempts: int = 30) -> None:
    body = json.dumps(payload).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
               "Idempotency-Key": out.sid}
    while out.attempts < max_attempts and time.monotonic() < deadline:
        out.attempts += 1
        t = time.perf_counter()
        try:
            r = requests.post(f"{url}/xl/submit", data=body, headers=headers, timeout=300)
        except requests.RequestException as exc:
            out.answers.append(0)
            out.messages.append(f"{type(exc).__name__}: {exc}"[:200])
            time.sleep(min(5.0, 0.5 * out.attempts))
            continue
        out.status = r.status_code
        out.answers.append(r.status_code)
        if r.status_code == 200:
            out.seconds = time.perf_counter() - t
            text = r.text
            if "拒绝" in text and "接受 0" in text:  # pragma: no cover - reported below
                out.messages.append(text[:300])
            return
        out.messages.append(f"{r.status_code}: {r.text[:300]}")
        if r.status_code not in RETRY_STATUSES:
            return
        time.sleep(min(5.0, 0.5 * out.attempts))


def prepare(tmp: Path, executives: int, per_exec: int):
    """A new database with the users. Returns (url, dbname, hr, execs)."""
    from server.db import upgrade

    url, dbname = pg_database()
    upgrade(url)
    hr, execs = make_users(url, tmp, executives, per_exec)
    return url, dbname, hr, execs


def make_users(url: str, tmp: Path, executives: int, per_exec: int
               ) -> tuple[str, list[tuple[str, str, list[tuple[str, str]]]]]:
    """HR and `executives` executives (one department of 4 managers each) in the migrated
    database at `url`: (hr token, [(name, token, cells to adjust)])."""
    from server import create_app
    from server.auth import create_token, create_user
    from server.db import get_engine, session_scope

    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp / "setup-instance"),
                      "HISTORY_DIR": str(tmp / "history"), "SECRET_KEY": "load"})
    execs = []
    with session_scope(app) as s:
        hr = create_token(s, create_user(s, "hr", "hr_admin", "HR"), "load")
        for i in range(executives):
            dept = f"部门{i:03d}"
            user = create_user(s, f"exec{i:03d}", "executive", f"总监 {i:03d}",
                               {"departments": [dept]}, f"exec{i:03d}@example.com")
            cells = [(f"E{i:03d}{m}", code) for m in range(MANAGERS_PER_DEPT)
                     for code in CELL_INDICATORS][:per_exec]
            execs.append((user.name, create_token(s, user, "load"), cells))
    get_engine(app).dispose()
    return hr, execs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--executives", type=int, default=50)
    ap.add_argument("--per-executive", type=int, default=20)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--deadline", type=float, default=1500, help="seconds for the whole load")
    ap.add_argument("--keep", action="store_true", help="keep the database and folder")
    ap.add_argument("--retry-500", action="store_true",
                    help="the client also retries a 500 with the same Idempotency-Key")
    ap.add_argument("--no-retry", action="store_true",
                    help="one attempt per submit: every answer (503, 500, a cut connection) "
                         "is final")
    args = ap.parse_args()
    if args.retry_500 and args.no_retry:
        raise SystemExit("--retry-500 and --no-retry exclude each other")
    if args.retry_500:
        RETRY_STATUSES.add(500)
    attempts = 1 if args.no_retry else 30
    if args.per_executive > MANAGERS_PER_DEPT * len(CELL_INDICATORS):
        raise SystemExit(f"at most {MANAGERS_PER_DEPT * len(CELL_INDICATORS)} per executive")

    from addin.headless import run_button
    from server.commands import http_post
    from tests.production.conftest import start_gunicorn, stop_gunicorn

    tmp = Path(tempfile.mkdtemp(prefix="load_submit_"))
    print(f"folder {tmp}", flush=True)
    url, dbname, hr, execs = prepare(tmp, args.executives, args.per_executive)
    env = {"KPIBOOK_DATABASE_URL": url, "KPIBOOK_ALLOW_INSECURE_HTTP": "1",
           "KPIBOOK_SECRET_KEY": "load-secret", "KPIBOOK_FACT_SOURCE": "simulator",
           "KPIBOOK_INSTANCE_PATH": str(tmp / "instance"),
           "KPIBOOK_HISTORY_DIR": str(tmp / "history"), "KPIBOOK_LOG_LEVEL": "WARNING",
           "KPIBOOK_FAULT": ""}
    server = start_gunicorn(tmp, env, workers=args.workers)
    ok = False
    try:
        book = tmp / "book.xlsx"
        build_book(book, args.executives)
        post = http_post(server.url, {"Authorization": f"Bearer {hr}"}, insecure=False)
        for button in ("new_period?period=2026-10", "pull", "score"):
            run_button(button, book, post=post)
        all_cells = [c for _n, _t, cells in execs for c in cells]
        base, where = cell_locations(book, all_cells)
        points = points_within_range(book)
        jobs: list[tuple[str, list[tuple[Outcome, dict]]]] = []
        run_id = uuid.uuid4().hex[:8]
        for name, token, cells in execs:
            mine = []
            for k, cell in enumerate(cells):
                out = Outcome(f"load-{run_id}-{name}-{k:02d}", cell)
                reason = f"负载测试 load {name} #{k}"
                out.points = points[cell]
                mine.append((out, payload_for(base, where[cell], float(out.points), reason)))
            jobs.append((token, mine))
        retry = "no client retry" if args.no_retry else f"retried: {sorted(RETRY_STATUSES)}"
        print(f"{len(all_cells)} submits by {len(execs)} executives, {args.workers} gunicorn "
              f"workers, PostgreSQL, {retry}", flush=True)
        barrier = threading.Barrier(len(jobs))
        deadline = time.monotonic() + args.deadline

        def executive(token: str, mine: list[tuple[Outcome, dict]]) -> None:
            barrier.wait(120)
            for out, payload in mine:
                submit(server.url, token, payload, out, deadline, max_attempts=attempts)

        threads = [threading.Thread(target=executive, args=job, daemon=True) for job in jobs]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(1.0, deadline - time.monotonic() + 60))
        wall = time.perf_counter() - t0
        outcomes = [out for _tok, mine in jobs for out, _p in mine]
        ok = report(outcomes, wall, url, tmp, env)
    finally:
        stop_gunicorn(server)
        if not args.keep:
            drop_database(dbname)
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if ok else 1)


def check_once(url: str, tmp: Path, outcomes: list[Outcome]) -> tuple[list[str], list[str]]:
    """Every acknowledged edit exactly once in the database and in git, read directly (no
    create_app: its start-up recovery would hide what the running server left behind).
    Returns (problems, unacknowledged submissions that are in git but not in the database)."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from server.db import make_engine
    from server.ledger import History
    from server.models import Adjustment, AdjustmentStatus, HistoryCommit

    problems, dangling = [], []
    engine = make_engine(url)
    try:
        sids = {o.sid: o for o in outcomes}
        with History(tmp / "history", durable=False) as history:
            timeline = history.timeline(PERIOD, limit=10 * len(outcomes) + 100)
            head_cells = history.cells_at(None, PERIOD)
        in_git: dict[str, int] = {}
        for info in timeline:
            if info.submission_id in sids:
                in_git[info.submission_id] = in_git.get(info.submission_id, 0) + 1
        with Session(engine) as s:
            db_commits = dict(s.execute(
                select(HistoryCommit.submission_id, func.count()).where(
                    HistoryCommit.submission_id.in_(list(sids)))
                .group_by(HistoryCommit.submission_id)).all())
            db_rows: dict[str, list] = {}
            for r in s.scalars(select(Adjustment).where(
                    Adjustment.submission_id.in_(list(sids)))):
                db_rows.setdefault(r.submission_id, []).append(r)
        for sid, o in sids.items():
            if o.status != 200:
                if in_git.get(sid) and not db_commits.get(sid):
                    dangling.append(sid)
                continue  # not acknowledged: may or may not be recorded
            if in_git.get(sid) != 1:
                problems.append(f"{sid}: {in_git.get(sid, 0)} commit(s) in git")
            if db_commits.get(sid) != 1:
                problems.append(f"{sid}: {db_commits.get(sid, 0)} history_commits rows")
            mine = db_rows.get(sid, [])
            if len(mine) != 1 or (mine[0].employee_id, mine[0].indicator) != o.cell or \
                    mine[0].status != AdjustmentStatus.ACTIVE.value or \
                    Decimal(mine[0].points) != o.points:
                seen = [(r.employee_id, r.indicator, r.points, r.status) for r in mine]
                problems.append(f"{sid}: adjustment rows {seen}")
            value = head_cells.get(o.cell)
            if value is None or value.points != o.points:
                problems.append(f"{sid}: git head has {value} for {o.cell}")
    finally:
        engine.dispose()
    return problems, dangling


def run_numbers(url: str) -> str:
    """The period's score run numbers: how many, duplicates (impossible: a unique
    constraint), and the gaps a request that failed after taking a number leaves."""
    from sqlalchemy import select

    from server.db import make_engine
    from server.models import Period, ScoreRun

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            numbers = sorted(conn.scalars(select(ScoreRun.run_no).join(Period).where(
                Period.code == PERIOD)))
    finally:
        engine.dispose()
    if not numbers:
        return "score runs: none"
    gaps = sorted(set(range(1, numbers[-1] + 1)) - set(numbers))
    return (f"score runs: {len(numbers)}, numbers 1..{numbers[-1]}, duplicates "
            f"{len(numbers) - len(set(numbers))}, gaps {len(gaps)} {gaps[:10]}")


def report(outcomes: list[Outcome], wall: float, url: str, tmp: Path, env: dict) -> bool:
    import os
    import subprocess

    done = [o for o in outcomes if o.status == 200]
    failed = [o for o in outcomes if o.status != 200]
    times = sorted(o.seconds for o in done)
    retried = sum(1 for o in outcomes if o.attempts > 1)
    if times:
        p50 = statistics.median(times) * 1000
        p99 = times[min(len(times) - 1, int(round(0.99 * (len(times) - 1))))] * 1000
        print(f"acknowledged {len(done)}/{len(outcomes)} (retried {retried}); latency p50 "
              f"{p50:.0f} ms, p99 {p99:.0f} ms, max {times[-1] * 1000:.0f} ms; wall "
              f"{wall:.1f} s, throughput {len(done) / wall:.1f} submits/s", flush=True)
    for o in failed[:10]:
        print(f"FAILED {o.sid} {o.cell}: {o.messages[-1:]}", flush=True)
    problems, dangling = check_once(url, tmp, outcomes)
    codes: dict[int, int] = {}
    for o in outcomes:
        codes[o.status] = codes.get(o.status, 0) + 1
    print(f"final answers by status: {dict(sorted(codes.items()))}", flush=True)
    every: dict[int, int] = {}
    for o in outcomes:
        for status in o.answers:
            every[status] = every.get(status, 0) + 1
    print(f"every attempt by status (0: connection cut): {dict(sorted(every.items()))}",
          flush=True)
    print(run_numbers(url), flush=True)
    if dangling:
        print(f"NOT ACKNOWLEDGED BUT IN GIT ONLY (the database lacks them until start-up "
              f"recovery or the client's retry with the same key): {len(dangling)}", flush=True)
    for p in problems[:20]:
        print("MISMATCH", p, flush=True)
    print(f"exactly once in DB and git: {'yes' if not problems else 'NO'} "
          f"({len(done)} checked)", flush=True)
    verify = subprocess.run([sys.executable, "-c", "from server.cli import main; main()",
                             "verify"], cwd=ROOT, env={**os.environ, **env},
                            capture_output=True, text=True, timeout=900)
    print("kpibook verify:", (verify.stdout.strip().splitlines() or ["?"])[-1],
          f"(exit {verify.returncode})", flush=True)
    if verify.returncode:
        print(verify.stdout[-3000:], verify.stderr[-2000:], flush=True)
    return not failed and not problems and not dangling and verify.returncode == 0


if __name__ == "__main__":
    main()
