"""The one reader and writer of a stored score run's lines (`score_runs.lines`).

A run's lines are stored by column (format 3), each column in the most compact of a few
shapes, so that neither writing nor reading a 5,000-manager run (50,000 lines x 11 fields)
converts or repeats what the engine shares between lines (weights, targets, the zero
adjustment, the ten indicator codes, a few thousand distinct explanations):

    {"format": 3, "fields": ["employee_id", ...], "n": 50000, "columns": [column, ...]}

where each column is one of

    [v, v, ...]                             every line's value
    {"values": [v, ...], "index": [i, ...]}  line k's value is values[index[k]]
    {"all": v}                               every line's value is v
    {"like": "base_points", "except": [[k, v], ...]}
                                             another (earlier) column's values, except at
                                             lines k (a line's points are its base points
                                             unless it was adjusted)

Values are as they always were: Decimals as their exact text, the status as its value,
everything else as is. Which shape a column takes is the writer's choice (it may change);
the reader accepts every one of them, so no caller ever looks at the stored value itself.

Older runs read the same: format 2 (one plain list per field, from migration 0015 until
format 3) and, before 0015, a list of line objects ({field: value}; a restored old backup,
hand-made test data). Migration 0019's downgrade writes format 3 back as format 2. Totals
(5,000 objects) keep their list-of-objects shape; read them with `totals`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from enum import Enum
from itertools import compress, repeat
from operator import attrgetter, is_, is_not
from typing import Any

from server.scoring.model import LINE_FIELDS, IndicatorScore, LineTable

FORMAT = 3
_FORMATS = (2, 3)
FIELDS: tuple[str, ...] = ("employee_id", "indicator", "actual", "target", "weight",
                           "base_points", "adjustment", "points", "explanation", "status",
                           "stale")
# column -> the earlier column it usually repeats, object for object
_LIKE = {"points": "base_points"}
_PLAIN = frozenset({str, int, float, bool, type(None)})
_SAMPLE, _LONG = 256, 24  # text columns whose first lines average 24 characters are "long"


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


def _stored_list(values: list) -> list:
    D, plain = Decimal, _PLAIN
    return [str(v) if (c := v.__class__) is D else v if c in plain else _stored_value(v)
            for v in values]


def _encoded(values: list, like: list | None, like_name: str | None) -> object:
    """The shape of one column (module doc) that costs least to write, at C speed but for
    the values it converts: one object on every line (the zero adjustment, `stale`), another
    column's objects but for a few lines (points), else every value. (A dictionary of the
    distinct objects would shrink the text, but finding them by `id` costs more CPU than
    converting every Decimal; the reader accepts that shape all the same.)"""
    n = len(values)
    if not n:
        return []
    first = values[0]
    if all(map(is_, values, repeat(first))):
        return {"all": _stored_value(first)}
    if like is not None:
        differs = list(map(is_not, values, like))
        if 4 * sum(differs) <= n:
            return {"like": like_name,
                    "except": [[k, _stored_value(values[k])] for k in compress(range(n),
                                                                                differs)]}
    if first.__class__ is Decimal:  # numbers: Decimals (None where there is none)
        return _stored_list(values)
    kinds = set(map(type, values))
    if kinds == {str} and sum(map(len, values[:_SAMPLE])) >= _LONG * len(values[:_SAMPLE]):
        # long text (explanations, ~4 MB at 5,000 managers): each distinct text once (by
        # value: a str hashes cheaply), when lines repeat it
        codes = dict.fromkeys(values)
        if 2 * len(codes) <= n:
            for code, text in enumerate(codes):
                codes[text] = code
            return {"values": list(codes), "index": list(map(codes.__getitem__, values))}
    if kinds <= _PLAIN:  # text, booleans, None: written as they are
        return list(values)
    if len(kinds) == 1 and issubclass(first.__class__, Enum):  # the status: a few members
        of = {v: _stored_value(v) for v in set(values)}
        return list(map(of.__getitem__, values))
    return _stored_list(values)


def encode_lines(lines: Sequence[IndicatorScore]) -> dict[str, Any]:
    """The stored form of a result's lines, a column at a time (see the module doc)."""
    if isinstance(lines, LineTable) and LINE_FIELDS == FIELDS:
        columns = [lines.column(name) for name in FIELDS]
    else:
        columns = [list(map(attrgetter(name), lines)) for name in FIELDS]
    by_name = dict(zip(FIELDS, columns, strict=True))
    out = [_encoded(values, by_name.get(_LIKE.get(name, "")), _LIKE.get(name))
           for name, values in zip(FIELDS, columns, strict=True)]
    return {"format": FORMAT, "fields": list(FIELDS), "n": len(lines), "columns": out}


def encode_line_dicts(lines: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The stored form of lines given as objects {field: stored value} (every field)."""
    return {"format": FORMAT, "fields": list(FIELDS), "n": len(lines),
            "columns": [[ln[name] for ln in lines] for name in FIELDS]}


def _is_columnar(stored: object) -> bool:
    return isinstance(stored, dict) and stored.get("format") in _FORMATS


def _decoded(stored: dict) -> dict[str, list]:
    """A columnar run's columns as plain lists, field -> values, in stored field order."""
    fields, encoded = stored["fields"], stored["columns"]
    n = stored.get("n")
    if n is None:  # format 2 (plain lists only)
        n = len(encoded[0]) if encoded else 0
    out: dict[str, list] = {}
    for name, column in zip(fields, encoded, strict=True):
        if isinstance(column, list):
            out[name] = column
        elif "index" in column:
            out[name] = list(map(column["values"].__getitem__, column["index"]))
        elif "all" in column:
            out[name] = [column["all"]] * n
        else:
            values = list(out[column["like"]])
            for k, v in column["except"]:
                values[k] = v
            out[name] = values
    return out


def line_columns(stored: object) -> dict[str, list]:
    """Field -> its stored values, one per line, in the run's line order (every field of
    FIELDS, empty lists when nothing is stored). Accepts every stored shape."""
    if _is_columnar(stored):
        columns = _decoded(stored)  # type: ignore[arg-type]
        n = line_count(stored)
        return {name: columns.get(name, [None] * n) for name in FIELDS}
    rows = [ln for ln in stored if isinstance(ln, dict)] if isinstance(stored, list) else []
    return {name: [ln.get(name) for ln in rows] for name in FIELDS}


def line_dicts(stored: object) -> list:
    """The lines as objects {field: stored value}, in the run's order. An old run's list is
    returned as stored (malformed entries included: `kpibook verify` reports them)."""
    if _is_columnar(stored):
        columns = _decoded(stored)  # type: ignore[arg-type]
        fields = list(columns)
        return [dict(zip(fields, row, strict=True))
                for row in zip(*columns.values(), strict=True)]
    return list(stored) if isinstance(stored, list) else []


def line_count(stored: object) -> int:
    if _is_columnar(stored):
        n = stored.get("n")  # type: ignore[union-attr]
        if n is not None:
            return int(n)
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
