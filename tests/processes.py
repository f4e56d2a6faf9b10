"""Processes the test suite starts: stopping them with everything they started, and finding
the ones still alive when the run ends.

Every child of the run carries MARKER in its environment (tests/conftest.py sets it in
`pytest_configure`; children inherit it, also through `{**os.environ, ...}`), so a process the
run left behind is found even after its parent died and it was re-parented to init. Debian's
PostgreSQL cluster, which the fixtures start on purpose as a system service, is started
without the marker (`environ_without_marker`) and is never one of them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

MARKER = "KPIBOOK_TEST_RUN"
PROC = Path("/proc")


def environ_without_marker() -> dict[str, str]:
    """The environment for a process that must outlive the run (a system service)."""
    return {k: v for k, v in os.environ.items() if k != MARKER}


def dies_with_us(argv: list[str]) -> list[str]:
    """`argv` run so that it gets SIGTERM when the test process dies, however it dies
    (SIGKILL, a harness' timeout: no finalizer runs then): `setpriv --pdeathsig` sets the
    parent-death signal and execs `argv` (same pid). A server in a session of its own
    (start_new_session=True) would otherwise outlive the run; gunicorn's master stops its
    workers on SIGTERM."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--", *argv] if setpriv else argv


def stop_process(proc: subprocess.Popen, term_timeout: float = 90.0) -> None:
    """SIGTERM `proc` and wait for it (bounded), then SIGKILL its whole process group when it
    leads one (start_new_session=True: gunicorn's workers, their git helpers), else itself.
    Never raises for a process already gone."""
    group = _own_group(proc)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=term_timeout)
    if group is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)  # workers outliving their master, helpers
    elif proc.poll() is None:
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL is not refused
        proc.wait(timeout=30)


def _own_group(proc: subprocess.Popen) -> int | None:
    """The process group `proc` leads, if any (its pgid is its pid)."""
    try:
        return proc.pid if os.getpgid(proc.pid) == proc.pid else None
    except ProcessLookupError:
        # Gone already: its group may still hold its children; the pid was the group id
        # only if it was started in a session of its own, which we cannot ask any more.
        return proc.pid if _group_alive(proc.pid) else None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


@dataclass(frozen=True)
class Leftover:
    pid: int
    cmdline: str


def leftovers(marker_value: str, exclude: set[int]) -> list[Leftover]:
    """Live processes (not zombies) whose environment carries MARKER=`marker_value`, or that
    descend from this process, other than those in `exclude`."""
    needle = f"{MARKER}={marker_value}".encode()
    me = os.getpid()
    parents: dict[int, int] = {}
    found: list[Leftover] = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            stat = (entry / "stat").read_text()
            # "pid (comm) state ppid ...": comm may hold spaces and parentheses
            state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
            if state in ("Z", "X"):
                continue
            parents[pid] = int(ppid)
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace").strip()
        except (OSError, ValueError):
            continue  # gone meanwhile, or not ours to read
        if pid == me or pid in exclude:
            continue
        if needle in environ.split(b"\0") or _descends(pid, me, parents):
            found.append(Leftover(pid, cmdline))
    return found


def _descends(pid: int, ancestor: int, parents: dict[int, int]) -> bool:
    """Whether `ancestor` is a parent, grandparent... of `pid` (from what was read so far,
    then /proc for the rest)."""
    seen = 0
    while pid > 1 and seen < 64:
        ppid = parents.get(pid)
        if ppid is None:
            try:
                stat = (PROC / str(pid) / "stat").read_text()
                ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            except (OSError, ValueError):
                return False
            parents[pid] = ppid
        if ppid == ancestor:
            return True
        pid, seen = ppid, seen + 1
    return False


def wait_for_leftovers(marker_value: str, exclude: set[int], timeout: float = 10.0
                       ) -> list[Leftover]:
    """`leftovers`, given `timeout` seconds to go away (a helper that exits when its pipe
    closes, a process group still dying of SIGKILL)."""
    deadline = time.monotonic() + timeout
    found = leftovers(marker_value, exclude)
    while found and time.monotonic() < deadline:
        time.sleep(0.2)
        found = leftovers(marker_value, exclude)
    return found


def kill(found: list[Leftover]) -> None:
    for proc in found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(proc.pid, signal.SIGKILL)
