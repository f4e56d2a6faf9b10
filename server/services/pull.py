"""Pull data from the configured source systems into a period's source facts.

The glue between sync/ (Flask-free connectors, mapping, concurrent pull) and the database:
which sources apply to a period, who the known employees are, how outcomes become stored
facts (a failed or partial source keeps its last good values and marks them stale with the
reason), frozen periods, progress for the task pane, and the inbound push API.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.orm import Session

from server.models import Employee, Period, PullRun, PushedRecord, SourceFact
from server.periodcode import parse_period_code
from server.scoring.messages import both
from server.services.errors import Conflict, Unprocessable
from server.services.periods import ChooseScorecard, find_period, valid_code
from sync.config import PeriodWindow, SourceConfig, SyncConfig, load_config
from sync.mapping import MappedFact, map_records
from sync.pull import SourceOutcome, SourceProgress, pull_sources

# A period in one of these states has frozen facts: no pull or push may change them. The
# workflow issue owns the states; these names are its approved/published/closed.
FROZEN_STATES = frozenset({"approved", "published", "closed"})
MAX_PROBLEMS_KEPT = 500


def is_frozen(period: Period) -> bool:
    return period.state in FROZEN_STATES


def config_path(config: Mapping[str, Any]) -> str:
    """KPIBOOK_SYNC_CONFIG (or app config SYNC_CONFIG): the connectors file; '' = none."""
    return str(config.get("SYNC_CONFIG") or os.environ.get("KPIBOOK_SYNC_CONFIG") or "")


def uploads_dir(config: Mapping[str, Any]) -> str:
    """Files uploaded through the web page land in <this>/<source name>/."""
    given = config.get("SYNC_UPLOAD_DIR") or os.environ.get("KPIBOOK_SYNC_UPLOAD_DIR")
    return str(given or Path(str(config.get("INSTANCE_PATH") or "instance")) / "uploads")


def sync_config(config: Mapping[str, Any]) -> SyncConfig | None:
    """The connectors file, read on every use (cheap, and `${VAR}` values may change); None
    when none is configured."""
    path = config_path(config)
    return load_config(path) if path else None


def sources_for(config: SyncConfig, period: Period) -> list[SourceConfig]:
    """Sources whose `templates` option includes the period's template (no option: all)."""
    out = []
    for s in config.sources:
        templates = s.options.get("templates")
        if templates and period.template_code and period.template_code not in templates:
            continue
        out.append(s)
    return out


def indicators_in_force(session: Session, period: Period,
                        workbook_codes: set[str] | None = None) -> frozenset[str] | None:
    """The indicator codes a pull of `period` fetches: those of its rules of record
    (server/services/records.py). Before HR's first Score there is no record: the codes of
    the workbook's kb_rules when a button sends one (its first Score adopts them), else the
    rules of the period's last run (periods scored before the records), else those of its
    shipped template; None when none is known (every mapping)."""
    from server.services import records

    of_record = records.current(session, period)
    if of_record is not None:
        return frozenset(i.code for i in of_record[1].rules.indicators)
    if workbook_codes:
        return frozenset(workbook_codes)
    stored = {str(i["code"]) for i in (period.rules or {}).get("indicators") or ()
              if isinstance(i, dict) and i.get("code")}
    if stored:
        return frozenset(stored)
    from server.workbook.template_content import TEMPLATES

    template = TEMPLATES.get(period.template_code or "")
    if template is not None and template.rules:
        return frozenset(r.code for r in template.rules)
    return None


def asked_sources(sources: list[SourceConfig], codes: frozenset[str] | None
                  ) -> tuple[list[SourceConfig], dict[str, tuple[str, ...]]]:
    """Each source with only the mappings of indicators in `codes` (None: all), and the
    sources left with none -> the indicators they map: those are not asked at all. A
    connectors file may map an indicator ahead of the rules (HR adds it mid-month, docs/
    records.md "A changing month"); until the rule exists nobody fetches or stores it."""
    if codes is None:
        return list(sources), {}
    asked, idle = [], {}
    for source in sources:
        kept = tuple(m for m in source.indicators if m.indicator in codes)
        if not kept:
            idle[source.name] = tuple(dict.fromkeys(m.indicator for m in source.indicators))
        elif len(kept) == len(source.indicators):
            asked.append(source)
        else:
            asked.append(dataclasses.replace(source, indicators=kept))
    return asked, idle


# --- progress (polled by the task pane through GET /api/v1/periods/<code>/pull-status) ------


@dataclass(slots=True)
class PullStatus:
    period: str
    state: str = "running"  # running | done | failed
    started_at: str = ""
    finished_at: str = ""
    by: str = ""
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"period": self.period, "state": self.state, "started_at": self.started_at,
                "finished_at": self.finished_at, "by": self.by,
                "sources": list(self.sources.values()), "problems": self.problems,
                "summary": self.summary}


_STATUS: dict[str, PullStatus] = {}  # SQLite (one process): the runs of this process
_STATUS_LOCK = threading.Lock()
log = logging.getLogger("kpibook.pull")

# A running pull refreshes its row's heartbeat every HEARTBEAT_SECONDS; a row whose heartbeat
# is older than LEASE_SECONDS belongs to a worker that died and a new pull takes it over.
LEASE_SECONDS = 90.0
HEARTBEAT_SECONDS = 10.0


def _shared(engine: Engine) -> bool:
    """PostgreSQL (and any server database) keeps pull runs in `pull_runs`, visible to every
    worker and host. SQLite serves one process: a button holds SQLite's only write lock for
    the whole pull, so progress from a second connection would wait for it; the runs stay in
    this process's memory."""
    return engine.dialect.name != "sqlite"


def pull_status(period_code: str, engine: Engine | None = None) -> dict[str, Any] | None:
    """The running or last pull of the period as the task pane reads it; None: never."""
    if engine is None:
        from server.db import get_engine

        engine = get_engine()
    if not _shared(engine):
        with _STATUS_LOCK:
            status = _STATUS.get(period_code)
            return None if status is None else json.loads(json.dumps(status.as_dict()))
    t = PullRun.__table__
    with engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.period_code == period_code)).first()
    if row is None:
        return None
    body = dict(row.status or {})
    state = row.state
    if state == "running" and _expired(row.heartbeat_at):
        state = "failed"  # its worker died; the next pull takes the lease over
        body.setdefault("summary", {})["error"] = "the worker running this pull stopped"
    return {"period": row.period_code, "state": state, "started_at": _iso(row.started_at),
            "finished_at": _iso(row.finished_at) if row.finished_at else "",
            "by": row.started_by, "sources": body.get("sources", []),
            "problems": body.get("problems", []), "summary": body.get("summary", {})}


def _expired(heartbeat: dt.datetime | None, now: dt.datetime | None = None) -> bool:
    if heartbeat is None:
        return True
    if heartbeat.tzinfo is None:
        heartbeat = heartbeat.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return (now - heartbeat).total_seconds() > LEASE_SECONDS


def _already_running(code: str, by: str, since: str) -> Conflict:
    # two HR colleagues pressing Pull at once would race on the same rows
    return Conflict(both("pull.already_running", code=code, by=by, since=since))


def _already_ran(key: str, since: str) -> Conflict:
    return Conflict(f"{key} already ran at {since}")


def _aware(when: dt.datetime) -> dt.datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


class PullTracker:
    """The lease and progress of one pull: `start` (409 while another live pull of the period
    runs, in any worker), `progress`, `finish`. On PostgreSQL every write is its own committed
    transaction on its own connection, never the request's session (whose transaction stays
    open until the button answers), and a thread keeps the lease's heartbeat fresh."""

    def __init__(self, engine: Engine, status: PullStatus) -> None:
        self.engine = engine
        self.status = status
        self.owner = secrets.token_hex(16)
        self.shared = _shared(engine)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    # -- lease
    def start(self, unless_started_since: dt.datetime | None = None,
              started_at: dt.datetime | None = None) -> None:
        """Take the lease. `unless_started_since`: a scheduled run (server/services/orgsync.py)
        also refuses when a run of the key started at or after that moment, so that every
        worker's scheduler asking for the same slot runs it once; `started_at` is the moment
        the run is recorded as started (default now)."""
        if not self.shared:
            with _STATUS_LOCK:
                running = _STATUS.get(self.status.period)
                if running is not None and running.state == "running":
                    raise _already_running(running.period, running.by, running.started_at)
                if running is not None and unless_started_since is not None and \
                        dt.datetime.fromisoformat(running.started_at) >= unless_started_since:
                    raise _already_ran(running.period, running.started_at)
                _STATUS[self.status.period] = self.status
            return
        from sqlalchemy.exc import IntegrityError

        t = PullRun.__table__
        for _attempt in range(3):  # a concurrent first insert of the period: read it again
            now = dt.datetime.now(dt.UTC)
            values = {"state": "running", "owner": self.owner, "started_by": self.status.by,
                      "started_at": started_at or now, "heartbeat_at": now,
                      "finished_at": None,
                      "status": self._body()}
            try:
                with self.engine.begin() as conn:
                    row = conn.execute(select(t).where(t.c.period_code == self.status.period)
                                       .with_for_update()).first()
                    if row is None:
                        conn.execute(insert(t).values(period_code=self.status.period,
                                                      **values))
                    elif row.state == "running" and not _expired(row.heartbeat_at, now):
                        raise _already_running(row.period_code, row.started_by,
                                               _iso(row.started_at))
                    elif unless_started_since is not None and \
                            _aware(row.started_at) >= unless_started_since:
                        raise _already_ran(row.period_code, _iso(_aware(row.started_at)))
                    else:
                        if row.state == "running":
                            log.warning("pull of %s: taking over the lease of a stopped "
                                        "worker (last heartbeat %s)", row.period_code,
                                        row.heartbeat_at)
                        conn.execute(update(t).where(t.c.id == row.id).values(**values))
            except IntegrityError:
                continue
            break
        else:
            raise _already_running(self.status.period, "?", "?")
        self._beat = threading.Thread(target=self._heartbeat, daemon=True,
                                      name=f"kpibook-pull-lease-{self.status.period}")
        self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            self._write()

    def _body(self) -> dict[str, Any]:
        return {"sources": list(self.status.sources.values()),
                "problems": self.status.problems, "summary": self.status.summary}

    def _write(self, **extra: Any) -> None:
        """Progress and heartbeat of our row, if we still hold its lease."""
        t = PullRun.__table__
        with self._lock:
            body = json.loads(json.dumps(self._body(), default=str))
            try:
                with self.engine.begin() as conn:
                    done = conn.execute(update(t).where(
                        t.c.period_code == self.status.period, t.c.owner == self.owner)
                        .values(status=body, heartbeat_at=dt.datetime.now(dt.UTC), **extra))
                if done.rowcount == 0:
                    log.warning("pull of %s: lost its lease (taken over after a stall)",
                                self.status.period)
            except Exception:  # noqa: BLE001 - progress must never break the pull itself
                log.exception("pull of %s: could not record progress", self.status.period)

    # -- progress
    def progress(self, p: SourceProgress) -> None:
        with _STATUS_LOCK:
            self.status.sources[p.source] = p.as_dict()
        if self.shared:
            self._write()

    def finish(self, state: str, when: dt.datetime) -> None:
        with _STATUS_LOCK:
            self.status.state, self.status.finished_at = state, _iso(when)
        if self.shared:
            self._stop.set()
            if self._beat is not None:
                self._beat.join(timeout=HEARTBEAT_SECONDS + 5)
            self._write(state=state, finished_at=when)


# --- the pull ---------------------------------------------------------------------------------


@dataclass(slots=True)
class PullReport:
    period: str
    outcomes: list[SourceOutcome]
    stored: int = 0  # new or changed facts
    unchanged: int = 0
    kept_stale: int = 0  # last good values kept because their source failed / was partial
    frozen: bool = False
    # sources not asked: none of their indicators is in the rules (source -> its indicators)
    not_asked: dict[str, tuple[str, ...]] = field(default_factory=dict)
    when: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def failed(self) -> list[SourceOutcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def problems(self) -> list[str]:
        return [p.message() for o in self.outcomes for p in o.problems]


def known_employees(session: Session, period: Period,
                    roster: set[str] | None = None) -> set[str]:
    """Who may receive facts: the workbook's roster when given, else the employees table, the
    period template's demo roster and whoever already has facts in the period."""
    if roster:
        return set(roster)
    known = set(session.scalars(select(Employee.employee_id).where(Employee.active)).all())
    try:
        from server.workbook.template_content import TEMPLATES

        tpl = TEMPLATES.get(period.template_code)
        if tpl is not None:
            known |= {m.employee_id for m in tpl.roster}
    except ImportError:
        pass
    known |= set(session.scalars(select(SourceFact.employee_id).where(
        SourceFact.period_id == period.id)).all())
    return known


def pushed_provider(session: Session) -> Callable[[str, str], list[dict[str, Any]]]:
    """Stored push records as connector records (read before the threads start)."""
    rows = session.scalars(select(PushedRecord)).all()
    by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        by_key.setdefault((r.source, r.period_code), []).append(
            {**r.record, "external_id": r.external_id,
             "_at": f"push {r.external_id} ({r.received_at:%Y-%m-%d %H:%M})"})
    return lambda source, period: list(by_key.get((source, period), []))


def run_pull(session: Session, period: Period, fetched_by: str, config: SyncConfig,
             app_config: Mapping[str, Any], roster: set[str] | None = None,
             only: set[str] | None = None,
             on_progress: Callable[[SourceProgress], None] | None = None,
             workbook_codes: set[str] | None = None) -> PullReport:
    """Fetch every applicable source concurrently and store the outcomes (not committed).
    Only the mappings of indicators in force are asked (`indicators_in_force`)."""
    if is_frozen(period):
        raise Conflict(both("pull.frozen", code=period.code, state=period.state))
    # The one period-code check; quarters and years are windows too (not PeriodWindow.of).
    code = parse_period_code(valid_code(period.code, "en"))
    window = PeriodWindow(code.code, code.start, code.end)
    sources = sources_for(config, period)
    if only:
        unknown = only - {s.name for s in sources}
        if unknown:
            raise Unprocessable(f"unknown source(s) for period {period.code}: "
                                f"{', '.join(sorted(unknown))}")
    codes = indicators_in_force(session, period, workbook_codes)
    sources, idle = asked_sources(sources, codes)
    if only:
        idle = {name: ind for name, ind in idle.items() if name in only}
    # One pull at a time per scorecard: its history key names it uniquely within the month.
    status = PullStatus(period.history_key, started_at=_iso(dt.datetime.now(dt.UTC)), by=fetched_by)
    tracker = PullTracker(_engine_of(session), status)
    tracker.start()  # 409 while another pull of the period runs (in any worker)

    def progress(p: SourceProgress) -> None:
        tracker.progress(p)
        if on_progress is not None:
            on_progress(p)

    subset = SyncConfig(tuple(sources), config.path, config.workers)
    try:
        outcomes = pull_sources(subset, window, known_employees(session, period, roster),
                                progress, pushed_provider(session), uploads_dir(app_config),
                                only)
        report = store_outcomes(session, period, outcomes, fetched_by, codes=codes)
        report.not_asked = idle
        from server.services.history import fault

        fault("pull_stored")  # tests: killed after the facts were written, before the commit
    except BaseException:
        tracker.finish("failed", dt.datetime.now(dt.UTC))
        raise
    with _STATUS_LOCK:
        status.problems = [
            {"source": p.source, "at": p.at, "field": p.field, "reason": p.reason,
             "employee_id": p.employee_id, "indicator": p.indicator}
            for o in outcomes for p in o.problems][:MAX_PROBLEMS_KEPT]
        status.summary = {"stored": report.stored, "unchanged": report.unchanged,
                          "kept_stale": report.kept_stale,
                          "failed": {o.source: o.error for o in report.failed},
                          "problems": len(report.problems)}
    tracker.finish("done", report.when)
    return report


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def store_outcomes(session: Session, period: Period, outcomes: list[SourceOutcome],
                   fetched_by: str, when: dt.datetime | None = None,
                   codes: frozenset[str] | None = None) -> PullReport:
    """New values replace old ones; a source that failed, or did not deliver a value it
    delivered before, leaves the old value in place marked stale with the reason. Values of
    indicators outside `codes` (the rules in force; None: all) were not asked for and are
    left as they are.

    Core bulk statements, not ORM objects: a pull of 5,000 managers x 5 sources touches
    25,000 rows and the unit of work would spend seconds on bookkeeping."""
    if is_frozen(period):
        raise Conflict(f"Period {period.code} is {period.state}: its facts are frozen.")
    when = when or dt.datetime.now(dt.UTC)
    report = PullReport(period.code, outcomes, when=when)
    t = SourceFact
    existing = {(r.employee_id, r.indicator, r.field): r for r in session.execute(
        select(t.id, t.employee_id, t.indicator, t.field, t.source, t.raw_value, t.value_num,
               t.value_text, t.unit).where(t.period_id == period.id)).all()}
    stamp = when.strftime("%Y-%m-%d %H:%M UTC")
    inserts: dict[tuple[str, str, str], dict[str, Any]] = {}
    updates: dict[int, dict[str, Any]] = {}
    stale: dict[int, dict[str, Any]] = {}
    for outcome in outcomes:
        mine = [r for r in existing.values()
                if (r.source == outcome.source or r.indicator in outcome.indicators)
                and (codes is None or r.indicator in codes)]
        if not outcome.ok:
            for r in mine:
                stale[r.id] = {"id": r.id, "stale": True, "error": _reason(
                    f"{outcome.source} failed at {stamp}: {outcome.error}")}
            continue
        fresh = set()
        for mf in outcome.facts:
            key = (mf.employee_id, mf.indicator, mf.field)
            fresh.add(key)
            values = _columns(mf, fetched_by, when)
            row = existing.get(key)
            if row is None:
                inserts[key] = {"period_id": period.id, "employee_id": mf.employee_id,
                                "indicator": mf.indicator, "field": mf.field, **values}
                continue
            if _same(row, mf):
                report.unchanged += 1
            else:
                report.stored += 1
            updates[row.id] = {"id": row.id, **values}
            stale.pop(row.id, None)
        for r in mine:
            key = (r.employee_id, r.indicator, r.field)
            if key not in fresh and r.id not in updates:
                reason = outcome.rejected.get(key) or "no value in this pull"
                stale[r.id] = {"id": r.id, "stale": True,
                               "error": _reason(f"{outcome.source} at {stamp}: {reason}")}
    report.stored += len(inserts)
    report.kept_stale = len(stale)
    session.flush()
    table = SourceFact.__table__
    conn = session.connection()
    if inserts:
        conn.execute(insert(table), list(inserts.values()))
    for rows in (updates, stale):
        if rows:
            first = next(iter(rows.values()))
            stmt = update(table).where(table.c.id == bindparam("_id")).values(
                {k: bindparam(k) for k in first if k != "id"})
            conn.execute(stmt, [{**{k: v for k, v in r.items() if k != "id"}, "_id": r["id"]}
                                for r in rows.values()])
    session.expire_all()  # ORM objects loaded earlier must not show the old values
    return report


def _same(row: Any, mf: MappedFact) -> bool:
    value = row.value_num if row.value_num is not None else row.value_text
    return (row.source == mf.source and row.raw_value == mf.raw_value and value == mf.value
            and row.unit == mf.unit)


def _columns(mf: MappedFact, fetched_by: str, when: dt.datetime) -> dict[str, Any]:
    text_value = isinstance(mf.value, str)
    return {"source": mf.source, "raw_value": mf.raw_value,
            "value_num": None if text_value else mf.value,
            "value_text": mf.value if text_value else None, "unit": mf.unit,
            "fetched_at": when, "fetched_by": fetched_by, "request": mf.request,
            "stale": False, "error": None}


def _reason(text: str) -> str:
    return text[:1000]


def _iso(when: dt.datetime) -> str:
    return when.isoformat(timespec="seconds")


# --- the Pull button --------------------------------------------------------------------------


def pull_for_button(session: Session, period: Period, user_name: str,
                    app_config: Mapping[str, Any], roster: set[str] | None,
                    rule_codes: set[str] | None = None) -> PullReport | None:
    """Pull from the connectors file when one is configured (None when not). `rule_codes`:
    the workbook's kb_rules codes, used only before the period has rules of record."""
    config = sync_config(app_config)
    if config is None or is_frozen(period):
        return None
    return run_pull(session, period, user_name, config, app_config, roster,
                    workbook_codes=rule_codes)


# --- inbound push -----------------------------------------------------------------------------


def authenticate_push(config: SyncConfig | None, source_name: str, token: str,
                      oauth_client_id: str | None = None) -> SourceConfig:
    """The push source whose token this is; Unauthorized-style errors name nothing secret.

    `oauth_client_id`: the client of a valid OAuth2 token with scope facts:write; it may push
    to the sources whose `clients` option lists it (docs/sync.md)."""
    from server.services.errors import Forbidden, Unauthorized

    source = config.source(source_name) if config else None
    if source is None or source.kind != "push":
        raise Unauthorized(f"unknown push source {source_name!r}")
    if oauth_client_id is not None:
        if oauth_client_id not in [str(c) for c in source.options.get("clients") or ()]:
            raise Forbidden(f"client {oauth_client_id} may not push to source {source_name!r} "
                            "(not in its clients list)")
        return source
    try:
        expected = source.secret("token")
    except Exception:  # noqa: BLE001 - an unset token env var means nobody may push
        raise Unauthorized(f"push source {source_name!r} has no token configured") from None
    if not token or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthorized(f"invalid token for push source {source_name!r}")
    return source


def receive_push(session: Session, source: SourceConfig, body: Mapping[str, Any],
                 request_key: str, client: str, app_config: Mapping[str, Any]
                 ) -> tuple[int, dict[str, Any]]:
    """Store pushed records (all or nothing) and refresh that source's facts. Returns
    (http status, answer)."""
    records = body.get("records")
    if not body.get("period") or not isinstance(records, list) or not records:
        raise Unprocessable("body must be {\"period\": \"2026-10\", \"records\": [{...}]} with "
                            "at least one record")
    period_code = valid_code(body.get("period"), "en", what=("推送的 period", "pushed period"))
    try:
        period = find_period(session, period_code, str(body.get("scorecard") or "").strip())
    except ChooseScorecard as exc:
        raise Unprocessable(f"period {period_code} holds several scorecards "
                            f"({', '.join(exc.scorecards)}): say which in \"scorecard\"") \
            from None
    if period is None:
        raise Unprocessable(f"period {period_code} does not exist on the server")
    if is_frozen(period):
        raise Conflict(f"period {period_code} is {period.state}: its facts are frozen")
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False,
                                       default=str).encode()).hexdigest()
    if request_key:
        seen = session.scalars(select(PushedRecord).where(
            PushedRecord.source == source.name, PushedRecord.request_key == request_key)
        ).first()
        if seen is not None:
            if seen.request_hash != digest:
                raise Conflict(f"request key {request_key!r} was already used for a "
                               "different body; use a new key for new data")
            return 200, {"source": source.name, "period": period_code, "replayed": True,
                         "request_key": request_key, "created": 0, "updated": 0,
                         "unchanged": len(records)}
    id_field = source.external_id or "external_id"
    problems, ids = [], set()
    for n, rec in enumerate(records, 1):
        if not isinstance(rec, dict):
            problems.append(f"record {n}: not a JSON object")
            continue
        ext = str(rec.get(id_field) or "").strip()
        if not ext:
            problems.append(f"record {n}: field {id_field}: missing (every record needs a "
                            "unique external id)")
        elif ext in ids:
            problems.append(f"record {n}: field {id_field}: {ext!r} appears twice")
        ids.add(ext)
    if not problems:
        known = known_employees(session, period)
        tagged = [{**r, "_at": f"record {n} ({r.get(id_field)})"} for n, r in
                  enumerate(records, 1)]
        mapped = map_records(source, tagged, known, "push")
        problems = [p.message() for p in mapped.problems]
    if problems:
        raise Unprocessable("nothing stored; fix these records and send again:\n"
                            + "\n".join(problems[:200]))
    existing = {r.external_id: r for r in session.scalars(select(PushedRecord).where(
        PushedRecord.source == source.name, PushedRecord.external_id.in_(ids))).all()}
    created = updated = unchanged = 0
    now = dt.datetime.now(dt.UTC)
    for rec in records:
        ext = str(rec[id_field]).strip()
        clean = {k: v for k, v in rec.items() if not str(k).startswith("_")}
        row = existing.get(ext)
        if row is None:
            session.add(PushedRecord(source=source.name, external_id=ext,
                                     period_code=period_code, record=clean,
                                     request_key=request_key, request_hash=digest,
                                     received_at=now, received_by=client))
            created += 1
        elif row.record == clean and row.period_code == period_code:
            unchanged += 1
        else:
            row.record, row.period_code, row.received_at = clean, period_code, now
            row.request_key, row.request_hash, row.received_by = request_key, digest, client
            updated += 1
    session.flush()
    config = SyncConfig((source,))
    report = run_pull(session, period, f"push/{client}", config, app_config,
                      only={source.name})
    return (201 if created else 200), {
        "source": source.name, "period": period_code, "replayed": False,
        "request_key": request_key, "created": created, "updated": updated,
        "unchanged": unchanged, "facts_stored": report.stored,
        "facts_unchanged": report.unchanged}


def roster_ids(wb: Any) -> set[str] | None:
    """Employee ids of the workbook's kb_roster (None when it has none)."""
    frame = wb.tables.get("kb_roster") if wb is not None else None
    if frame is None:
        return None
    ids = set()
    for i in range(len(frame.frame)):
        value = frame.value(i, "employee_id")
        if value is not None and str(value).strip():
            ids.add(str(int(value)) if isinstance(value, float) and value.is_integer()
                    else str(value).strip())
    return ids or None
