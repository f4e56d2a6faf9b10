"""Submit latency through the real endpoint (POST /xl/submit, Flask test client) as the git
history grows: 10, 1,000 and 20,000 commits (seeded fast through server.ledger directly).

Each sample is one Submit of one changed cell (M1001 PROD_EFF, alternating values) against
the current version, on the manufacturing template (8 managers): parse, diff against
base_version, authority, three-way merge, git commit (durable: syncfs), database rows,
engine, answer actions. Only the POST is timed (not openpyxl on the client side).

    .venv/bin/python bench/bench_submit.py [--sizes 10,1000,20000] [--samples 60]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

POINTS_MARK = 2.75
BASE_MARK = "BASE-VERSION-MARK"


def _find(payload: dict, value) -> list[tuple[int, int, int]]:
    hits = []
    for s, sheet in enumerate(payload["sheets"]):
        for r, row in enumerate(sheet["values"]):
            for c, v in enumerate(row):
                if v == value:
                    hits.append((s, r, c))
    return hits


def _set(payload: dict, where: tuple[int, int, int], value) -> None:
    s, r, c = where
    payload["sheets"][s]["values"][r][c] = value


def seed(history, n: int, period: str = "SEED") -> None:
    """n adjustment commits on 1,000 employees x 10 indicators of another period."""
    from server.ledger import CellValue, Editor

    editor = Editor("种子 Seed", "seed@example.cn")
    for i in range(n):
        emp = f"S{i % 1000:04d}"
        cell = (emp, f"IND{i % 10}")
        # the same cell comes back every 1,000 commits: alternate its value so each is a change
        value = CellValue(Decimal((i // 1000) % 2 + 1), "seed")
        history.submit(period, history.head(), {cell: value},
                       editor, f"seed-{i}")


def _size(path: Path) -> str:
    """Bytes on disk of the repository (du) and git's own count (packs + loose objects)."""
    du = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True).stdout
    objects = subprocess.run(["git", f"--git-dir={path}", "count-objects", "-vH"],
                             capture_output=True, text=True).stdout
    fields = dict(line.split(": ", 1) for line in objects.splitlines() if ": " in line)
    return (f"{int(du.split()[0]) / 1024:.1f} MB on disk (packs {fields.get('size-pack')}, "
            f"loose {fields.get('size')}, {fields.get('count')} loose objects)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10,1000,20000")
    ap.add_argument("--samples", type=int, default=60)
    args = ap.parse_args()
    import openpyxl

    from addin.headless import flask_poster, run_button, workbook_to_payload
    from server import create_app
    from server.auth import create_token, create_user
    from server.db import get_engine, session_scope, upgrade
    from server.ledger import History
    from server.services.history import history_for

    template = ROOT / "workbook_templates" / "manufacturing.xlsx"
    for size in [int(x) for x in args.sizes.split(",")]:
        tmp = Path(tempfile.mkdtemp(prefix="bench_submit_"))
        try:
            url = f"sqlite:///{tmp / 'kpibook.sqlite3'}"
            upgrade(url)
            # seed first, without fsync, straight through the library
            t0 = time.perf_counter()
            with History(tmp / "history", durable=False, maintenance_every=10**9) as h:
                seed(h, max(0, size - 3))
                h.maintain(wait=True)
            seeded = time.perf_counter() - t0
            app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp / "i"),
                              "HISTORY_DIR": str(tmp / "history"), "FACT_SOURCE": "simulator",
                              "ALLOW_INSECURE_HTTP": True, "LOG_LEVEL": "WARNING",
                              "SECRET_KEY": "bench"})
            with session_scope(app) as s:
                hr = create_token(s, create_user(s, "hr", "hr_admin", "HR"))
                gm = create_token(s, create_user(s, "wang", "executive", "王总"))
            client = app.test_client()
            book = tmp / "book.xlsx"
            shutil.copy(template, book)
            post_hr = flask_poster(client, headers={"Authorization": f"Bearer {hr}"})
            for button in ("new_period?period=2026-10", "pull", "score"):
                run_button(button, book, post=post_hr)
            from tests.history_server.conftest import set_adjustment  # noqa: PLC0415

            set_adjustment(book, "M1001", "PROD_EFF", POINTS_MARK, "基准测试 bench")
            wb = openpyxl.load_workbook(book)
            for ws in wb.worksheets:
                if "kb_meta" in ws.tables:
                    for row in ws[ws.tables["kb_meta"].ref]:
                        if row[0].value == "base_version":
                            row[1].value = BASE_MARK
            wb.save(book)
            payload = workbook_to_payload(book)
            [points_at] = _find(payload, POINTS_MARK)
            [base_at] = _find(payload, BASE_MARK)
            history = history_for(app)
            commits = int(history._git("rev-list", "--count", "HEAD").decode())
            times, cpu = [], []
            headers = {"Authorization": f"Bearer {gm}"}
            for i in range(args.samples):
                _set(payload, points_at, 1 if i % 2 else 2)
                _set(payload, base_at, history.timeline("2026-10", limit=1)[0].commit)
                body = json.dumps(payload)
                t, c = time.perf_counter(), time.process_time()
                r = client.post("/xl/submit", data=body, headers={
                    **headers, "Content-Type": "application/json"})
                times.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
                assert r.status_code == 200, r.get_data(as_text=True)
                assert "接受 1" in json.dumps(r.get_json(), ensure_ascii=False), r.get_json()
            times.sort()
            p50 = statistics.median(times) * 1000
            p99 = times[min(len(times) - 1, int(round(0.99 * (len(times) - 1))))] * 1000
            cpu.sort()
            print(f"history {commits:>6} commits (seeded in {seeded:.1f}s): submit p50 "
                  f"{p50:.0f} ms, p99 {p99:.0f} ms, max {times[-1] * 1000:.0f} ms, CPU p50 "
                  f"{statistics.median(cpu) * 1000:.0f} ms, min {cpu[0] * 1000:.0f} ms "
                  f"({args.samples} samples); repository {_size(tmp / 'history')}", flush=True)
            get_engine(app).dispose()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
