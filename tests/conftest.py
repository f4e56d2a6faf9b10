"""Shared fixtures: a migrated database, the Flask app and client, users with tokens, and a
real PostgreSQL database (Debian's cluster, started when needed)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

# One chromium for the whole session, shared by every test that opens a page (defined once:
# Playwright's sync API cannot start twice in a thread).
from tests.chromium import browser  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parents[1]


# --- processes the run starts ----------------------------------------------------------------


def pytest_configure(config):
    """Mark this run's processes: every child inherits the marker (tests/processes.py)."""
    from tests import processes

    os.environ[processes.MARKER] = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"


def pytest_sessionfinish(session, exitstatus):
    """Fail the run when a process it started (a server, its workers, a helper) is still
    alive: every test stops what it starts, pass or fail. The survivors are killed."""
    import gc
    import sys

    from tests import processes

    marker = os.environ.get(processes.MARKER)
    if not marker:
        return
    history = sys.modules.get("server.services.history")
    if history is not None:
        history.close_all()  # the in-process histories' git helpers (atexit would, later)
    gc.collect()
    found = processes.wait_for_leftovers(marker, exclude=set())
    if not found:
        return
    processes.kill(found)
    lines = "\n".join(f"  pid {p.pid}: {p.cmdline[:200]}" for p in found)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = (f"{len(found)} process(es) started by this test run were still alive at its "
               f"end (killed now):\n{lines}")
    if reporter is not None:
        reporter.write_line(message, red=True, bold=True)
    else:
        print(message, file=sys.stderr)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def child_processes():
    """A list to append each started subprocess.Popen to: stopped at the test's end, pass or
    fail, with its process group when it leads one (tests/processes.py)."""
    from tests import processes

    started: list[subprocess.Popen] = []
    yield started
    for proc in reversed(started):
        processes.stop_process(proc, term_timeout=60)


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory) -> Path:
    """One SQLite file migrated to head; tests get copies (migrating per test is slow)."""
    from server.db import upgrade

    path = tmp_path_factory.mktemp("db") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


# Tests where the database matters run on SQLite and on PostgreSQL: the `db_url` of the
# modules below (and of tests marked `both_databases`) is parametrised over
# KPIBOOK_TEST_DATABASES (default "sqlite,postgresql"; scripts/test and CI use the default).
BOTH_DATABASES = (
    "tests/server/test_buttons.py",
    "tests/web/test_workflow.py",
    "tests/sync/test_pull_e2e.py",
    "tests/sync/test_scorecard_sources.py",
    "tests/history_server/",
    "tests/server/test_records_of_record.py",
    "tests/server/test_answer_fits.py",
)


def selected_databases() -> list[str]:
    raw = os.environ.get("KPIBOOK_TEST_DATABASES", "sqlite,postgresql")
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    unknown = set(names) - {"sqlite", "postgresql"}
    if unknown or not names:
        raise pytest.UsageError(f"KPIBOOK_TEST_DATABASES: unknown {sorted(unknown)}")
    return names




def pytest_generate_tests(metafunc):
    if "db_backend" not in metafunc.fixturenames:
        return
    path = Path(str(metafunc.definition.fspath)).resolve().relative_to(ROOT).as_posix()
    if metafunc.definition.get_closest_marker("both_databases") or \
            path.startswith(BOTH_DATABASES):
        metafunc.parametrize("db_backend", selected_databases(), indirect=True)


@pytest.fixture
def db_backend(request) -> str:
    return getattr(request, "param", "sqlite")


@pytest.fixture
def db_url(request, tmp_path, db_backend) -> str:
    if db_backend == "postgresql":
        return request.getfixturevalue("pg_migrated_url")
    path = tmp_path / "kpibook.sqlite3"
    shutil.copy(request.getfixturevalue("_migrated_sqlite"), path)
    return f"sqlite:///{path}"


@pytest.fixture
def app_config(tmp_path, db_url) -> dict:
    return {
        "TESTING": True,
        "DATABASE_URL": db_url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "HISTORY_DIR": str(tmp_path / "history"),
        "BASE_URL": "https://kpi.example.com:8443",
        "SECRET_KEY": "test",
        "FACT_SOURCE": "simulator",
        "LANG": "zh",
        # The test client speaks plain HTTP; tests/web/test_security.py checks the refusal.
        "ALLOW_INSECURE_HTTP": True,
        "LOGIN_FAILURE_DELAY": 0.01,
    }


@pytest.fixture
def app(app_config):
    from server import create_app

    app = create_app(app_config)
    yield app
    from server.db import get_engine

    get_engine(app).dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_token(app):
    """make_token(name, role, authority=None) -> a bearer token for a new user."""
    from server.auth import create_token, create_user
    from server.db import session_scope

    def make(name: str = "hr", role: str = "hr_admin", authority: dict | None = None,
             display_name: str = "") -> str:
        with session_scope(app) as session:
            user = create_user(session, name, role, display_name or name, authority)
            return create_token(session, user, "test")

    return make


@pytest.fixture
def web_login(app):
    """web_login(client, name, role="hr_admin", **user) -> the User, signed in on `client`
    (a server-side web session and its cookie, as the sign-in page would create)."""
    from server.auth import SESSION_KEY, create_user, hash_token
    from server.db import session_scope
    from server.models import User, WebSession

    def login(client, name: str, role: str = "hr_admin", **fields):
        import datetime as dt
        import secrets

        from sqlalchemy import select

        sid = secrets.token_urlsafe(16)
        with session_scope(app) as s:
            user = s.scalar(select(User).where(User.name == name)) or create_user(
                s, name, role, fields.pop("display_name", name), fields.pop("authority", None),
                **fields)
            now = dt.datetime.now(dt.UTC)
            s.add(WebSession(sid_hash=hash_token(sid), user_id=user.id, created_at=now,
                             last_seen_at=now, expires_at=now + dt.timedelta(hours=1)))
            s.flush()
            s.expunge(user)
        with client.session_transaction() as sess:
            sess[SESSION_KEY] = sid
        return user

    return login


@pytest.fixture
def hr_token(make_token) -> str:
    return make_token("hr", "hr_admin", display_name="人力资源部 李娜")


# --- PostgreSQL ------------------------------------------------------------------------------


def _pg_missing_reason() -> str | None:
    if shutil.which("pg_lsclusters") is None and not list(Path("/usr/lib/postgresql").glob(
            "*/bin/postgres")):
        return "PostgreSQL server binaries are not installed (apt-get install postgresql)"
    return None


def _psql(sql: str) -> str:
    return subprocess.run(
        ["su", "postgres", "-c", f"psql -X -v ON_ERROR_STOP=1 -At -c {_shq(sql)}"],
        check=True, capture_output=True, text=True, timeout=60).stdout


def _shq(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _cluster_port() -> int:
    """Start Debian's cluster when it is down; its port. Never initdb: the packaged cluster
    exists and the server refuses to run as root anyway."""
    out = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True,
                         check=True).stdout
    lines = [ln.split() for ln in out.splitlines() if ln.strip()]
    if not lines:
        raise RuntimeError("no PostgreSQL cluster (pg_lsclusters is empty)")
    if not any(parts[3] == "online" for parts in lines):
        from tests.processes import environ_without_marker

        # a system service that outlives the run on purpose: not one of the run's processes
        subprocess.run(["service", "postgresql", "start"], check=True, capture_output=True,
                       timeout=120, env=environ_without_marker())
        out = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True,
                             check=True).stdout
        lines = [ln.split() for ln in out.splitlines() if ln.strip()]
    online = [parts for parts in lines if parts[3] == "online"]
    if not online:
        raise RuntimeError(f"PostgreSQL did not start: {out}")
    return int(online[0][2])


@pytest.fixture(scope="session")
def postgres_server():
    """(port, role, password) of a PostgreSQL role the tests may create databases with."""
    reason = _pg_missing_reason()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    port = _cluster_port()
    role, password = "kpibook_test", "kpibook_test_pw"
    exists = _psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'").strip()
    verb = "ALTER" if exists else "CREATE"
    _psql(f"{verb} ROLE {role} LOGIN CREATEDB PASSWORD '{password}'")
    return port, role, password


@pytest.fixture
def pg_url(postgres_server):
    """A fresh, empty PostgreSQL database (dropped afterwards), as a psycopg URL."""
    port, role, password = postgres_server
    name = "kpibook_t_" + uuid.uuid4().hex[:10]
    assert re.fullmatch(r"[a-z0-9_]+", name)
    _psql(f"CREATE DATABASE {name} OWNER {role} ENCODING 'UTF8' TEMPLATE template0")
    yield f"postgresql+psycopg://{role}:{password}@127.0.0.1:{port}/{name}"
    _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def _pg_template(postgres_server):
    """A PostgreSQL database migrated to head once; tests get copies (CREATE DATABASE ...
    TEMPLATE), much faster than migrating each."""
    from server.db import upgrade

    port, role, password = postgres_server
    name = "kpibook_tpl_" + uuid.uuid4().hex[:10]
    _psql(f"CREATE DATABASE {name} OWNER {role} ENCODING 'UTF8' TEMPLATE template0")
    upgrade(f"postgresql+psycopg://{role}:{password}@127.0.0.1:{port}/{name}")
    yield name
    _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg_migrated_url(postgres_server, _pg_template):
    """A fresh PostgreSQL database already at the latest migration (dropped afterwards)."""
    port, role, password = postgres_server
    name = "kpibook_t_" + uuid.uuid4().hex[:10]
    _psql(f"CREATE DATABASE {name} OWNER {role} TEMPLATE {_pg_template}")
    yield f"postgresql+psycopg://{role}:{password}@127.0.0.1:{port}/{name}"
    _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
