"""Locks and concurrent writers: no commit lost, every author right."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

from server.ledger import CellValue, Editor, FileLock, History

from .conftest import PERIOD

WRITER = Path(__file__).with_name("_writer.py")


def test_flock_excludes_threads_of_one_process(tmp_path):
    lock = FileLock(tmp_path / "x.lock")
    inside = 0
    overlaps = 0
    counter_file = tmp_path / "counter"
    counter_file.write_text("0")

    def work() -> None:
        nonlocal inside, overlaps
        for _ in range(30):
            with lock.hold():
                inside += 1
                if inside > 1:
                    overlaps += 1
                value = int(counter_file.read_text())  # read-modify-write, loses updates
                time.sleep(0.0005)                      # unless the lock excludes threads
                counter_file.write_text(str(value + 1))
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == 0 and counter_file.read_text() == str(6 * 30)


def test_flock_times_out_when_held(tmp_path):
    import pytest

    from server.ledger import LockTimeout

    lock = FileLock(tmp_path / "x.lock", timeout=0.05)
    with lock.hold(), pytest.raises(LockTimeout), lock.hold():
        pass


def _check_branch(h: History, expected_ids: set[str], author_of) -> None:
    infos = h.timeline(PERIOD, limit=None)
    counts = Counter(i.submission_id for i in infos)
    assert set(counts) == expected_ids and set(counts.values()) == {1}  # each exactly once
    for info in infos:
        assert info.author == author_of(info.submission_id)
        (cell,) = info.cells
        assert cell.employee_id == "E-" + info.submission_id  # the cell is the author's own
    out = subprocess.run(["git", f"--git-dir={h.path}", "fsck", "--strict"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_threads_sharing_one_history_lose_nothing(history):
    def work(worker: str) -> None:
        editor = Editor(f"Exec {worker}", f"{worker}@example.cn")
        for n in range(15):
            history.submit(PERIOD, None if n % 2 else history.head(),
                           {(f"E-{worker}-{n}", "K1"): CellValue(Decimal(n), "t")},
                           editor, f"{worker}-{n}")

    workers = [f"t{i}" for i in range(4)]
    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = {f"{w}-{n}" for w in workers for n in range(15)}
    _check_branch(history, expected, lambda sid: Editor(f"Exec {sid.split('-')[0]}",
                                                        f"{sid.split('-')[0]}@example.cn"))
    assert len(history.cells_at(None, PERIOD)) == len(expected)


def test_threads_with_their_own_history_objects(tmp_path):
    path = tmp_path / "h.git"
    History(path, durable=False, maintenance_every=0).close()

    def work(worker: str) -> None:
        with History(path, durable=False, maintenance_every=0) as h:
            for n in range(10):
                h.submit(PERIOD, None, {(f"E-{worker}-{n}", "K1"): CellValue(Decimal(1), "t")},
                         Editor(worker, f"{worker}@x.cn"), f"{worker}-{n}")

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with History(path, durable=False, maintenance_every=0) as h:
        _check_branch(h, {f"w{i}-{n}" for i in range(3) for n in range(10)},
                      lambda sid: Editor(sid.split("-")[0], f"{sid.split('-')[0]}@x.cn"))


def test_processes_lose_nothing(tmp_path):
    path = tmp_path / "h.git"
    History(path, durable=False, maintenance_every=0).close()
    workers = [f"p{i}" for i in range(3)]
    procs = [subprocess.Popen([sys.executable, str(WRITER), str(path), "submit", w, "12"],
                              stdout=subprocess.PIPE, text=True) for w in workers]
    for p in procs:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0 and "DONE" in out
    with History(path, durable=False, maintenance_every=0) as h:
        _check_branch(h, {f"{w}-{n}" for w in workers for n in range(12)},
                      lambda sid: Editor(f"Exec {sid.split('-')[0]}",
                                         f"{sid.split('-')[0]}@example.cn"))


def test_a_writer_bypassing_the_lock_fails_instead_of_orphaning(history):
    from server.ledger import ConcurrentUpdate

    first = history.submit(PERIOD, None, {("E1", "K1"): CellValue(Decimal(1), "a")},
                           Editor("A", "a@x"), "s1").commit
    # simulate a stale view of the branch: move the ref behind the writer's back
    history.submit(PERIOD, first, {("E2", "K1"): CellValue(Decimal(1), "b")},
                   Editor("B", "b@x"), "s2")
    try:
        history._move_branch(first, first, Editor("C", "c@x"), "bypass")
    except ConcurrentUpdate:
        pass
    else:
        raise AssertionError("compare-and-swap accepted a stale old value")


def test_maintenance_leaves_the_branch_ref_and_reflog_alone(history):
    """gc runs outside our lock, so it must never lock refs/heads/main (pack-refs, reflog
    expire): a writer's update-ref failed on it at 8,000 commits."""
    subprocess.run(["git", f"--git-dir={history.path}", "config", "gc.auto", "5"], check=True)
    for n in range(12):
        history.submit(PERIOD, None, {(f"E{n}", "K1"): CellValue(Decimal(n), "t")},
                       Editor("A", "a@x.cn"), f"s{n}")
    history.maintain(wait=True)
    assert (history.path / "refs/heads/main").is_file()  # the ref was not packed
    reflog = subprocess.run(["git", f"--git-dir={history.path}", "reflog", "main"],
                            capture_output=True, text=True, check=True).stdout
    assert len(reflog.splitlines()) == 12


def test_update_ref_waits_for_a_short_foreign_ref_lock(history):
    history.submit(PERIOD, None, {("E1", "K1"): CellValue(Decimal(1), "t")},
                   Editor("A", "a@x.cn"), "s1")
    lock = history.path / "refs/heads/main.lock"
    lock.write_text("")
    threading.Timer(0.3, lock.unlink).start()
    r = history.submit(PERIOD, history.head(), {("E1", "K1"): CellValue(Decimal(2), "t")},
                       Editor("A", "a@x.cn"), "s2")
    assert r.commit and history.head() == r.commit
