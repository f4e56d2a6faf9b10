"""The server's door to the git-backed history (server.ledger): one `History` per process.

`history_for(app)` opens (lazily, once per repository path and process) the bare repository
configured as KPIBOOK_HISTORY_DIR, with a `FileLock` (one host) or, when the database is
PostgreSQL, a `PgAdvisoryLock` on the database every host already shares. Instances are closed
at interpreter exit (and when their app is garbage collected in tests).

Read helpers for the review pages live here too (who a user is in git, departments of the
people in a period, the submission id of a request); the write path (Submit, Score, workflow
events, web adjustments, reverts) is in server/services/history_record.py, submit.py and
adjust.py (docs/history.md).
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import threading
import uuid
import weakref
from collections.abc import Iterable
from decimal import Decimal

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.ledger import Editor, FileLock, History, ScoreLine, ScoreSnapshot, TotalLine
from server.services import stored_run

log = logging.getLogger("kpibook.history")

_LOCK = threading.Lock()
_OPEN: dict[str, History] = {}  # realpath of the repository -> its History
_EXT = "kpibook.history"
LOCK_TIMEOUT = 120.0  # seconds a writer waits for another writer before giving up

# A Submission-Id is one line of ASCII (it is a git trailer and a DB key).
_SUBMISSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,79}$")


def history_for(app: Flask | None = None) -> History:
    """The History of `app`'s KPIBOOK_HISTORY_DIR (created on first use, shared by threads)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    cached = app.extensions.get(_EXT)
    if cached is not None:
        return cached
    path = os.path.realpath(str(app.config["HISTORY_DIR"]))
    with _LOCK:
        history = _OPEN.get(path)
        if history is None:
            history = History(path, lock=_lock_for(app, path),
                              durable=bool(app.config.get("HISTORY_DURABLE", True)),
                              fault_hook=_fault_hook())
            _OPEN[path] = history
            # Tests create many apps in one process: close the repository with its app.
            weakref.finalize(app, _close, path)
        app.extensions[_EXT] = history
    return history


def warm_in_background(app: Flask) -> threading.Thread | None:
    """A new server worker reads the history's index in a daemon thread (~1 s at 20,000
    commits) instead of the first review page doing it. Nothing when there is no history."""
    if not os.path.exists(os.path.join(str(app.config["HISTORY_DIR"]), "HEAD")):
        return None

    def warm() -> None:
        try:
            history_for(app).warm()
        except Exception:  # noqa: BLE001 - a page will simply build it later
            log.exception("warming the history index failed")

    thread = threading.Thread(target=warm, name="kpibook-history-warm", daemon=True)
    thread.start()
    return thread


def _lock_for(app: Flask, path: str):
    from server.db import get_engine

    engine = get_engine(app)
    if engine.dialect.name == "postgresql":
        try:
            from server.ledger.pglock import PgAdvisoryLock
        except ImportError:  # pragma: no cover - older library
            pass
        else:
            return PgAdvisoryLock(engine, "kpibook-history:" + path, timeout=LOCK_TIMEOUT)
    os.makedirs(path, exist_ok=True)
    return FileLock(os.path.join(path, "kpibook-history.lock"), timeout=LOCK_TIMEOUT)


def _fault_hook():
    """KPIBOOK_FAULT=<point> kills the process at a library write point (crash tests only)."""
    point = os.environ.get("KPIBOOK_FAULT", "")
    if not point or point == "after_git_commit":  # that one is the service's (scoring.py)
        return None

    def hook(where: str) -> None:
        if where == point:
            crash(where)

    return hook


def crash(where: str) -> None:
    """SIGKILL ourselves (what a power cut or OOM kill looks like to the other side)."""
    import signal

    log.error("KPIBOOK_FAULT: killing the process at %s", where)
    logging.shutdown()
    os.kill(os.getpid(), signal.SIGKILL)


def fault(point: str) -> None:
    if os.environ.get("KPIBOOK_FAULT") == point:
        crash(point)


def _close(path: str) -> None:
    with _LOCK:
        history = _OPEN.pop(path, None)
    if history is not None:
        try:
            history.close()
        except Exception:  # noqa: BLE001 - closing at exit must not raise
            log.exception("closing history %s", path)


@atexit.register
def close_all() -> None:
    for path in list(_OPEN):
        _close(path)


# --- read helpers ----------------------------------------------------------------------------


def editor_of(user) -> Editor:
    """The git author/committer for a user: display name and e-mail (a stable placeholder
    address on our own reserved domain when the account has none)."""
    name = (getattr(user, "display_name", "") or user.name).strip() or user.name
    email = (getattr(user, "email", "") or "").strip() or f"{user.name}{_PLACEHOLDER}"
    # git refuses '<' '>' and newlines in identities
    name = re.sub(r"[<>\r\n\t]", " ", name).strip() or "kpibook"
    email = re.sub(r"[<>\s]", "", email) or "kpibook@users.kpibook.invalid"
    return Editor(name, email)


SYSTEM = Editor("kpibook", "system@users.kpibook.invalid")
_PLACEHOLDER = "@users.kpibook.invalid"


def user_of(db: Session, editor: Editor):
    """The account a git author stands for (by the placeholder address, then the e-mail)."""
    from server.models import User

    if editor.email.endswith(_PLACEHOLDER):
        return db.scalar(select(User).where(User.name == editor.email[:-len(_PLACEHOLDER)]))
    return db.scalar(select(User).where(User.email == editor.email).limit(1))


def new_submission_id(prefix: str = "sub") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def valid_submission_id(text: str | None) -> str | None:
    text = (text or "").strip()
    return text if _SUBMISSION_ID.match(text) else None


def departments(db: Session, employee_ids: Iterable[str] | None = None) -> dict[str, str]:
    """employee_id -> department (the roster in force), for page filters and the policy."""
    from server.services.roster import departments_of

    return departments_of(db, employee_ids)


def employees_of_department(db: Session, department: str) -> list[str]:
    """Employee ids of one department (History.timeline(department=...) takes these)."""
    from server.models import Employee

    return list(db.scalars(select(Employee.employee_id).where(Employee.department == department)
                           .order_by(Employee.employee_id)))


# --- score runs as the history holds them ------------------------------------------------------


def _dec(value: object) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def run_snapshot(run, employees: Iterable[str] | None = None) -> ScoreSnapshot:
    """A stored ScoreRun's score lines and totals as the history's files hold them: every
    line, like `scoring.score_snapshot` (its filter compares the status with
    "not_applicable", a value LineStatus does not have, so it keeps every line). With
    `employees`, only their lines (what an adjustment commit rewrites); totals are all."""
    wanted = None if employees is None else set(employees)
    c = stored_run.line_columns(run.lines)
    lines = {(eid, code): ScoreLine(_dec(base), _dec(adjustment) or Decimal(0), _dec(points))
             for eid, code, base, adjustment, points in zip(
                 c["employee_id"], c["indicator"], c["base_points"], c["adjustment"],
                 c["points"], strict=True)
             if wanted is None or eid in wanted}
    totals = {t["employee_id"]: TotalLine(_dec(t.get("total")), t.get("grade"), t.get("rank"),
                                          t.get("group_rank"))
              for t in stored_run.totals(run)}
    return ScoreSnapshot(lines, totals)
