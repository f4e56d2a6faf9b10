"""The one reader and writer of a stored score run's lines (`score_runs.lines`).

A run's lines are stored by column (format 2): one JSON list per line field, so a
5,000-manager run is 11 lists of 50,000 values instead of 50,000 objects each repeating its
11 field names (about half the bytes, and written straight from the engine's `LineTable`
columns). Values are as they always were: Decimals as their exact text, the status as its
value, everything else as is.

    {"format": 2, "fields": ["employee_id", ...], "columns": [[...], [...], ...]}

Runs stored before migration 0015 held a list of line objects ({field: value}); the reader
still accepts that shape (a restored old backup, hand-made test data), so no caller ever
looks at the stored value itself. Totals (5,000 objects) keep their list-of-objects shape;
read them with `totals`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from enum import Enum
from operator import attrgetter
from typing import Any

from server.scoring.model import LINE_FIELDS, IndicatorScore, LineTable

FORMAT = 2
FIELDS: tuple[str, ...] = ("employee_id", "indicator", "actual", "target", "weight",
                           "base_points", "adjustment", "points", "explanation", "status",
                           "stale")
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _stored_value(v: object) -> object:
    cls = v.__class__
    if cls in _PLAIN:
        return v
    if cls is Decimal:
        return str(v)
    if isinstance(v, Enum):
        return v.value
    if isinstance(v, str):  # a str subclass orjson would not write as text
        return str(v)
    return v


def encode_lines(lines: Sequence[IndicatorScore]) -> dict[str, Any]:
    """The stored form of a result's lines, a column at a time (see the module doc)."""
    if isinstance(lines, LineTable) and LINE_FIELDS == FIELDS:
        columns = [lines.column(name) for name in FIELDS]
    else:
        columns = [list(map(attrgetter(name), lines)) for name in FIELDS]
    D, plain = Decimal, _PLAIN
    out = []
    for name, values in zip(FIELDS, columns, strict=True):
        if name in ("employee_id", "indicator", "explanation", "stale"):
            out.append([v if v.__class__ in plain else _stored_value(v) for v in values])
        elif name == "status":
            seen: dict[object, object] = {}
            out.append([seen[s] if s in seen else seen.setdefault(s, _stored_value(s))
                        for s in values])
        else:
            out.append([str(v) if v.__class__ is D else v if v.__class__ in plain
                        else _stored_value(v) for v in values])
    return {"format": FORMAT, "fields": list(FIELDS), "columns": out}


def encode_line_dicts(lines: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The stored form of lines given as objects {field: stored value} (every field)."""
    return {"format": FORMAT, "fields": list(FIELDS),
            "columns": [[ln[name] for ln in lines] for name in FIELDS]}


def _is_columnar(stored: object) -> bool:
    return isinstance(stored, dict) and stored.get("format") == FORMAT


def line_columns(stored: object) -> dict[str, list]:
    """Field -> its stored values, one per line, in the run's line order (every field of
    FIELDS, empty lists when nothing is stored). Accepts both stored shapes."""
    if _is_columnar(stored):
        columns = dict(zip(stored["fields"], stored["columns"], strict=True))  # type: ignore[index]
        n = len(next(iter(columns.values()), []))
        return {name: columns.get(name, [None] * n) for name in FIELDS}
    rows = [ln for ln in stored if isinstance(ln, dict)] if isinstance(stored, list) else []
    return {name: [ln.get(name) for ln in rows] for name in FIELDS}


def line_dicts(stored: object) -> list:
    """The lines as objects {field: stored value}, in the run's order. An old run's list is
    returned as stored (malformed entries included: `kpibook verify` reports them)."""
    if _is_columnar(stored):
        fields = stored["fields"]  # type: ignore[index]
        return [dict(zip(fields, row, strict=True))
                for row in zip(*stored["columns"], strict=True)]  # type: ignore[index]
    return list(stored) if isinstance(stored, list) else []


def line_count(stored: object) -> int:
    if _is_columnar(stored):
        columns = stored["columns"]  # type: ignore[index]
        return len(columns[0]) if columns else 0
    return len(stored) if isinstance(stored, list) else 0


def lines(run: object) -> list:
    """A ScoreRun's lines as objects (see `line_dicts`)."""
    return line_dicts(getattr(run, "lines", None))


def totals(run: object) -> list:
    """A ScoreRun's totals (or a row with its `totals` column) as stored: one object per
    employee."""
    return total_dicts(getattr(run, "totals", None))


def total_dicts(stored: object) -> list:
    """Stored totals (the `score_runs.totals` value) as a list of objects."""
    return list(stored) if isinstance(stored, list) else []


def to_rows_format(stored: object) -> list:
    """The pre-0015 shape (a list of line objects): for the migration's downgrade."""
    return line_dicts(stored)
