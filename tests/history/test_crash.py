"""Crash safety: SIGKILL between the git commit and the database write, and mid-commit."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from server.ledger import CellValue, Editor, History

from .conftest import PERIOD

WRITER = Path(__file__).with_name("_writer.py")


def _run_until(args: list[str], marker: str) -> str:
    proc = subprocess.Popen([sys.executable, str(WRITER), *args], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith(marker):
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return "".join(seen)


def _db(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute("create table if not exists adjustments (submission_id text primary key, "
               "employee_id text, indicator text, points text)")
    db.commit()
    return db


def _replay(db: sqlite3.Connection, history: History) -> None:
    """What the server does at start-up: write the commits the database has not seen."""
    known = {row[0] for row in db.execute("select submission_id from adjustments")}
    for info in history.recover(known):
        for cell in info.cells:
            db.execute("insert or ignore into adjustments values (?, ?, ?, ?)",
                       (info.submission_id, cell.employee_id, cell.indicator, str(cell.new)))
    db.commit()


def test_kill_between_git_commit_and_db_write_then_recover_exactly_once(tmp_path):
    repo, dbfile = tmp_path / "h.git", tmp_path / "kpibook.sqlite3"
    _db(dbfile).close()
    with History(repo, maintenance_every=0) as h:
        h.submit(PERIOD, None, {("E0", "K1"): CellValue(Decimal(1), "before")},
                 Editor("Carol", "carol@x.cn"), "early-1")
    db = _db(dbfile)
    db.execute("insert into adjustments values ('early-1', 'E0', 'K1', '1.00')")
    db.commit()

    out = _run_until([str(repo), "crash-after-commit", str(dbfile)], "AT before-db-write")
    commit = out.split("COMMITTED ")[1].split()[0]
    assert db.execute("select count(*) from adjustments where submission_id='crash-1'"
                      ).fetchone() == (0,)  # the database never saw it

    with History(repo, maintenance_every=0) as h:  # "restart"
        assert h.head() == commit
        missing = h.recover({"early-1"})
        assert [(i.submission_id, i.commit) for i in missing] == [("crash-1", commit)]
        _replay(db, h)
        _replay(db, h)  # a second start-up replays nothing
        assert h.recover({r[0] for r in db.execute("select submission_id from adjustments")}
                         ) == []
        # the client retries the request it never got an answer to: no second commit
        retry = h.submit(PERIOD, None, {("E1", "K1"): CellValue(Decimal(7), "late edit")},
                         Editor("Alice", "alice@example.cn"), "crash-1")
        assert retry.duplicate and retry.commit == commit
        ids = [i.submission_id for i in h.timeline(PERIOD, limit=None)]
        assert ids.count("crash-1") == 1
        assert h.cells_at(None, PERIOD)[("E1", "K1")] == CellValue(Decimal(7), "late edit")
    rows = db.execute("select submission_id, employee_id, points from adjustments "
                      "where submission_id='crash-1'").fetchall()
    assert rows == [("crash-1", "E1", "7.00")]


def test_kill_after_objects_before_ref_update_leaves_branch_consistent(tmp_path):
    repo = tmp_path / "h.git"
    with History(repo, maintenance_every=0) as h:
        before = h.submit(PERIOD, None, {("E0", "K1"): CellValue(Decimal(1), "x")},
                          Editor("Carol", "carol@x.cn"), "s0").commit
    _run_until([str(repo), "crash-mid-commit"], "AT objects-written")
    fsck = subprocess.run(["git", f"--git-dir={repo}", "fsck", "--strict"], capture_output=True,
                          text=True)
    assert fsck.returncode == 0, fsck.stderr
    with History(repo, maintenance_every=0) as h:
        assert h.head() == before  # the half-written commit is not on the branch
        assert h.recover({"s0"}) == []
        assert ("E1", "K1") not in h.cells_at(None, PERIOD)
        # the unacknowledged request is retried and lands exactly once
        r = h.submit(PERIOD, before, {("E1", "K1"): CellValue(Decimal(9), "lost?")},
                     Editor("Bob", "bob@example.cn"), "mid-1")
        assert r.commit and not r.duplicate
        assert [i.submission_id for i in h.timeline(PERIOD)] == ["mid-1", "s0"]


def test_stale_ref_lock_from_a_killed_update_ref_is_cleared_by_recover(tmp_path):
    repo = tmp_path / "h.git"
    with History(repo, maintenance_every=0) as h:
        h.submit(PERIOD, None, {("E0", "K1"): CellValue(Decimal(1), "x")},
                 Editor("Carol", "carol@x.cn"), "s0")
        (repo / "refs/heads/main.lock").write_text("")  # left by a writer killed in update-ref
        h.recover({"s0"})
        assert h.submit(PERIOD, h.head(), {("E1", "K1"): CellValue(Decimal(2), "y")},
                        Editor("Carol", "carol@x.cn"), "s1").commit
