"""Child process for the concurrency and crash tests (run as a script, not collected).

    _writer.py REPO MODE ...
      submit WORKER COUNT      submit COUNT edits, one cell each, ids WORKER-n
      submit-pg WORKER COUNT URL KEY   the same, excluding each other by PgAdvisoryLock(URL, KEY)
                               instead of the repository's flock
      crash-after-commit DB    submit, print the commit, then wait to be killed before the
                               (SQLite) database write
      crash-mid-commit         stop after the objects are written, before the ref moves
"""

from __future__ import annotations

import sqlite3
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from server.ledger import CellValue, Editor, History  # noqa: E402

PERIOD = "2026-10"


def hang(point: str) -> None:
    print(f"AT {point}", flush=True)
    time.sleep(3600)  # the parent sends SIGKILL now


def main() -> None:
    repo, mode, *rest = sys.argv[1:]
    if mode in ("submit", "submit-pg"):
        worker, count = rest[0], int(rest[1])
        editor = Editor(f"Exec {worker}", f"{worker}@example.cn")
        lock = None
        if mode == "submit-pg":
            from server.ledger.pglock import PgAdvisoryLock

            lock = PgAdvisoryLock(rest[2], rest[3], timeout=120)
        with History(repo, durable=False, maintenance_every=0, lock=lock) as h:
            for n in range(count):
                # a stale base on purpose: the merge must bring everybody's cells along
                h.submit(PERIOD, None if n % 3 else h.head(),
                         {(f"E-{worker}-{n}", "K1"): CellValue(Decimal(n), f"by {worker}")},
                         editor, f"{worker}-{n}")
        print("DONE", flush=True)
    elif mode == "crash-after-commit":
        db = sqlite3.connect(rest[0])
        with History(repo, maintenance_every=0) as h:
            r = h.submit(PERIOD, h.head(), {("E1", "K1"): CellValue(Decimal(7), "late edit")},
                         Editor("Alice", "alice@example.cn"), "crash-1")
            print(f"COMMITTED {r.commit}", flush=True)
            hang("before-db-write")
            db.execute("insert into adjustments values (?, ?, ?, ?)", ("crash-1", "E1", "K1", 7))
            db.commit()
    elif mode == "crash-mid-commit":
        def hook(point: str) -> None:
            if point == "objects-written":
                hang(point)

        with History(repo, maintenance_every=0, fault_hook=hook) as h:
            h.submit(PERIOD, h.head(), {("E1", "K1"): CellValue(Decimal(9), "lost?")},
                     Editor("Bob", "bob@example.cn"), "mid-1")


if __name__ == "__main__":
    main()
