"""Text safety: strings we write must land in Excel as the literal text, never as a formula.

The clients write `setValues` the way a person types: VBA assigns `Range.Value = array`
(after trying `WebHelpers.ParseIso` on every cell, so "1-2-3" or "2024-01-05" would become a
date), Office Scripts calls `range.setValues`, Office.js sets `range.values`. In all of them a
string starting with "=" becomes a formula, "+1"/"-2" become numbers, "@SUM(A1)" becomes a
formula and "00123" becomes 123. The one prefix all three honour is Excel's own text prefix,
a leading apostrophe: the cell stores the rest of the string as text (its PrefixCharacter is
"'", the value has no apostrophe) and ParseIso fails on it, so VBA does not turn it into a
date either. `addin.headless.apply_actions` honours the same prefix (openpyxl: the text
without the apostrophe, data type "s", quotePrefix style).

We prefix every non-empty string rather than guessing which ones Excel would reinterpret:
Excel's entry parser also converts "50%", "(5)", "1/2", "TRUE", "$5", "3:15", so a blacklist
would always miss something. The only cost is the quotePrefix flag on our own text cells.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal
from itertools import compress, repeat
from operator import is_

from server.scoring.messages import Message, MessageError, message

TEXT_PREFIX = "'"

_EXCEL_EPOCH = dt.datetime(1899, 12, 30)  # serial 0 in the 1900 date system (post-1900-03-01)


# C0 controls, DEL, C1 controls and lone surrogates (JSON "\ud800"): PostgreSQL refuses NUL,
# UTF-8 refuses surrogates, and none of them is text a person typed.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_LINE_BREAK = re.compile("[\t\n\r\u2028\u2029]")


def checked_text(value: str, what: str | Message = "", *, multiline: bool = True,
                 limit: int | None = None) -> str:
    """Text that may enter the database and git as it is: no control character (tab, line
    feed and carriage return only where `multiline`), at most `limit` characters (the
    String(n) column it goes to). The one text check at every edge (web forms and JSON by
    server/app.py, workbook cells by server/workbook/contract.py, adjustment reasons).

    Raises MessageError (a ValueError) worded by the catalogue; `what` names the field."""
    name = what or message("text.value")
    bad = _CONTROL.search(value)
    if bad is None and not multiline:
        bad = _LINE_BREAK.search(value)
        if bad is not None:
            raise MessageError("text.line_break", what=name)
    if bad is not None:
        raise MessageError("text.control", what=name, char=f"U+{ord(bad.group()):04X}")
    if limit is not None and len(value) > limit:
        raise MessageError("text.too_long", what=name, length=len(value), limit=limit)
    return value


def as_text(value: str) -> str:
    """The wire form of a string that every client stores as this exact text."""
    return TEXT_PREFIX + value if value else value


def from_wire_text(value: str) -> tuple[str, bool]:
    """(text to store, stored with the text prefix?) for a string received in setValues."""
    if value.startswith(TEXT_PREFIX):
        return value[1:], True
    return value, False


def excel_serial(value: dt.datetime | dt.date) -> float | int:
    """A date as an Excel 1900-system serial: the one date form every client writes as-is."""
    if not isinstance(value, dt.datetime):
        return (value - _EXCEL_EPOCH.date()).days
    delta = value.replace(tzinfo=None) - _EXCEL_EPOCH
    return delta.days + delta.seconds / 86400 + delta.microseconds / 86_400_000_000


def to_wire(value: object) -> object:
    """One Python cell value -> the JSON value a setValues action carries.

    None -> "" (clears the cell; a JSON null is ignored by Office.js but not by VBA),
    str -> as_text, datetime/date -> serial number (give the column a date number format),
    Decimal -> float, numbers/bools as they are. Anything else is written as its text.
    """
    cls = value.__class__
    if cls is str:
        return TEXT_PREFIX + value if value else value  # as_text, inlined: hot path
    if value is None:
        return ""
    if cls is int or cls is bool:
        return value
    if cls is float:
        return "" if math.isnan(value) or math.isinf(value) else value  # JSON has no NaN
    if isinstance(value, (dt.datetime, dt.date)):
        return excel_serial(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            return ""
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (int, float)):
        return to_wire(float(value)) if isinstance(value, float) else int(value)
    return as_text(str(value))


_NONE = type(None)
_NUMBERS_OR_EMPTY = frozenset({int, float, bool, _NONE})
_TEXT_OR_EMPTY = frozenset({str, _NONE})
_PLAIN = frozenset({str, int, float, bool, _NONE})
_FEW_DISTINCT_SAMPLE = 256


def _finite(values: list[object]) -> bool:
    """No NaN or infinity among these ints, floats and bools? (A finite sum at C speed
    proves it; fsum raises on inf - inf and on an intermediate overflow: then look.)"""
    try:
        return math.isfinite(math.fsum(values))  # type: ignore[arg-type]
    except (OverflowError, ValueError):
        return all(map(math.isfinite, values))  # type: ignore[arg-type]


def _blanks_as_empty_text(values: list[object]) -> list[object]:
    """A copy with "" for every None; the Nones are found at C speed."""
    out = list(values)
    for i in compress(range(len(out)), map(is_, out, repeat(None))):
        out[i] = ""
    return out


def column_to_wire(values: list[object], classes: set[type] | None = None) -> list[object]:
    """`to_wire` over a column (a new list, the same values as cell by cell), a whole column
    at a time for the columns kpibook writes: numbers with or without blanks, text with or
    without blanks, and numbers mixed with text (actuals: ratings and measures).

    `classes` (the set of value classes in the column) may be passed when already known.
    """
    if classes is None:
        classes = set(map(type, values))
    if classes <= _NUMBERS_OR_EMPTY:
        blanks = _NONE in classes
        # filter(None, ...) drops the blanks (and zeros, which are finite) at C speed
        if float not in classes or _finite(list(filter(None, values)) if blanks else values):
            return _blanks_as_empty_text(values) if blanks else list(values)
    elif classes <= _TEXT_OR_EMPTY:
        sample = values[:_FEW_DISTINCT_SAMPLE]
        if 4 * len(set(sample)) <= len(sample):  # few distinct texts (codes, names, status)
            wire = {v: TEXT_PREFIX + v if v else "" for v in set(values)}  # type: ignore
            return list(map(wire.__getitem__, values))  # C speed: one lookup per cell
        if _NONE not in classes and all(values):  # no blank text either (explanations)
            return list(map(TEXT_PREFIX.__add__, values))  # type: ignore[arg-type]
        if _NONE in classes:
            return [TEXT_PREFIX + v if v else "" for v in values]  # type: ignore[operator]
        return [TEXT_PREFIX + v if v else v for v in values]  # type: ignore[operator]
    elif classes <= _PLAIN and (float not in classes or _finite(
            [v for v in values if v.__class__ is float])):
        return [(TEXT_PREFIX + v if v else v) if v.__class__ is str  # type: ignore[operator]
                else "" if v is None else v for v in values]
    return [to_wire(v) for v in values]
