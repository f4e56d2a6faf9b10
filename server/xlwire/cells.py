"""Cells as the xlwings wire protocol writes them: which strings are Excel's errors, which
are ISO datetimes, and the lookup that converts both at C speed (the module docstring of
server/xlwire/protocol.py says why each conversion is what it is).

Its own module so that the request parser (protocol.py) and the server's copies of the
sheets it wrote (digest.py) share it without importing each other. Pure: no Flask, no I/O.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from server.xlwire.snapshot import CellError

ERROR_CODES = (
    "#DIV/0!", "#N/A", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!",
    "#SPILL!", "#CALC!", "#GETTING_DATA", "#BUSY!", "#DATA!", "#FIELD!", "#BLOCKED!",
    "#CONNECT!", "#UNKNOWN!",
)

# One lookup per cell turns "" and error strings into their Python values; anything else
# maps to itself. A dict lookup is the cheapest per-cell operation Python offers, which is
# what keeps a 200,000-row sheet fast.
_SPECIAL: dict[object, object] = {"": None, **{code: CellError(code) for code in ERROR_CODES}}

# Same shape as the reference engine's pattern: date "T" time, optional fraction, optional
# "Z" or offset. The offset is dropped (Excel has no time zones; the wall-clock is kept).
_ISO_DATETIME = re.compile(
    r"^(\d{4})-(1[0-2]|0[1-9])-(3[01]|0[1-9]|[12]\d)T(2[0-3]|[01]\d):([0-5]\d):([0-5]\d)"
    r"(?:\.(\d+))?(?:Z|[+-](?:2[0-3]|[01]\d):?[0-5]\d)?$"
)


def parse_iso_datetime(text: str) -> dt.datetime | None:
    """'2021-03-01T00:00:00.000Z' -> datetime(2021, 3, 1); None when `text` is no such date."""
    m = _ISO_DATETIME.match(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction = m.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        return dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro
        )
    except ValueError:  # 2021-02-30 and the like: keep the text as it came
        return None


def _convert_date_candidate(text: str) -> object:
    parsed = parse_iso_datetime(text)
    return text if parsed is None else parsed


def convert_row(row: list[Any]) -> list[object]:
    """Wire cells -> Python cells for one row (see the module docstring)."""
    get = _SPECIAL.get
    return [
        _convert_date_candidate(v) if v.__class__ is str and v[10:11] == "T" else get(v, v)
        for v in row
    ]


# ISO datetimes as they appear inside the raw JSON text, quotes included.
_RAW_ISO = re.compile(rb'"(\d{4}-\d\d-\d\dT[0-9:.+\-Z]{8,30})"')
# The part of every match of _RAW_ISO from its "T" on. Starting with a fixed character, it is
# found at memchr speed, where _RAW_ISO tries every opening quote of the body as a start
# (50 ms on an 18 MB re-score body that holds one date, against 9 ms).
_RAW_TIME = re.compile(rb'T[0-9:.+\-Z]{8,30}"')
_DATE_PART = 11  # '"YYYY-MM-DD' before the T


def lookup_with_dates(raw: bytes) -> dict[object, object]:
    """`_SPECIAL` plus every distinct ISO datetime string of the raw body, pre-parsed.

    With it one dict lookup per cell converts empties, errors and dates alike; finding the
    dates with a regex over the raw text runs at C speed, where testing each cell in Python
    would triple the cost of a large sheet. Each time part found is checked with the date
    before it against _RAW_ISO, so the dates are exactly the matches of _RAW_ISO.
    """
    lookup = dict(_SPECIAL)
    candidates = {bytes(raw[m.start() - _DATE_PART:m.end()]) for m in _RAW_TIME.finditer(raw)
                  if m.start() >= _DATE_PART}
    for candidate in candidates:
        found = _RAW_ISO.fullmatch(candidate)
        if found is None:
            continue
        text = found.group(1).decode("ascii")
        parsed = parse_iso_datetime(text)
        if parsed is not None:
            lookup[text] = parsed
    return lookup


def has_dates(raw: bytes | bytearray) -> bool:
    """Does the raw JSON hold an ISO datetime string the parse would convert?"""
    return len(lookup_with_dates(raw)) > len(_SPECIAL)
