"""Jobs on the workers' clock, run once per slot however many workers ask.

Every gunicorn worker (and the dev server) runs the same scheduler loop; what keeps a slot
from running in each of them is one row per job in `schedule_claims` (server/models.py
ScheduleClaim) and a compare-and-set on it:

    UPDATE schedule_claims SET slot = :slot, owner = :me, state = 'running', ...
     WHERE job = :job AND (slot IS NULL OR slot < :slot
                           OR (slot = :slot AND state = 'running' AND lease_until < :now))

Exactly one concurrent claimer changes the row: SQLite lets one writer in at a time, and on
PostgreSQL the losers wait for the winner's row lock, then re-check the WHERE against the row
it committed, which no longer matches. No advisory lock or SELECT ... FOR UPDATE is needed,
so the same code runs on both.

The slot a job asks for is the *latest* due moment (sync/schedule.py `last_slot`): a server
that was down across several slots claims only the newest when it comes back, so a missed run
runs once, not once per missed slot. A claimer that dies mid-run leaves `state = running`;
once its lease (renewed while the job runs) has run out, the next tick takes the slot over.

Reusable API (scheduled pulls in server/services/schedule.py use it; other periodic work —
notification retries, org syncs — can too):

    claim(engine, job, slot, now=..., lease_seconds=...) -> Claim | None
    Claim.renew() / Claim.finish(state, note) / Claim.release(note)
    run_claimed(claim, work, also=())  # leases renewed while `work()` runs; then done,
                                      # failed or released (TryLater) for every claim
    start_loop(name, tick, interval) -> threading.Event   # a daemon thread; set() stops it
    last_runs(engine, prefix) -> {job: ScheduleClaim row}

No Flask here: the callers pass an engine.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from server.models import ScheduleClaim

log = logging.getLogger("kpibook.schedule")

LEASE_SECONDS = 900.0  # a running job renews its lease every third of this
TICK_SECONDS = 60.0  # how often a worker's loop asks (KPIBOOK_SCHEDULER_SECONDS)


class TryLater(Exception):  # noqa: N818 - an instruction, not an error
    """Raised by a job that could not run now (e.g. a manual run of the same thing is in
    progress): its slot is given back and a later tick claims it again."""


def _utc(when: dt.datetime | None) -> dt.datetime | None:
    if when is None:
        return None
    if when.tzinfo is None:  # SQLite hands back naive UTC
        return when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC)


@dataclass(slots=True)
class Claim:
    """A slot of a job this worker won; `finish` or `release` it."""

    engine: Engine
    job: str
    slot: dt.datetime
    owner: str
    lease_seconds: float
    previous_slot: dt.datetime | None
    previous_state: str

    def _mine(self) -> Any:
        t = ScheduleClaim.__table__
        return update(t).where(t.c.job == self.job, t.c.owner == self.owner,
                               t.c.slot == self.slot)

    def renew(self, now: dt.datetime | None = None) -> bool:
        """Push the lease out (False: another worker took the slot over)."""
        now = _utc(now) or dt.datetime.now(dt.UTC)
        with self.engine.begin() as conn:
            done = conn.execute(self._mine().values(
                lease_until=now + dt.timedelta(seconds=self.lease_seconds)))
        return done.rowcount == 1

    def finish(self, state: str = "done", note: str = "",
               now: dt.datetime | None = None) -> None:
        """The slot ran (`done`) or failed for good (`failed`): it is not run again."""
        now = _utc(now) or dt.datetime.now(dt.UTC)
        with self.engine.begin() as conn:
            conn.execute(self._mine().values(state=state, finished_at=now, lease_until=None,
                                             note=note[:2000]))

    def release(self, note: str = "") -> None:
        """Give the slot back: the row shows the previous slot again, so the next tick (in
        any worker) claims this slot anew."""
        with self.engine.begin() as conn:
            conn.execute(self._mine().values(slot=self.previous_slot,
                                             state=self.previous_state or "", lease_until=None,
                                             note=note[:2000]))


def claim(engine: Engine, job: str, slot: dt.datetime, *, now: dt.datetime | None = None,
          lease_seconds: float = LEASE_SECONDS) -> Claim | None:
    """Claim `slot` of `job` for this worker; None when another worker already has it (or a
    later slot), or is running it with a live lease. Each statement is its own short
    transaction, never the caller's session."""
    slot = _utc(slot)
    now = _utc(now) or dt.datetime.now(dt.UTC)
    assert slot is not None
    t = ScheduleClaim.__table__
    owner = secrets.token_hex(16)
    with engine.connect() as conn:
        row = conn.execute(select(t.c.slot, t.c.state).where(t.c.job == job)).first()
    if row is None:
        try:
            with engine.begin() as conn:
                conn.execute(t.insert().values(job=job, slot=None, state="", owner="",
                                               note=""))
        except IntegrityError:
            pass  # another worker made the row first: the compare-and-set below decides
        previous_slot, previous_state = None, ""
    else:
        previous_slot, previous_state = _utc(row.slot), row.state or ""
        if previous_slot is not None and previous_slot > slot:
            return None
    with engine.begin() as conn:
        done = conn.execute(update(t).where(
            t.c.job == job,
            or_(t.c.slot.is_(None), t.c.slot < slot,
                and_(t.c.slot == slot, t.c.state == "running", t.c.lease_until < now)))
            .values(slot=slot, owner=owner, state="running", claimed_at=now,
                    lease_until=now + dt.timedelta(seconds=lease_seconds), finished_at=None,
                    note=""))
    if done.rowcount != 1:
        return None
    if previous_slot == slot:
        log.warning("%s: taking over slot %s from a worker whose lease ran out", job, slot)
    return Claim(engine, job, slot, owner, lease_seconds, previous_slot, previous_state)


def run_claimed(claim_: Claim, work: Callable[[], str | None],
                also: Sequence[Claim] = ()) -> str:
    """Run `work` for a won claim (and the claims `also` settled by the same run), renewing
    their leases meanwhile; they end `done` (the note is what `work` returned), `failed` (an
    exception: logged, not raised) or released (TryLater). Returns the final state: done |
    failed | released."""
    claims = [claim_, *also]
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(claim_.lease_seconds / 3):
            for c in claims:
                try:
                    if not c.renew():
                        log.warning("%s: lost the claim of slot %s", c.job, c.slot)
                except Exception:  # noqa: BLE001 - a missed renewal must not stop the job
                    log.exception("%s: could not renew the claim", c.job)

    heart = threading.Thread(target=beat, daemon=True, name=f"kpibook-claim-{claim_.job}")
    heart.start()
    state, note = "done", ""
    try:
        note = work() or ""
    except TryLater as exc:
        state, note = "released", str(exc)
    except Exception as exc:  # noqa: BLE001 - one job failing must not stop the loop
        log.exception("%s: slot %s failed", claim_.job, claim_.slot)
        state, note = "failed", f"{type(exc).__name__}: {exc}"
    finally:
        stop.set()
        heart.join()
    for c in claims:
        if state == "released":
            c.release(note)
        else:
            c.finish(state, note)
    return state


def last_runs(engine: Engine, prefix: str = "") -> dict[str, ScheduleClaim]:
    """The claim rows of the jobs whose key starts with `prefix` (status pages)."""
    t = ScheduleClaim.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(t).where(t.c.job.startswith(prefix, autoescape=True))).all()
    return {r.job: ScheduleClaim(**{k: (_utc(v) if isinstance(v, dt.datetime) else v)
                                    for k, v in r._mapping.items()}) for r in rows}


def start_loop(name: str, tick: Callable[[], Any], interval: float = TICK_SECONDS
               ) -> threading.Event:
    """A daemon thread calling `tick()` now and then every `interval` seconds (gunicorn's
    workers and the dev server start it; the app factory never does). A failing tick is
    logged and the loop goes on. Set the returned event to stop it."""
    stop = threading.Event()

    def loop() -> None:
        while True:
            try:
                tick()
            except Exception:  # noqa: BLE001 - the thread must survive a bad tick
                log.exception("scheduler %s: tick failed", name)
            if stop.wait(interval):
                return

    threading.Thread(target=loop, name=f"kpibook-scheduler-{name}", daemon=True).start()
    return stop
