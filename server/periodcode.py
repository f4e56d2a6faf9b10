"""Period codes: the one check of every period code that enters kpibook.

A period is a month `2026-11`, a quarter `2026-Q4` or a year `2026`, with a year from
FIRST_YEAR to LAST_YEAR. Every route, CLI command, API and page that takes a period code
calls `parse_period_code` (or `check_period_code`), so that nothing else ever reaches the
database, the git history's paths or a source system's query: "hello world", "2030-13",
"../../etc/passwd" or a date Excel made of the cell are refused with the reason, worded by
the message catalogue (server/scoring/messages.py, "period.*") in Chinese and English.

Pure: no Flask, no database.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from server.scoring.messages import MessageError

FIRST_YEAR, LAST_YEAR = 2000, 2100
SHOWN_AT_MOST = 40  # characters of a refused code quoted back in the message

_SHAPE = re.compile(r"(\d{4})(?:-(\d{2})|-[Qq](\d))?")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")


class PeriodCodeError(MessageError):
    """A period code that is not one; `.why` words the reason in either language."""


@dataclass(frozen=True, slots=True)
class PeriodCode:
    """A valid period: its code, what it is, and its days (`end` exclusive)."""

    code: str
    kind: str  # "month", "quarter" or "year"
    start: dt.date
    end: dt.date

    def __str__(self) -> str:
        return self.code


def parse_period_code(text: object) -> PeriodCode:
    """The period `text` names, or PeriodCodeError saying why it names none.

    Surrounding spaces are dropped and a lower-case "q" is read as "Q"; nothing else is
    guessed (2026-1, 2026/11, 11-2026 and dates are refused)."""
    if text is None:
        raise PeriodCodeError("period.code_missing")
    if not isinstance(text, str):
        raise PeriodCodeError("period.code_shape", code=_shown(text))
    code = text.strip()
    if not code:
        raise PeriodCodeError("period.code_missing")
    m = _SHAPE.fullmatch(code)
    if m is None or not code.isascii():
        raise PeriodCodeError("period.code_shape", code=_shown(code))
    year = int(m.group(1))
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise PeriodCodeError("period.code_year", code=code, low=FIRST_YEAR, high=LAST_YEAR)
    month, quarter = m.group(2), m.group(3)
    if month is not None:
        if not 1 <= int(month) <= 12:
            raise PeriodCodeError("period.code_month", code=code)
        first = int(month)
        return PeriodCode(code, "month", dt.date(year, first, 1), _month_after(year, first))
    if quarter is not None:
        q = int(quarter)
        if not 1 <= q <= 4:
            raise PeriodCodeError("period.code_quarter", code=code)
        first = 3 * q - 2
        return PeriodCode(f"{year:04d}-Q{q}", "quarter", dt.date(year, first, 1),
                          _month_after(year, first + 2))
    return PeriodCode(code, "year", dt.date(year, 1, 1), dt.date(year + 1, 1, 1))


def check_period_code(text: object) -> str:
    """The code of `parse_period_code(text)` (normalised: "2026-q4" -> "2026-Q4")."""
    return parse_period_code(text).code


def is_period_code(text: object) -> bool:
    try:
        parse_period_code(text)
    except PeriodCodeError:
        return False
    return True


def month_of(day: dt.date) -> str:
    """The month code of a day, e.g. the current month in the company's time zone."""
    return f"{day.year:04d}-{day.month:02d}"


def _month_after(year: int, month: int) -> dt.date:
    return dt.date(year + (month == 12), month % 12 + 1, 1)


def _shown(value: object) -> str:
    """A refused value as it may be quoted back: printable, at most SHOWN_AT_MOST characters."""
    text = _UNPRINTABLE.sub("?", str(value))
    return text if len(text) <= SHOWN_AT_MOST else text[:SHOWN_AT_MOST] + "…"
