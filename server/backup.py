"""`kpibook backup` / `kpibook restore`: the database and the git history, consistent.

A backup is a folder:

    manifest.json     head commit, migration revision, row counts, sha256 of every file
    database.dump     PostgreSQL: `pg_dump --format=custom`
    database.sqlite3  SQLite: the online backup API (a consistent copy of a live file)
    history.bundle    `git bundle create --all` of KPIBOOK_HISTORY_DIR (absent: no history)

The history lock is held while the database is dumped and the bundle written, so no history
commit lands in between (docs/deploy.md, "Backup, restore, verify"). A submission whose git
commit is in the bundle but whose database rows were not yet committed is written by start-up
recovery after a restore, as after a crash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from flask import Flask
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Engine, make_url

MANIFEST = "manifest.json"
PG_DUMP = "database.dump"
SQLITE_COPY = "database.sqlite3"
BUNDLE = "history.bundle"
FORMAT = 1
TIMEOUT = 3600  # seconds for pg_dump / pg_restore / git on a large installation

# The same repository settings History._init writes (a restored repository behaves alike).
_GIT_SETTINGS = {"core.logAllRefUpdates": "always",
                 "core.fsync": "reference,pack,pack-metadata,commit-graph",
                 "gc.auto": "6700"}


class BackupError(RuntimeError):
    """A backup, restore or check that cannot proceed; the message says why."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _sqlite_copy(source: str | Path, target: str | Path) -> None:
    """SQLite's online backup API: a consistent copy even while the server writes (it waits
    up to 60 s for a writer's lock)."""
    src = sqlite3.connect(source, timeout=60)
    dst = sqlite3.connect(target, timeout=60)
    try:
        with dst:
            src.backup(dst)
    finally:
        dst.close()
        src.close()


def _libpq(url: str) -> tuple[list[str], dict[str, str]]:
    """pg_dump/pg_restore connection arguments and environment (password not on argv)."""
    u = make_url(url)
    args = ["--host", u.host or "127.0.0.1", "--port", str(u.port or 5432),
            "--username", u.username or "postgres", "--dbname", u.database or ""]
    env = {**os.environ}
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    return args, env


def _run(argv: list[str], env: dict[str, str] | None = None, what: str = "") -> None:
    try:
        proc = subprocess.run(argv, capture_output=True, env=env, timeout=TIMEOUT)
    except FileNotFoundError:
        raise BackupError(f"{argv[0]} is not installed (needed for {what})") from None
    if proc.returncode != 0:
        raise BackupError(f"{what or argv[0]} failed: "
                          f"{proc.stderr.decode('utf-8', 'replace').strip()[-2000:]}")


def table_counts(engine: Engine) -> dict[str, int]:
    from server.models import Base

    names = set(inspect(engine).get_table_names())
    counts = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in names:
                counts[table.name] = conn.execute(select(func.count()).select_from(table)
                                                  ).scalar_one()
    return counts


def _history_path(app: Flask) -> Path:
    return Path(os.path.realpath(str(app.config["HISTORY_DIR"])))


def backup(app: Flask, out_dir: str | os.PathLike[str]) -> dict:
    """Write a backup of `app`'s database and history into the empty folder `out_dir`."""
    from server import db as database
    from server.services.history import history_for

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} is not empty: give a new folder for the backup")
    out.mkdir(parents=True, exist_ok=True)
    engine = database.get_engine(app)
    url = app.config["DATABASE_URL"]
    backend = make_url(url).get_backend_name()
    repo = _history_path(app)
    has_history = (repo / "HEAD").exists()
    history = history_for(app) if has_history else None
    files: list[str] = []

    def dump() -> tuple[str | None, str | None, dict[str, int]]:
        head = history.head() if history is not None else None
        revision = database.current_revision(engine)
        counts = table_counts(engine)
        if backend == "postgresql":
            args, env = _libpq(url)
            _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
                  "--file", str(out / PG_DUMP), *args], env, "pg_dump")
            files.append(PG_DUMP)
        elif backend == "sqlite":
            source = make_url(url).database
            if not source:
                raise BackupError("an in-memory SQLite database cannot be backed up")
            _sqlite_copy(source, out / SQLITE_COPY)
            files.append(SQLITE_COPY)
        else:
            raise BackupError(f"backup of {backend} databases is not supported")
        if head is not None:
            _run(["git", f"--git-dir={repo}", "bundle", "create", "--quiet",
                  str(out / BUNDLE), "--all"], None, "git bundle create")
            files.append(BUNDLE)
        return head, revision, counts

    if history is not None:
        with history.lock.hold():  # no history commit lands while we copy
            head, revision, counts = dump()
    else:
        head, revision, counts = dump()
    manifest = {
        "format": FORMAT,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "database": backend,
        "migration_revision": revision,
        "history_head": head,
        "history_branch": history.branch if history is not None else "main",
        "counts": counts,
        "files": {name: {"sha256": _sha256(out / name), "bytes": (out / name).stat().st_size}
                  for name in files},
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n",
                                encoding="utf-8")
    return manifest


def read_manifest(backup_dir: str | os.PathLike[str]) -> dict:
    """The manifest of a backup folder, after checking every file's sha256."""
    folder = Path(backup_dir)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{folder} has no {MANIFEST}: not a kpibook backup") from None
    except ValueError as exc:
        raise BackupError(f"{folder / MANIFEST} is not valid JSON: {exc}") from None
    for name, meta in manifest.get("files", {}).items():
        path = folder / name
        if not path.is_file():
            raise BackupError(f"backup file {name} is missing")
        if _sha256(path) != meta["sha256"]:
            raise BackupError(f"backup file {name} does not match its sha256 in {MANIFEST} "
                              f"(damaged or changed)")
    return manifest


def database_is_empty(engine: Engine) -> bool:
    """No tables, or only tables without rows (e.g. right after `kpibook db upgrade`)."""
    names = [n for n in inspect(engine).get_table_names() if n != "alembic_version"]
    if not names:
        return True
    return not any(table_counts(engine).values())


def restore(app: Flask, backup_dir: str | os.PathLike[str], force: bool = False) -> dict:
    """Restore a backup into `app`'s database and history folder (both must be empty unless
    `force`). The server must be stopped."""
    from server import db as database

    folder = Path(backup_dir)
    manifest = read_manifest(folder)
    url = app.config["DATABASE_URL"]
    backend = make_url(url).get_backend_name()
    if backend != manifest["database"]:
        raise BackupError(f"the backup holds a {manifest['database']} database; "
                          f"KPIBOOK_DATABASE_URL is {backend}")
    engine = database.get_engine(app)
    repo = _history_path(app)
    problems = []
    if not database_is_empty(engine):
        problems.append("the database is not empty")
    if repo.exists() and any(p.name != "kpibook-history.lock" for p in repo.iterdir()):
        problems.append(f"the history folder {repo} is not empty")
    if problems and not force:
        raise BackupError("; ".join(problems) + ": refusing to overwrite (--force replaces "
                          "them with the backup)")
    engine.dispose()
    if backend == "postgresql":
        with engine.begin() as conn:  # the dump recreates every table
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        args, env = _libpq(url)
        _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
              *args, str(folder / PG_DUMP)], env, "pg_restore")
    else:
        target = make_url(url).database
        if not target:
            raise BackupError("cannot restore into an in-memory SQLite database")
        _sqlite_copy(folder / SQLITE_COPY, target)
    if repo.exists():
        shutil.rmtree(repo)
    head = manifest.get("history_head")
    if head:
        repo.mkdir(parents=True)
        branch = manifest.get("history_branch", "main")
        _run(["git", "init", "--quiet", "--bare", f"--initial-branch={branch}", str(repo)],
             None, "git init")
        for key, value in _GIT_SETTINGS.items():
            _run(["git", f"--git-dir={repo}", "config", key, value], None, "git config")
        _run(["git", f"--git-dir={repo}", "fetch", "--quiet", str(folder / BUNDLE),
              "refs/*:refs/*"], None, "git fetch from the bundle")
        got = subprocess.run(["git", f"--git-dir={repo}", "rev-parse", f"refs/heads/{branch}"],
                             capture_output=True, text=True, timeout=60).stdout.strip()
        if got != head:
            raise BackupError(f"restored history head {got or '(none)'} is not the manifest's "
                              f"{head}")
    revision = database.current_revision(engine)
    if revision != manifest.get("migration_revision"):
        raise BackupError(f"restored database at revision {revision}, the manifest says "
                          f"{manifest.get('migration_revision')}")
    counts = table_counts(engine)
    if counts != manifest.get("counts"):
        raise BackupError(f"restored row counts {counts} differ from the manifest's "
                          f"{manifest.get('counts')}")
    engine.dispose()
    return manifest
