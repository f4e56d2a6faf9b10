"""PgAdvisoryLock against the real PostgreSQL (tests/conftest.py's pg_url fixture)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from decimal import Decimal

import pytest

from server.ledger import CellValue, Editor, History, LockTimeout

from .conftest import PERIOD
from .test_concurrency import WRITER, _check_branch


@pytest.fixture
def pglock(pg_url):
    from server.ledger.pglock import PgAdvisoryLock

    made = []

    def make(key: str | int = "kpibook-history:test", timeout: float | None = None):
        lock = PgAdvisoryLock(pg_url, key, timeout=timeout)
        made.append(lock)
        return lock

    yield make
    for lock in made:
        lock.dispose()


def test_key_is_a_stable_signed_bigint():
    from server.ledger.pglock import advisory_key

    assert advisory_key("repo") == advisory_key("repo") != advisory_key("other")
    assert -(1 << 63) <= advisory_key("repo") < (1 << 63)
    assert advisory_key(42) == 42
    with pytest.raises(ValueError):
        advisory_key(1 << 63)


def test_second_holder_times_out_then_gets_the_lock(pglock):
    first, second = pglock(), pglock(timeout=0.2)
    with first.hold(), pytest.raises(LockTimeout), second.hold():
        pass
    with second.hold():  # released by the first block; the failed wait left nothing behind
        pass
    with first.hold():   # and the second released it again
        pass


def test_other_keys_do_not_exclude(pglock):
    with pglock("a").hold(), pglock("b", timeout=0.2).hold():
        pass


def test_threads_sharing_one_lock_exclude_each_other(pglock):
    lock = pglock()  # one object, one pool: every hold() must still be its own session
    inside = overlaps = 0
    done = []

    def work() -> None:
        nonlocal inside, overlaps
        for _ in range(10):
            with lock.hold():
                inside += 1
                overlaps += inside > 1
                time.sleep(0.002)
                inside -= 1
        done.append(1)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(done) == 4 and overlaps == 0


def test_two_processes_with_the_advisory_lock_lose_nothing(tmp_path, pg_url):
    """The flock is not used at all: only the advisory lock serialises the writers."""
    path = tmp_path / "h.git"
    History(path, durable=False, maintenance_every=0).close()
    key = f"kpibook-history:{path}"
    workers = ["pg0", "pg1"]
    procs = [subprocess.Popen([sys.executable, str(WRITER), str(path), "submit-pg", w, "15",
                               pg_url, key], stdout=subprocess.PIPE, text=True)
             for w in workers]
    for p in procs:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0 and "DONE" in out
    with History(path, durable=False, maintenance_every=0) as h:
        _check_branch(h, {f"{w}-{n}" for w in workers for n in range(15)},
                      lambda sid: Editor(f"Exec {sid.split('-')[0]}",
                                         f"{sid.split('-')[0]}@example.cn"))
        assert len(h.cells_at(None, PERIOD)) == 30


def test_history_with_the_advisory_lock(tmp_path, pglock):
    with History(tmp_path / "h.git", durable=False, maintenance_every=0,
                 lock=pglock(timeout=5)) as h:
        r = h.submit(PERIOD, None, {("E1", "K1"): CellValue(Decimal(2), "pg")},
                     Editor("A", "a@x.cn"), "s1")
        assert r.commit and h.commit_of("s1") == r.commit
