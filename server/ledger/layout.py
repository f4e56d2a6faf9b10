"""Where things live in the history repository and how each file is written.

Every file is UTF-8, LF-terminated, in a stable order, one line per cell, so that `git diff`
shows changed cells and `git blame` names who set each cell::

    periods/<period>/state.json                          period status (open/approved ...)
    periods/<period>/rules.json                          rules snapshot of the last (re)score
    periods/<period>/employees.tsv                       employee_id  name  department
    periods/<period>/totals.tsv                          employee_id  total  grade  rank  group_rank
    periods/<period>/adjustments/<shard>/<employee>.tsv  indicator  points  reason
    periods/<period>/scores/<shard>/<employee>.tsv       indicator  base  adjustment  points

`<shard>` is the first two hex digits of sha1(employee_id): a commit that touches one
employee rewrites one small blob and five small trees, whatever the size of the period.
Text fields escape backslash, tab, CR and LF as ``\\\\ \\t \\r \\n`` so one cell stays one line.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from urllib.parse import quote, unquote

from .model import CellValue, Editor, EmployeeInfo, ScoreLine, Stamp, TotalLine

ROOT = "periods"
ADJUSTMENTS = "adjustments"
SCORES = "scores"
TOTALS = "totals.tsv"
EMPLOYEES = "employees.tsv"
STATE = "state.json"
RULES = "rules.json"
MISSING = "-"  # an absent number in a file or trailer

_PERIOD = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,39}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SAFE_NAME = "-_."  # plus ASCII letters and digits; everything else is percent-encoded


class LayoutError(ValueError):
    """A period, employee id or indicator code that cannot be stored safely."""


def check_period(period: str) -> str:
    if not _PERIOD.match(period):
        raise LayoutError(f"period code {period!r}: letters, digits, '-', '_', '.' only")
    return period


def check_code(kind: str, code: str) -> str:
    """Employee ids and indicator codes are keys: non-empty, no control characters."""
    if not code or _CONTROL.search(code) or code != code.strip():
        raise LayoutError(f"{kind} {code!r}: empty, padded or containing control characters")
    return code


def period_dir(period: str) -> str:
    return f"{ROOT}/{check_period(period)}"


def shard_of(employee_id: str) -> str:
    return hashlib.sha1(employee_id.encode("utf-8")).hexdigest()[:2]


def employee_filename(employee_id: str) -> str:
    # Percent-encoding keeps ids like "A/1" or "..": a file name, never a path.
    name = quote(check_code("employee id", employee_id), safe=_SAFE_NAME)
    if name.startswith("."):
        name = "%2E" + name[1:]
    return name + ".tsv"


def employee_from_filename(name: str) -> str:
    return unquote(name.removesuffix(".tsv"))


def adjustments_path(period: str, employee_id: str) -> str:
    return (f"{period_dir(period)}/{ADJUSTMENTS}/{shard_of(employee_id)}/"
            f"{employee_filename(employee_id)}")


def scores_path(period: str, employee_id: str) -> str:
    return f"{period_dir(period)}/{SCORES}/{shard_of(employee_id)}/{employee_filename(employee_id)}"


# ---- values ----------------------------------------------------------------------------

def format_points(value: Decimal | None, *, signed: bool = False) -> str:
    """Canonical text of a number: at least two decimals, no exponent ("1.50", "+2.00")."""
    if value is None:
        return MISSING
    try:
        # The text depends on the value only (1.5 == 1.50 -> "1.50"), and a Score writes
        # ~150,000 numbers with few distinct values: formatting them once each is 10x faster.
        return _format_cached(value, signed)
    except TypeError:  # a signalling NaN cannot be hashed
        return _format_points(value, signed)


@functools.lru_cache(maxsize=1 << 16)
def _format_cached(value: Decimal, signed: bool) -> str:
    return _format_points(value, signed)


def _format_points(value: Decimal, signed: bool) -> str:
    if not value.is_finite():
        raise LayoutError(f"number {value} is not finite")
    normal = value.normalize()
    if normal.as_tuple().exponent > -2:  # type: ignore[operator]
        normal = normal.quantize(Decimal("0.01"))
    if normal == 0:
        normal = abs(normal)  # no "-0.00"
    text = format(normal, "f")
    return f"+{text}" if signed and normal > 0 else text


def parse_points(text: str) -> Decimal | None:
    if text == MISSING:
        return None
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise LayoutError(f"not a number: {text!r}") from exc


def _parse_int(text: str) -> int | None:
    return None if text == MISSING else int(text)


def escape_text(text: str) -> str:
    return (text.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r")
            .replace("\n", "\\n"))


_UNESCAPE = {"\\": "\\", "t": "\t", "r": "\r", "n": "\n"}
_ESCAPED = re.compile(r"\\(.?)", re.S)


def _unescape_one(m: re.Match[str]) -> str:
    ch = m.group(1)
    return _UNESCAPE.get(ch, "\\" + ch)


def unescape_text(text: str) -> str:
    if "\\" not in text:
        return text
    return _ESCAPED.sub(_unescape_one, text)


def _optional_text(value: str | None) -> str:
    return MISSING if value is None else escape_text(value)


def _parse_optional_text(text: str) -> str | None:
    return None if text == MISSING else unescape_text(text)


def _lines(data: bytes) -> list[list[str]]:
    return [line.split("\t") for line in data.decode("utf-8").split("\n") if line]


# ---- files -----------------------------------------------------------------------------

def dump_adjustments(cells: Mapping[str, tuple[CellValue, Stamp]]) -> bytes:
    """One employee's adjustments, sorted by indicator, one line per cell:
    `indicator<TAB>points<TAB>reason<TAB>editor <email><TAB>UTC time<TAB>submission id`.

    The stamp repeats what `git blame` would say, so a diff between distant versions names
    who made each value without walking the history.
    """
    return "".join(
        f"{check_code('indicator', code)}\t{format_points(v.points, signed=True)}\t"
        f"{escape_text(v.reason)}\t{escape_text(st.editor.name)} <{escape_text(st.editor.email)}>"
        f"\t{st.when.astimezone(dt.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}\t"
        f"{escape_text(st.submission_id)}\n"
        for code, (v, st) in sorted(cells.items())).encode("utf-8")


@functools.lru_cache(maxsize=4096)
def _editor(who: str) -> Editor:
    name, _, email = unescape_text(who).rpartition(" <")
    return Editor(name, email.removesuffix(">"))


@functools.lru_cache(maxsize=65536)
def _stamp_time(when: str) -> dt.datetime:
    # "2026-11-28T16:22:55Z"; fromisoformat is C code (strptime is ~30x slower)
    return dt.datetime.fromisoformat(when.replace("Z", "+00:00")).astimezone(dt.UTC)


@functools.lru_cache(maxsize=1 << 16)
def _adjustment_line(line: str) -> tuple[str, tuple[CellValue, Stamp | None]]:
    """One parsed adjustments line. Memoised by its text: a file's versions differ in one or
    a few lines, so a diff or a state between far-apart versions re-reads mostly lines seen
    before (the values are frozen, so sharing them is safe)."""
    fields = line.split("\t")
    code, points, reason = fields[:3]
    stamp = None
    if len(fields) >= 6:
        who, when, sub = fields[3:6]
        stamp = Stamp(_editor(who), _stamp_time(when), unescape_text(sub))
    return code, (CellValue(Decimal(points), unescape_text(reason)), stamp)


def load_adjustment_lines(data: bytes) -> dict[str, tuple[CellValue, Stamp | None]]:
    return dict(_adjustment_line(line) for line in data.decode("utf-8").split("\n") if line)


def load_adjustments(data: bytes) -> dict[str, CellValue]:
    """The cells of an adjustments file without their stamps (cheaper to parse)."""
    out: dict[str, CellValue] = {}
    for fields in _lines(data):
        out[fields[0]] = CellValue(Decimal(fields[1]), unescape_text(fields[2]))
    return out


def dump_scores(lines: Mapping[str, ScoreLine]) -> bytes:
    # A Score writes 50,000 lines with few distinct codes and few distinct (base,
    # adjustment, points) triples: each is checked or formatted once (3x faster).
    return "".join([f"{_checked_indicator(code)}{_score_fields(s)}"
                    for code, s in sorted(lines.items())]).encode("utf-8")


@functools.lru_cache(maxsize=1 << 12)
def _checked_indicator(code: str) -> str:
    return check_code("indicator", code)


def _score_fields(line: ScoreLine) -> str:
    """'\t<base>\t<adjustment>\t<points>\n': the text depends on the values only."""
    try:
        return _score_fields_cached(line)
    except TypeError:  # a signalling NaN cannot be hashed (format_points refuses it)
        return _format_score_fields(line)


def _format_score_fields(line: ScoreLine) -> str:
    return (f"\t{format_points(line.base)}\t{format_points(line.adjustment, signed=True)}\t"
            f"{format_points(line.points)}\n")


_score_fields_cached = functools.lru_cache(maxsize=1 << 16)(_format_score_fields)


def load_scores(data: bytes) -> dict[str, ScoreLine]:
    out: dict[str, ScoreLine] = {}
    for code, base, adjustment, points in _lines(data):
        out[code] = ScoreLine(parse_points(base), Decimal(adjustment), parse_points(points))
    return out


def dump_totals(totals: Mapping[str, TotalLine]) -> bytes:
    return "".join(
        f"{check_code('employee id', emp)}\t{format_points(t.total)}\t{_optional_text(t.grade)}\t"
        f"{MISSING if t.rank is None else t.rank}\t"
        f"{MISSING if t.group_rank is None else t.group_rank}\n"
        for emp, t in sorted(totals.items())).encode("utf-8")


def load_totals(data: bytes) -> dict[str, TotalLine]:
    return {emp: TotalLine(parse_points(total), _parse_optional_text(grade), _parse_int(rank),
                           _parse_int(group_rank))
            for emp, total, grade, rank, group_rank in _lines(data)}


def dump_employees(employees: Mapping[str, EmployeeInfo]) -> bytes:
    return "".join(
        f"{check_code('employee id', emp)}\t{escape_text(e.name)}\t{escape_text(e.department)}\n"
        for emp, e in sorted(employees.items())).encode("utf-8")


def load_employees(data: bytes) -> dict[str, EmployeeInfo]:
    return {emp: EmployeeInfo(unescape_text(name), unescape_text(dept))
            for emp, name, dept in _lines(data)}


def dump_json(value: Mapping[str, object]) -> bytes:
    """Sorted keys, two-space indent, real UTF-8: one setting per line for diff and blame."""
    return (json.dumps(value, ensure_ascii=False, sort_keys=True, indent=2, default=str)
            + "\n").encode("utf-8")


def load_json(data: bytes) -> dict[str, object]:
    return json.loads(data.decode("utf-8"))
