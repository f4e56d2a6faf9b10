"""Schedules of the connectors file: `schedule = "daily 06:30"`, `"every 30m"`, `"every 6h"`.

One reader for the `[[source]]` tables (scheduled pulls) and the `[[org]]` tables (scheduled
organisation syncs). Times are wall-clock times in a time zone: the table's `timezone`, else
the company's (KPIBOOK_TIMEZONE), which the server passes in. `every N` slots count from local
midnight (every 6h: 00:00, 06:00, 12:00, 18:00), so every worker computes the same slots.

A slot is a moment; the scheduler (server/schedule.py) runs the *latest* slot at or before now
that has not run yet: a server that was down for three days runs a daily pull once when it
comes back, not three times. Flask-free.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sync.errors import ConfigError

_SCHEDULE = re.compile(r"^(?:daily\s+(\d{1,2}):(\d{2})|every\s+(\d+)\s*([mh]))$")
DEFAULT_TIMEZONE = "Asia/Shanghai"


@dataclass(frozen=True, slots=True)
class Schedule:
    """`daily HH:MM` or `every Nm` / `every Nh` in `timezone` ("" = the caller's default:
    the company's time zone)."""

    text: str
    timezone: str = ""

    def zone(self, default: str = DEFAULT_TIMEZONE) -> ZoneInfo:
        return ZoneInfo(self.timezone or default or DEFAULT_TIMEZONE)

    def _parts(self) -> tuple[int | None, int | None, int | None]:
        """(hour, minute, None) for daily; (None, None, step minutes) for every."""
        m = _SCHEDULE.match(self.text.strip().lower())
        if m is None:
            raise ValueError(f"not a schedule: {self.text!r}")
        if m.group(1) is not None:
            return int(m.group(1)), int(m.group(2)), None
        return None, None, int(m.group(3)) * (60 if m.group(4) == "h" else 1)

    def last_slot(self, now: dt.datetime, default_tz: str = DEFAULT_TIMEZONE) -> dt.datetime:
        """The latest scheduled moment at or before `now` (aware, UTC)."""
        hour, minute, step = self._parts()
        local = _aware(now).astimezone(self.zone(default_tz))
        if step is None:
            slot = _wall(local.date(), hour or 0, minute or 0, local.tzinfo)
            if slot > local:
                slot = _wall(local.date() - dt.timedelta(days=1), hour or 0, minute or 0,
                             local.tzinfo)
            return slot.astimezone(dt.UTC)
        slots = self._day_slots(local.date(), step, local.tzinfo)
        before = [s for s in slots if s <= local]
        if not before:  # only when a zone's midnight itself is skipped
            before = self._day_slots(local.date() - dt.timedelta(days=1), step, local.tzinfo)
        return before[-1].astimezone(dt.UTC)

    def next_run(self, now: dt.datetime, default_tz: str = DEFAULT_TIMEZONE) -> dt.datetime:
        """The earliest scheduled moment strictly after `now` (aware, UTC)."""
        hour, minute, step = self._parts()
        local = _aware(now).astimezone(self.zone(default_tz))
        if step is None:
            for days in range(0, 3):
                slot = _wall(local.date() + dt.timedelta(days=days), hour or 0, minute or 0,
                             local.tzinfo)
                if slot > local:
                    return slot.astimezone(dt.UTC)
        for days in range(0, 3):
            for slot in self._day_slots(local.date() + dt.timedelta(days=days), step,
                                        local.tzinfo):
                if slot > local:
                    return slot.astimezone(dt.UTC)
        raise AssertionError("unreachable: every schedule has a slot within two days")

    @staticmethod
    def _day_slots(day: dt.date, step: int, tz: dt.tzinfo | None) -> list[dt.datetime]:
        """The slots of one local day, `step` minutes apart from midnight (wall clock)."""
        out = []
        for minutes in range(0, 24 * 60, step):
            out.append(_wall(day, minutes // 60, minutes % 60, tz))
        return sorted(set(out))


def _aware(when: dt.datetime) -> dt.datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _wall(day: dt.date, hour: int, minute: int, tz: dt.tzinfo | None) -> dt.datetime:
    """The moment a wall clock in `tz` shows `day hour:minute`. A time skipped by a clock
    change (02:30 on a spring-forward night) is the moment the clock jumps past it; a time
    shown twice (autumn) is its first showing (fold=0)."""
    naive = dt.datetime(day.year, day.month, day.day, hour, minute)
    moment = naive.replace(tzinfo=tz)
    back = moment.astimezone(dt.UTC).astimezone(tz)
    if back.replace(tzinfo=None) != naive:  # does not exist: normalise forwards
        return moment.astimezone(dt.UTC).astimezone(tz)
    return moment


def parse_schedule(text: object, timezone: object, where: str) -> Schedule | None:
    """A table's `schedule` and `timezone` keys as a Schedule (None without a schedule);
    ConfigError naming `where` when either is wrong."""
    if text in (None, ""):
        return None
    raw = str(text).strip()
    m = _SCHEDULE.match(raw.lower())
    if not m or (m.group(1) is not None and (int(m.group(1)) > 23 or int(m.group(2)) > 59)) \
            or (m.group(3) is not None and not 0 < int(m.group(3)) * (
                60 if m.group(4) == "h" else 1) <= 24 * 60):
        raise ConfigError(f"{where}: schedule {raw!r} is not 'daily HH:MM', 'every Nm' or "
                          "'every Nh' (at most 24h)")
    tz = str(timezone or "").strip()
    if tz:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{where}: timezone {tz!r} is unknown (an IANA name such as "
                              "Asia/Shanghai)") from None
    return Schedule(raw, tz)
