"""The suite's own hygiene (tests/processes.py, tests/conftest.py): a run that leaves a process
it started alive fails and the process is killed; a process started as a system service
(without the run's marker, detached like Debian's PostgreSQL) is left alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CONFTEST = "from tests.conftest import pytest_configure, pytest_sessionfinish  # noqa: F401\n"

LEAKY = '''
import subprocess
import sys
from pathlib import Path


def test_leaves_a_server_behind():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                            start_new_session=True)
    Path("leaked.pid").write_text(str(proc.pid))
'''

SERVICE = '''
import subprocess
from pathlib import Path

from tests.processes import environ_without_marker


def test_starts_a_service():
    # like `service postgresql start`: detached (re-parented to init), no marker
    subprocess.run(["sh", "-c", "sleep 600 >/dev/null 2>&1 & echo $! > service.pid"],
                   env=environ_without_marker(), check=True)
'''


def _run(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_inner.py").write_text(body)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "test_inner.py"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def test_a_run_that_leaves_a_process_alive_fails(tmp_path):
    result = _run(tmp_path, LEAKY)
    pid = int((tmp_path / "leaked.pid").read_text())
    try:
        assert result.returncode == 1, result.stdout + result.stderr
        assert "still alive" in result.stdout and f"pid {pid}:" in result.stdout, result.stdout
        assert "1 passed" in result.stdout
        assert not _alive(pid)  # killed by the check
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_system_service_is_not_the_runs(tmp_path):
    result = _run(tmp_path, SERVICE)
    pid = int((tmp_path / "service.pid").read_text())
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        assert "still alive" not in result.stdout
        assert _alive(pid)
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


PARENT = '''
import subprocess, sys
from tests.processes import dies_with_us
child = subprocess.Popen(dies_with_us([sys.executable, "-c", "import time; time.sleep(600)"]),
                         start_new_session=True)
print(child.pid, flush=True)
sys.stdin.read()  # until the test kills us
'''


def test_a_server_dies_with_the_test_process_however_it_dies():
    """A server in a session of its own (gunicorn) gets SIGTERM when the process that
    started it is SIGKILLed: no finalizer runs then (a harness' timeout)."""
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    child = int(parent.stdout.readline())
    try:
        # setpriv sets the parent-death signal and then execs the server: a parent killed
        # before that (a loaded machine) leaves a child that was never told. Kill it once the
        # child runs the server's own command line, exactly, as a harness' timeout would.
        # Not merely a command line holding "time.sleep(600)": setpriv's holds it, and so
        # does the forked child's before any exec (it is the parent's, whose script has it),
        # so a loaded run could kill the parent before setpriv had set the signal.
        server = b"\0".join([sys.executable.encode(), b"-c", b"import time; time.sleep(600)", b""])
        for _ in range(600):  # bounded: up to ~60 s under load
            if _cmdline(child) == server:
                break
            time.sleep(0.1)
        assert _cmdline(child) == server, _cmdline(child)
        parent.kill()
        parent.wait(timeout=30)
        for _ in range(300):  # bounded: the kernel signals at once; up to ~30 s under load
            if not _alive(child):
                break
            time.sleep(0.1)
        assert not _alive(child)
    finally:
        parent.stdout.close()
        parent.stdin.close()
        if _alive(child):
            os.kill(child, signal.SIGKILL)
