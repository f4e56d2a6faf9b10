"""Scheduled pulls: each `[[source]]` with a `schedule` is pulled on the workers' clock.

`schedule = "daily 06:30"` (or `"every 2h"`) in the connectors file, in the company's time
zone (KPIBOOK_TIMEZONE) unless the source names its own `timezone`. Every worker's scheduler
loop calls `run_due_pulls` each KPIBOOK_SCHEDULER_SECONDS; the claim row of server/schedule.py
(job "pull:<source>") lets one worker run each slot, and a slot missed while the server was
down runs once when it comes back.

A scheduled pull fills every period the workflow lets Pull fill (server/workflow.py
ALLOWED_IN["pull"]: draft, collecting, scored, in review — approved and later are frozen)
whose template the source serves, through the same `run_pull` as the button: recorded as a
pull run and on every fact with who = "schedule". A period already being pulled (someone
pressed Pull) gives the slot back and the next tick tries again. Nothing is re-scored: where
the new values restate a month that was already scored, HR sees what would change
(server/services/restatement.py) and decides with the normal Score.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import OperationalError

from server import schedule as scheduler
from server.services.errors import Conflict
from sync.config import SourceConfig, SyncConfig
from sync.errors import SyncError

log = logging.getLogger("kpibook.schedule")

SCHEDULED_BY = "schedule"  # PullRun.started_by and SourceFact.fetched_by of a scheduled pull


def job_key(source: SourceConfig) -> str:
    return f"pull:{source.name}"


def company_zone(app_config: Mapping[str, Any]) -> str:
    from server.display import DEFAULT_TIMEZONE

    return str(app_config.get("TIMEZONE") or DEFAULT_TIMEZONE)


@dataclass(slots=True)
class ScheduledPull:
    """What one tick did for the sources it claimed."""

    slot: dt.datetime
    sources: list[str]
    periods: dict[str, str] = field(default_factory=dict)  # period -> done | busy | error
    state: str = ""  # done | released | failed


def scheduled_sources(config: SyncConfig | None) -> list[SourceConfig]:
    return [s for s in (config.sources if config else ()) if s.schedule is not None]


def run_due_pulls(app: Any, now: dt.datetime | None = None) -> list[ScheduledPull]:
    """One scheduler tick: claim the due slot of every scheduled source this worker can win,
    then pull the claimed sources together, once per open period. Returns what ran (empty
    when another worker has every due slot)."""
    from server.db import get_engine
    from server.services.pull import sync_config

    now = now or dt.datetime.now(dt.UTC)
    try:
        config = sync_config(app.config)
    except SyncError as exc:
        log.error("scheduled pulls: %s", exc)
        return []
    zone = company_zone(app.config)
    engine = get_engine(app)
    by_slot: dict[dt.datetime, list[tuple[SourceConfig, scheduler.Claim]]] = {}
    for source in scheduled_sources(config):
        assert source.schedule is not None
        slot = source.schedule.last_slot(now, zone)
        won = scheduler.claim(engine, job_key(source), slot, now=now)
        if won is not None:
            by_slot.setdefault(slot, []).append((source, won))
    ran = []
    for slot, claims in sorted(by_slot.items()):
        assert config is not None
        ran.append(_pull_claimed(app, config, slot, claims))
    return ran


def _pull_claimed(app: Any, config: SyncConfig, slot: dt.datetime,
                  claims: list[tuple[SourceConfig, scheduler.Claim]]) -> ScheduledPull:
    names = {s.name for s, _c in claims}
    done = ScheduledPull(slot, sorted(names))

    def work() -> str:
        done.periods = pull_open_periods(app, config, names)
        if "busy" in done.periods.values():
            raise scheduler.TryLater("a pull of " + ", ".join(
                p for p, state in done.periods.items() if state == "busy") + " was running")
        return "; ".join(f"{p}: {state}" for p, state in done.periods.items()) or \
            "no open period"

    # One run for the sources of this slot; each source's claim ends the same way.
    done.state = scheduler.run_claimed(claims[0][1], work, [c for _s, c in claims[1:]])
    return done


def pull_open_periods(app: Any, config: SyncConfig, names: set[str]) -> dict[str, str]:
    """Pull `names` into every period open for Pull that they serve, each period in its own
    transaction. period -> done | busy (another pull of it is running, or the database was
    busy: the slot is tried again) | error."""
    from server.db import session_scope
    from server.services.periods import periods_open_for
    from server.services.pull import run_pull, sources_for

    with session_scope(app) as session:
        periods = [(p.id, p.code) for p in periods_open_for(session, "pull")]
    out: dict[str, str] = {}
    for period_id, code in periods:
        try:
            with session_scope(app) as session:
                from server.models import Period

                period = session.get(Period, period_id)
                if period is None:
                    continue
                only = names & {s.name for s in sources_for(config, period)}
                if not only:
                    continue
                run_pull(session, period, SCHEDULED_BY, config, app.config, only=only)
            out[code] = "done"
        except Conflict as exc:
            log.info("scheduled pull of %s: %s", code, exc)
            out[code] = "busy" if "already running" in str(exc) else "error"
        except OperationalError as exc:  # the database was busy or away: try again later
            log.warning("scheduled pull of %s: %s", code, exc)
            out[code] = "busy"
        except Exception:  # noqa: BLE001 - one period failing must not stop the others
            log.exception("scheduled pull of %s failed", code)
            out[code] = "error"
    return out


@dataclass(slots=True)
class ScheduleRow:
    """A scheduled source as the sync page shows it."""

    source: str
    schedule: str
    timezone: str
    next_run: dt.datetime
    last_slot: dt.datetime | None
    last_state: str
    last_finished: dt.datetime | None
    last_note: str


def schedule_view(app_config: Mapping[str, Any], engine: Any,
                  now: dt.datetime | None = None) -> list[ScheduleRow]:
    """Every scheduled source with its next run and how its last slot went."""
    from server.services.pull import sync_config

    now = now or dt.datetime.now(dt.UTC)
    zone = company_zone(app_config)
    try:
        config = sync_config(app_config)
    except SyncError:
        return []
    runs = scheduler.last_runs(engine, "pull:")
    out = []
    for s in scheduled_sources(config):
        assert s.schedule is not None
        row = runs.get(job_key(s))
        out.append(ScheduleRow(s.name, s.schedule.text, s.schedule.timezone or zone,
                               s.schedule.next_run(now, zone),
                               row.slot if row else None, row.state if row else "",
                               row.finished_at if row else None, row.note if row else ""))
    return out


def start_pull_scheduler(app: Any) -> Any:
    """The worker's loop for scheduled pulls (gunicorn's post_worker_init, `kpibook serve`
    and `kpibook demo`); None when KPIBOOK_SCHEDULER_SECONDS is 0 or no source has a
    schedule. Returns the loop's stop event."""
    from server.services.pull import sync_config

    seconds = float(app.config.get("SCHEDULER_SECONDS", scheduler.TICK_SECONDS) or 0)
    try:
        config = sync_config(app.config)
    except SyncError as exc:
        log.error("scheduled pulls are off: %s", exc)
        return None
    if seconds <= 0 or not scheduled_sources(config):
        return None
    return scheduler.start_loop("pull", lambda: run_due_pulls(app), seconds)
