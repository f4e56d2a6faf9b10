"""Organisation sync: the roster of record follows DingTalk / Feishu / WeCom, through HR.

A sync (web button, `kpibook org sync`, or the schedule in the connectors file) reads the
platform's departments, people and reporting lines (sync/org/) and proposes a roster change
against the Employee table: added, moved (department / position / manager), updated (name,
e-mail), left, rejoined, and flagged — someone seen on the platform before who vanished
from its lists without the platform confirming a leave (usually the app's permission scope),
which HR must look into and which nothing deactivates. Roster people never seen on the
platform are listed apart (notes.not_on_platform), not flagged on every sync; with
`add_new = false` on the [[org]] table, platform people not on the roster are left out.

Nothing changes until HR applies the proposal with a reason: `apply_roster_change` is the one
function that writes Employee rows for it and records who applied it, when, why and from
which date (the old values stay in the change record).

Runs are leased like pulls (server/services/pull.py's PullTracker, key "org:<name>"): one
run of a source at a time across workers, and each scheduled slot runs once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.models import Employee, OrgIdentity, RosterChange
from server.scoring.messages import both
from server.services.errors import Conflict, NotFound, Unprocessable
from server.services.pull import PullStatus, PullTracker, _engine_of, _iso, config_path
from sync.errors import SyncError
from sync.org import OrgContext, OrgSnapshot, fetch_org
from sync.org.config import OrgSourceConfig, load_org_config

log = logging.getLogger("kpibook.orgsync")

KINDS = ("added", "moved", "updated", "rejoined", "left", "flagged")
WRITES = frozenset({"added", "moved", "updated", "rejoined", "left"})  # flagged: never written
FIELDS = ("name", "department", "position", "manager", "email")
MOVE_FIELDS = frozenset({"department", "position", "manager"})
SCHEDULER_SECONDS = 60.0
COMPANY_TZ = ZoneInfo("Asia/Shanghai")  # default effective date: today, where HR works


# --- configuration --------------------------------------------------------------------------


def org_sources(app_config: Mapping[str, Any]) -> tuple[OrgSourceConfig, ...]:
    """The `[[org]]` tables of the connectors file (KPIBOOK_SYNC_CONFIG); () without one."""
    path = config_path(app_config)
    return load_org_config(path) if path else ()


def find_source(app_config: Mapping[str, Any], name: str = "", platform: str = ""
                ) -> OrgSourceConfig:
    """The org source called `name`, or the only one of `platform`."""
    try:
        sources = org_sources(app_config)
    except SyncError as exc:
        raise Unprocessable(str(exc)) from None
    found = [s for s in sources if (not name or s.name == name)
             and (not platform or s.platform == platform)]
    if len(found) != 1:
        known = ", ".join(f"{s.name} ({s.platform})" for s in sources) or "none"
        raise Unprocessable(both("orgsync.no_single_source", known=known))
    return found[0]


# --- the sync -----------------------------------------------------------------------------------


def lease_key(source: OrgSourceConfig) -> str:
    return f"org:{source.name}"


def run_org_sync(session: Session, source: OrgSourceConfig, by: str,
                 now: dt.datetime | None = None,
                 slot: dt.datetime | None = None) -> RosterChange | None:
    """Read the platform and store the proposal (not committed); None when the roster already
    matches. Conflict while another run of the source holds the lease (in any worker), or —
    with `slot` (the scheduler) — when a run started at or after that slot already."""
    now = now or dt.datetime.now(dt.UTC)
    status = PullStatus(lease_key(source), started_at=_iso(now), by=by)
    tracker = PullTracker(_engine_of(session), status)
    tracker.start(unless_started_since=slot, started_at=now)
    try:
        links = _links(session, source)
        active = set(session.scalars(select(Employee.employee_id).where(Employee.active)))
        expected = {uid for uid, eid in links.items() if eid in active}
        snapshot = fetch_org(source, OrgContext(expected=expected, now=now))
        change = propose_roster_change(session, source, snapshot, by, now)
    except SyncError as exc:
        status.summary = {"error": str(exc)}
        tracker.finish("failed", dt.datetime.now(dt.UTC))
        raise Unprocessable(both("orgsync.failed", why=exc)) from None
    except BaseException:
        tracker.finish("failed", dt.datetime.now(dt.UTC))
        raise
    status.summary = {"people": len(snapshot.people), "calls": snapshot.calls,
                      "change": change.id if change is not None else None}
    tracker.finish("done", dt.datetime.now(dt.UTC))
    return change


def _links(session: Session, source: OrgSourceConfig) -> dict[str, str]:
    return {r.user_id: r.employee_id for r in session.scalars(
        select(OrgIdentity).where(OrgIdentity.source == source.name))}


def propose_roster_change(session: Session, source: OrgSourceConfig, snapshot: OrgSnapshot,
                          by: str, now: dt.datetime | None = None) -> RosterChange | None:
    """The roster change `snapshot` implies, stored as a proposal (older open proposals of the
    source are superseded; the same proposal again is kept, not repeated)."""
    now = now or dt.datetime.now(dt.UTC)
    employees = {e.employee_id: e for e in session.scalars(select(Employee))}
    links = _links(session, source)
    mapped: dict[str, str] = {}  # platform user id -> employee id
    unmatched: list[str] = []
    seen: dict[str, str] = {}
    for uid, p in sorted(snapshot.people.items()):
        eid = source.employee_id(p.employee_no)
        if not eid:
            unmatched.append(f"{p.name} ({uid}): no {source.employee_key}")
        elif eid in seen:
            unmatched.append(f"{p.name} ({uid}): {source.employee_key} {eid} is also "
                             f"{snapshot.people[seen[eid]].name} ({seen[eid]})")
        else:
            seen[eid] = uid
            mapped[uid] = eid
    changes: list[dict[str, Any]] = []
    add_new = bool(source.options.get("add_new", True))
    not_on_roster = 0
    for uid, eid in sorted(mapped.items(), key=lambda kv: kv[1]):
        p = snapshot.people[uid]
        boss = snapshot.people.get(p.manager_user_id)
        after = {"name": p.name, "department": snapshot.department_name(p.department_id),
                 "position": p.position, "manager": boss.name if boss else "",
                 "email": p.email}
        entry = {"employee_id": eid, "user_id": uid, "name": p.name,
                 "manager_id": mapped.get(p.manager_user_id, "")}
        emp = employees.get(eid)
        if emp is None and not add_new:
            not_on_roster += 1  # add_new = false: the roster decides who is on it
            continue
        if emp is None:
            changes.append({**entry, "kind": "added", "before": {}, "after": after,
                            "fields": list(FIELDS)})
            continue
        before = _values(emp)
        if not after["email"]:
            after["email"] = before["email"]  # platforms often withhold e-mail: keep ours
        fields = [f for f in FIELDS if before[f] != after[f]]
        if not emp.active:
            changes.append({**entry, "kind": "rejoined", "before": {**before, "active": False},
                            "after": {**after, "active": True}, "fields": fields + ["active"]})
        elif fields:
            kind = "moved" if MOVE_FIELDS & set(fields) else "updated"
            changes.append({**entry, "kind": kind, "before": {f: before[f] for f in fields},
                            "after": {f: after[f] for f in fields}, "fields": fields})
    by_employee = {eid: uid for uid, eid in links.items()}
    not_on_platform: list[str] = []
    for eid, emp in sorted(employees.items()):
        if not emp.active or eid in seen:
            continue
        uid = by_employee.get(eid, "")
        if not uid:
            # never seen on this platform: not "vanished", so not a flag on every sync
            not_on_platform.append(f"{eid} {emp.name}")
            continue
        entry = {"employee_id": eid, "user_id": uid, "name": emp.name, "manager_id": ""}
        gone = snapshot.departed.get(uid) if uid else None
        if gone is not None:
            changes.append({**entry, "kind": "left", "before": {"active": True},
                            "after": {"active": False}, "fields": ["active"],
                            "left_on": gone.left_on.isoformat() if gone.left_on else "",
                            "evidence": gone.evidence})
            continue
        why = snapshot.unconfirmed.get(uid) or f"not in the lists of {source.name}"
        changes.append({**entry, "kind": "flagged", "before": {}, "after": {}, "fields": [],
                        "evidence": why})
    _remember(session, source, mapped, now)
    digest = hashlib.sha256(json.dumps(changes, sort_keys=True, ensure_ascii=False)
                            .encode()).hexdigest()
    open_rows = session.scalars(select(RosterChange).where(
        RosterChange.source == source.name, RosterChange.state == "proposed")
        .order_by(RosterChange.id)).all()
    if open_rows and open_rows[-1].digest == digest:
        return open_rows[-1]  # nothing new since the last proposal
    for row in open_rows:
        row.state, row.decided_at, row.decided_by = "superseded", now, by
        row.reason = "a newer sync replaced this proposal"
    if not changes:
        session.flush()
        return None
    notes = {"scope_gaps": snapshot.scope_gaps, "unmatched": unmatched,
             "not_on_platform": not_on_platform, "not_on_roster": not_on_roster,
             "people": len(snapshot.people), "departments": len(snapshot.departments),
             "counts": {k: sum(c["kind"] == k for c in changes) for k in KINDS}}
    row = RosterChange(source=source.name, platform=snapshot.platform, state="proposed",
                       created_at=now, created_by=by, request=snapshot.request[:2000],
                       digest=digest, changes=changes, notes=notes)
    session.add(row)
    session.flush()
    return row


def _values(emp: Employee) -> dict[str, Any]:
    return {f: getattr(emp, f) or "" for f in FIELDS}


def _remember(session: Session, source: OrgSourceConfig, mapped: dict[str, str],
              now: dt.datetime) -> None:
    rows = {r.user_id: r for r in session.scalars(
        select(OrgIdentity).where(OrgIdentity.source == source.name))}
    for uid, eid in mapped.items():
        row = rows.get(uid)
        if row is None:
            session.add(OrgIdentity(source=source.name, user_id=uid, employee_id=eid,
                                    seen_at=now))
        else:
            row.employee_id, row.seen_at = eid, now


# --- HR's decision ----------------------------------------------------------------------------


def _open(session: Session, change_id: int) -> RosterChange:
    row = session.get(RosterChange, change_id)
    if row is None:
        raise NotFound(both("orgsync.no_change", id=change_id))
    if row.state != "proposed":
        raise Conflict(both("orgsync.decided", id=change_id, state=row.state))
    return row


def _claim(session: Session, row: RosterChange, state: str) -> None:
    """proposed -> state, atomically: two HR admins pressing at once cannot both win."""
    t = RosterChange.__table__
    done = session.execute(update(t).where(t.c.id == row.id, t.c.state == "proposed")
                           .values(state=state))
    if done.rowcount != 1:
        raise Conflict(both("orgsync.decided_just_now", id=row.id))
    session.refresh(row)


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise Unprocessable(both("orgsync.needs_reason"))
    return reason[:2000]


@dataclass(slots=True)
class Applied:
    change: RosterChange
    written: int  # Employee rows inserted or changed
    flagged: int  # entries left for HR (never written)


def apply_roster_change(session: Session, change_id: int, applied_by: str, reason: str,
                        effective_date: dt.date, applied_by_id: int | None = None,
                        now: dt.datetime | None = None) -> Applied:
    """Write a proposed roster change to the Employee table, all or nothing (not committed).

    added -> a new active Employee; moved/updated/rejoined -> the changed fields; left ->
    inactive (never deleted: past results keep their person); flagged -> nothing. Refused
    (Conflict) when the roster changed since the proposal: its `before` values would be
    wrong. The change record keeps the old values, who applied it, when, why and from which
    date (a leaver's own leave date where the platform gave one) — the one place the roster's
    history can hook in."""
    reason = _reason(reason)
    now = now or dt.datetime.now(dt.UTC)
    row = _open(session, change_id)
    entries = [dict(c) for c in row.changes]
    ids = [c["employee_id"] for c in entries if c["kind"] in WRITES]
    employees = {e.employee_id: e for e in session.scalars(
        select(Employee).where(Employee.employee_id.in_(ids)))} if ids else {}
    stale = [_stale(c, employees.get(c["employee_id"])) for c in entries
             if c["kind"] in WRITES]
    stale = [s for s in stale if s]
    if stale:
        raise Conflict("\n".join([both("orgsync.stale"), *stale[:50]]))
    _claim(session, row, "applied")
    written = 0
    for c in entries:
        if c["kind"] not in WRITES:
            continue
        c["effective"] = c.get("left_on") or effective_date.isoformat()
        emp = employees.get(c["employee_id"])
        if c["kind"] == "added":
            session.add(Employee(employee_id=c["employee_id"], active=True,
                                 **{f: c["after"][f] for f in FIELDS}))
        elif emp is not None:
            for f in c["fields"]:
                setattr(emp, f, c["after"][f])
        written += 1
    row.changes = entries
    row.decided_at, row.decided_by, row.decided_by_id = now, applied_by, applied_by_id
    row.reason, row.effective_date = reason, effective_date
    session.flush()
    log.info("roster change #%s (%s) applied by %s: %s rows", row.id, row.source, applied_by,
             written)
    return Applied(row, written, sum(c["kind"] == "flagged" for c in entries))


def _stale(c: dict[str, Any], emp: Employee | None) -> str:
    eid = c["employee_id"]
    if c["kind"] == "added":
        return f"{eid}: already on the roster" if emp is not None else ""
    if emp is None:
        return f"{eid}: no longer on the roster"
    now = {**_values(emp), "active": emp.active}
    diff = [f for f, v in c["before"].items() if now.get(f) != v]
    return f"{eid}: {', '.join(diff)} changed" if diff else ""


def discard_roster_change(session: Session, change_id: int, by: str, reason: str,
                          by_id: int | None = None) -> RosterChange:
    """HR decides not to apply a proposal (not committed)."""
    reason = _reason(reason)
    row = _open(session, change_id)
    _claim(session, row, "discarded")
    row.decided_at, row.decided_by, row.decided_by_id = dt.datetime.now(dt.UTC), by, by_id
    row.reason = reason
    session.flush()
    return row


# --- the page ---------------------------------------------------------------------------------


@dataclass(slots=True)
class RosterSyncView:
    sources: list[dict[str, Any]]
    proposed: list[RosterChange]
    decided: list[RosterChange]
    config_error: str = ""


def roster_sync_view(session: Session, app_config: Mapping[str, Any]) -> RosterSyncView:
    """What the admin page shows: the org sources with their last run, open proposals and
    the latest decisions."""
    from server.services.pull import pull_status

    error = ""
    try:
        sources = org_sources(app_config)
    except SyncError as exc:
        sources, error = (), str(exc)
    engine = _engine_of(session)
    listed = [{"name": s.name, "platform": s.platform,
               "schedule": s.schedule.text if s.schedule else "",
               "timezone": s.schedule.timezone if s.schedule else "",
               "last": pull_status(lease_key(s), engine)} for s in sources]
    proposed = list(session.scalars(select(RosterChange).where(
        RosterChange.state == "proposed").order_by(RosterChange.id.desc())))
    decided = list(session.scalars(select(RosterChange).where(
        RosterChange.state != "proposed").order_by(RosterChange.id.desc()).limit(20)))
    return RosterSyncView(listed, proposed, decided, error)


# --- the schedule -------------------------------------------------------------------------------


def run_due_org_syncs(app: Any, now: dt.datetime | None = None) -> list[str]:
    """One scheduler tick: every org source whose schedule has a slot no run started in
    since, run once (across every worker: the lease refuses the others). Returns the names
    run."""
    from server.db import session_scope

    now = now or dt.datetime.now(dt.UTC)
    try:
        sources = org_sources(app.config)
    except SyncError as exc:
        log.error("org sync schedule: %s", exc)
        return []
    ran = []
    for source in sources:
        if source.schedule is None:
            continue
        slot = source.schedule.last_slot(now)
        try:
            with session_scope(app) as session:
                run_org_sync(session, source, "schedule", now=now, slot=slot)
            ran.append(source.name)
        except Conflict:
            continue  # already ran for this slot, or running in another worker
        except Exception:  # noqa: BLE001 - one source failing must not stop the others
            log.exception("scheduled org sync of %s failed", source.name)
    return ran


def start_org_scheduler(app: Any, interval: float = SCHEDULER_SECONDS) -> threading.Event:
    """A daemon thread running `run_due_org_syncs` every `interval` seconds (gunicorn's
    workers and `kpibook demo` start it; the app factory never does). Set the returned event
    to stop it."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            try:
                run_due_org_syncs(app)
            except Exception:  # noqa: BLE001 - the thread must survive a bad tick
                log.exception("org sync scheduler tick failed")

    threading.Thread(target=loop, name="kpibook-org-scheduler", daemon=True).start()
    return stop


def sync_now(session: Session, app_config: Mapping[str, Any], source_name: str, by: str,
             platform: str = "") -> RosterChange | None:
    """A sync started by a person (web button, CLI): the source by name or platform."""
    return run_org_sync(session, find_source(app_config, source_name, platform), by)
