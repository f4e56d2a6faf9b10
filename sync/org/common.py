"""Small helpers the platform connectors share (dates, the leave-check window)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sync.org.model import OrgContext

CHINA = ZoneInfo("Asia/Shanghai")  # the platforms' own clock for dates without a zone
LOOKBACK_DAYS = 90


def window(ctx: OrgContext) -> tuple[dt.datetime, dt.datetime]:
    now = ctx.now or dt.datetime.now(dt.UTC)
    return (ctx.since or now - dt.timedelta(days=LOOKBACK_DAYS)), now


def date_of(value: Any) -> dt.date | None:
    """ISO-8601 text ("2026-10-20T10:00Z"), or epoch seconds / milliseconds, as a date in
    China's time zone; None when it is neither."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        number = float(value)
        when = dt.datetime.fromtimestamp(number / 1000 if number > 1e11 else number, dt.UTC)
        return when.astimezone(CHINA).date()
    try:
        when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return when.date()
    return when.astimezone(CHINA).date()


def text(value: Any) -> str:
    return "" if value is None else str(value).strip()
