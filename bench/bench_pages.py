"""Render time of the review pages (timeline and its filters, diff, cell history, dashboard,
a manager's page, department distributions) at 20,000 commits.

Seeds a history through the library (server.ledger: a baseline of N employees x 10
indicators in 7 departments, then `--commits` submits of 1-3 cells, durable=False so the
seeding is quick), a database with the roster and two users (HR: every department; a
department head: one department) and a score run of everyone, then renders each page
through the Flask test client `--reps` times, each time a different question (other
employee/indicator/version pair), and prints p50/p99 wall time and this process's CPU time
in ms. Figures only, no assertions.

    .venv/bin/python bench/bench_pages.py                       # 20,000 commits
    .venv/bin/python bench/bench_pages.py --commits 2000 --reps 20
    .venv/bin/python bench/bench_pages.py --dir /tmp/pages20k      # keep the seeded history
    .venv/bin/python bench/bench_pages.py --dir /tmp/pages20k      # ... and re-use it

With --dir the seeded repository is kept in DIR/history and re-used by later runs (seeding
20,000 commits takes ~20 minutes on 2 shared cores); the database is rebuilt every run.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.ledger import (  # noqa: E402
    CellValue,
    Editor,
    EmployeeInfo,
    History,
    Kind,
    ScoreLine,
    ScoreSnapshot,
    TotalLine,
)

PERIOD = "2026-10"
INDICATORS = [f"IND{i:02d}" for i in range(10)]
DEPTS = [f"{n}车间" for n in "一二三四五六七"]


def seed(path: Path, employees: int, commits: int, seed_: int) -> list[str]:
    rnd = random.Random(seed_)
    ids = [f"E{i:05d}" for i in range(employees)]
    people = {e: EmployeeInfo(f"员工{e}", DEPTS[i % len(DEPTS)]) for i, e in enumerate(ids)}
    lines = {(e, c): ScoreLine(Decimal(8), Decimal(0), Decimal(8)) for e in ids for c in INDICATORS}
    totals = {e: TotalLine(Decimal(80), "B", i + 1, 1) for i, e in enumerate(ids)}
    editors = [Editor(f"高管{i}", f"exec{i}@example.cn") for i in range(5)]
    h = History(path, durable=False, maintenance_every=2000)
    shas = [h.record_scores(PERIOD, ScoreSnapshot(lines, totals, people), editors[0], "base",
                            kind=Kind.BASELINE)]
    t0 = time.perf_counter()
    for n in range(commits):
        edits = {(rnd.choice(ids), rnd.choice(INDICATORS)): CellValue(
            Decimal(rnd.randint(-6, 6)) / 2, f"原因 {n} <script>x</script>")
            for _ in range(rnd.randint(1, 3))}
        r = h.submit(PERIOD, h.head(), edits, rnd.choice(editors), f"s{n}")
        shas.append(r.commit)
        if n and n % 2000 == 0:
            print(f"  seeded {n} commits, {n / (time.perf_counter() - t0):.0f}/s", flush=True)
    h.maintain(wait=True)
    h.close()
    return shas


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--commits", type=int, default=20_000)
    ap.add_argument("--employees", type=int, default=1_000)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dir", type=Path, help="keep the seeded history in DIR/history and "
                    "re-use it when it is there (same --commits/--employees/--seed)")
    ap.add_argument("--seed-only", action="store_true", help="seed, then stop")
    ap.add_argument("--pages", nargs="*", help="only the pages whose name contains one of "
                    "these words (e.g. timeline 'dept head')")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="cProfile each page's requests; print the top N (--sort)")
    ap.add_argument("--sort", default="cumulative", help="pstats order (cumulative, tottime)")
    args = ap.parse_args()
    if args.dir is not None:
        tmp = args.dir
        tmp.mkdir(parents=True, exist_ok=True)
        # the database and instance folder are rebuilt each run; only the history is kept
        (tmp / "kpibook.sqlite3").unlink(missing_ok=True)
        shutil.rmtree(tmp / "inst", ignore_errors=True)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="kpibook-bench-pages-"))
    t0 = time.perf_counter()
    if (tmp / "history" / "HEAD").exists():
        shas = subprocess.run(["git", "--git-dir", str(tmp / "history"), "rev-list",
                               "--reverse", "main"], capture_output=True, text=True,
                              check=True).stdout.split()
        print(f"re-using {len(shas)} commits in {tmp / 'history'}")
    else:
        shas = seed(tmp / "history", args.employees, args.commits, args.seed)
        print(f"seeded {len(shas)} commits in {time.perf_counter() - t0:.0f} s")
    if args.seed_only:
        return

    from server import create_app
    from server.auth import SESSION_KEY, create_user, hash_token
    from server.db import session_scope, upgrade
    from server.models import Employee, Period, ScoreRun, WebSession
    from server.services import stored_run

    db = f"sqlite:///{tmp / 'kpibook.sqlite3'}"
    upgrade(db)
    app = create_app({"TESTING": True, "DATABASE_URL": db, "INSTANCE_PATH": str(tmp / "inst"),
                      "HISTORY_DIR": str(tmp / "history"), "SECRET_KEY": "bench",
                      "ALLOW_INSECURE_HTTP": True, "LANG": "zh", "HISTORY_DURABLE": False,
                      "WTF_CSRF_ENABLED": False})
    import datetime as dt
    import secrets

    ids = [f"E{i:05d}" for i in range(args.employees)]
    clients = {}
    with session_scope(app) as s:
        s.add_all([Employee(employee_id=e, name=f"员工{i}", department=DEPTS[i % len(DEPTS)])
                   for i, e in enumerate(ids)])
        period = Period(code=PERIOD, state="in_review", created_by="hr")
        s.add(period)
        s.flush()
        # the latest score run (dashboard, distributions, manager pages read it)
        rnd_run = random.Random(args.seed + 2)
        points = {e: [Decimal(rnd_run.randint(50, 100)) / 10 for _ in INDICATORS] for e in ids}
        totals = sorted(((sum(p), e) for e, p in points.items()), reverse=True)
        s.add(ScoreRun(
            period_id=period.id, run_no=1, kind="score", created_by="hr",
            employee_count=len(ids),
            lines=stored_run.encode_line_dicts([
                {"employee_id": e, "indicator": c, "actual": "1", "target": "1",
                 "weight": "10", "base_points": str(p), "adjustment": "0", "points": str(p),
                 "explanation": f"{c} 完成率 100%", "status": "ok", "stale": False}
                for e in ids for c, p in zip(INDICATORS, points[e], strict=True)]),
            totals=[{"employee_id": e, "total": str(t), "grade": "A" if t >= 80 else "B",
                     "rank": r + 1, "group_rank": None, "status": "ok", "missing": []}
                    for r, (t, e) in enumerate(totals)]))
        users = {"hr": create_user(s, "hr", "hr_admin", "HR"),
                 "head": create_user(s, "head", "dept_head", "一车间主任",
                                     {"departments": [DEPTS[0]]})}
        s.flush()
        for key, u in users.items():
            sid = secrets.token_urlsafe(16)
            now = dt.datetime.now(dt.UTC)
            s.add(WebSession(sid_hash=hash_token(sid), user_id=u.id, created_at=now,
                             last_seen_at=now, expires_at=now + dt.timedelta(hours=8)))
            client = app.test_client()
            with client.session_transaction() as sess:
                sess[SESSION_KEY] = sid
            clients[key] = client
    rnd = random.Random(args.seed + 1)
    base = f"/review/{PERIOD}"
    n = len(shas)

    def emp(department: int | None = None) -> str:
        i = rnd.randrange(args.employees)
        if department is not None:
            i -= i % len(DEPTS) - department
        return f"E{i % args.employees:05d}"

    def pair(back: int) -> str:
        i = rnd.randrange(back + 1, n)
        return f"{base}/diff?a={shas[i - back]}&b={shas[i]}"

    cases = {
        "timeline page 1 (HR)": lambda: ("hr", f"{base}/timeline"),
        "timeline page 5 (HR)": lambda: ("hr", f"{base}/timeline?page=5"),
        "timeline, one employee (HR)": lambda: ("hr", f"{base}/timeline?employee={emp()}"),
        "timeline, one indicator (HR)": lambda: (
            "hr", f"{base}/timeline?indicator={rnd.choice(INDICATORS)}"),
        "timeline, one department (HR)": lambda: (
            "hr", f"{base}/timeline?department={rnd.choice(DEPTS)}"),
        "timeline, one editor (HR)": lambda: (
            "hr", f"{base}/timeline?editor=高管{rnd.randrange(5)}"),
        "timeline page 1 (dept head, 1 of 7 depts)": lambda: ("head", f"{base}/timeline"),
        "timeline page 3 (dept head)": lambda: ("head", f"{base}/timeline?page=3"),
        "diff version~1..version (HR)": lambda: ("hr", pair(1)),
        "diff version~100..version (HR)": lambda: ("hr", pair(100)),
        "diff version~100..version (dept head)": lambda: ("head", pair(100)),
        "cell history (HR)": lambda: (
            "hr", f"{base}/cell/{emp()}?indicator={rnd.choice(INDICATORS)}"),
        "dashboard (HR)": lambda: ("hr", base),
        "dashboard (dept head)": lambda: ("head", base),
        "manager's page (HR)": lambda: ("hr", f"{base}/people/{emp()}"),
        "manager's page (dept head)": lambda: ("head", f"{base}/people/{emp(0)}"),
        "department distribution chart.svg (HR)": lambda: (
            "hr", f"{base}/chart.svg?department={rnd.choice(DEPTS)}"),
    }
    only = [c for c in cases if not args.pages or any(p in c for p in args.pages)]
    print(f"\n{n} commits, {args.employees} employees x {len(INDICATORS)} indicators, "
          f"{args.reps} requests per page (each a new question); CPU = this process only "
          f"(git's own CPU is not counted)")
    print(f"{'page':44} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'CPU p50':>8} {'CPU min':>8}")
    for name in only:
        make = cases[name]
        times, cpu = [], []
        profile = cProfile.Profile() if args.profile else None
        for _ in range(args.reps):
            who, url = make()
            t, c = time.perf_counter(), time.process_time()
            if profile is not None:
                profile.enable()
            resp = clients[who].get(url)
            if profile is not None:
                profile.disable()
            cpu.append((time.process_time() - c) * 1000)
            times.append((time.perf_counter() - t) * 1000)
            if resp.status_code != 200:
                raise SystemExit(f"{url}: {resp.status_code}")
        times.sort()
        p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
        print(f"{name:44} {statistics.median(times):7.0f} {p99:7.0f} {times[-1]:7.0f} "
              f"{statistics.median(cpu):8.0f} {min(cpu):8.0f}", flush=True)
        if profile is not None:
            pstats.Stats(profile).sort_stats(args.sort).print_stats(args.profile)


if __name__ == "__main__":
    main()
