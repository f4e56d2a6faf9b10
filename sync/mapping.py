"""Records -> facts: filter, map employee keys, aggregate over the period, convert units.

Pure functions. Every record that cannot be used becomes a `RowProblem` naming the source, the
record (page/row), the field and why; nothing is dropped silently. An (employee, indicator)
whose records had a problem gets no new value (`rejected`), so the caller keeps the last good
one and marks it stale with the reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sync.config import IndicatorMap, Measure, SourceConfig

Record = Mapping[str, Any]
AT = "_at"  # record key a connector fills with the record's location (page 3 item 7, row 12)
HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class MappedFact:
    employee_id: str
    indicator: str
    field: str
    value: Decimal | str  # str for rating labels (aggregate "label")
    raw_value: str  # the aggregate as the source wrote it, before unit conversion
    unit: str
    source: str
    request: str  # what was asked of the source and how the value was computed


@dataclass(frozen=True, slots=True)
class RowProblem:
    source: str
    at: str  # record location
    field: str
    reason: str
    employee_id: str = ""
    indicator: str = ""

    def message(self) -> str:
        who = f" [{self.employee_id} {self.indicator}]".rstrip() if self.employee_id else ""
        return f"{self.source}: {self.at}: {self.field}: {self.reason}{who}"


@dataclass(slots=True)
class MapResult:
    facts: list[MappedFact] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    # (employee, indicator, field) -> reason: the source spoke about it but the value is bad
    rejected: dict[tuple[str, str, str], str] = field(default_factory=dict)


def to_decimal(value: Any) -> tuple[Decimal | None, bool]:
    """(number, written_as_percent) or (None, False). Accepts 98.8, "98.8", "98.8%",
    "1,234.5" and full-width digits; floats go through repr so 0.1 stays 0.1."""
    if value is None:
        return None, False
    if isinstance(value, bool):
        return Decimal(int(value)), False  # true/false flags count as 1/0 (e.g. reviewed)
    if isinstance(value, Decimal):
        return value, False
    if isinstance(value, int):
        return Decimal(value), False
    if isinstance(value, float):
        return (Decimal(repr(value)), False) if value == value else (None, False)
    text = str(value).strip().translate(_FULLWIDTH).replace(",", "")
    percent = text.endswith("%")
    text = text.rstrip("%").strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None, False
    return (number, percent) if number.is_finite() else (None, False)


_FULLWIDTH = str.maketrans("０１２３４５６７８９．－％，", "0123456789.-%,")


def matches(record: Record, where: Mapping[str, Any]) -> bool:
    """Every `field: wanted` holds: equal (as text), one of a list, or contained in a list
    field (labels)."""
    for key, wanted in where.items():
        got = record.get(key)
        options = {str(w) for w in wanted} if isinstance(wanted, list) else {str(wanted)}
        if isinstance(got, list | tuple | set):
            if not options & {str(g) for g in got}:
                return False
        elif str(got) not in options:
            return False
    return True


def map_records(source: SourceConfig, records: Iterable[Record], known: set[str] | None,
                request: str, subjects: Iterable[str] | None = None) -> MapResult:
    """All indicator mappings of `source` over `records`. `known`: employee ids on the roster
    (None: accept any); `subjects`: employees the source answered for (zero_fill)."""
    records = list(records)
    out = MapResult()
    keyed: list[tuple[str | None, Record]] = []
    for i, rec in enumerate(records):
        keyed.append((_employee(source, rec, i, known, out), rec))
    subject_ids = set(subjects) if subjects is not None else None
    for spec in source.indicators:
        _map_indicator(source, spec, keyed, out, request, subject_ids, known)
    return out


def _at(rec: Record, i: int) -> str:
    return str(rec.get(AT) or f"record {i + 1}")


def _employee(source: SourceConfig, rec: Record, i: int, known: set[str] | None,
              out: MapResult) -> str | None:
    raw = rec.get(source.employee_key)
    if raw is None or str(raw).strip() == "":
        out.problems.append(RowProblem(source.name, _at(rec, i), source.employee_key,
                                       "no employee key in this record"))
        return None
    key = str(raw).strip()
    if isinstance(raw, float) and raw.is_integer():
        key = str(int(raw))  # 1001.0 from a spreadsheet is staff number 1001
    emp = source.key_map.get(key, key)
    if known is not None and emp not in known:
        mapped = f" (mapped to {emp})" if emp != key else ""
        out.problems.append(RowProblem(
            source.name, _at(rec, i), source.employee_key,
            f"unknown employee {key!r}{mapped}: not on the roster and not in key_map"))
        return None
    return emp


def _map_indicator(source: SourceConfig, spec: IndicatorMap,
                   keyed: list[tuple[str | None, Record]], out: MapResult, request: str,
                   subjects: set[str] | None, known: set[str] | None) -> None:
    groups: dict[str, list[tuple[int, Record]]] = defaultdict(list)
    for i, (emp, rec) in enumerate(keyed):
        if emp is not None and matches(rec, spec.where):
            groups[emp].append((i, rec))
    for emp, rows in groups.items():
        key = (emp, spec.indicator, spec.field)
        if spec.aggregate == "label":
            _label(source, spec, emp, rows, request, out)
            continue
        try:
            raw, how = _aggregate(source, spec, rows)
        except _NoValue:
            continue  # only blank cells: the source has no value for this person
        except _Bad as bad:
            out.problems.append(RowProblem(source.name, bad.at, bad.field, bad.reason, emp,
                                           spec.indicator))
            out.rejected[key] = f"{bad.at}: {bad.field}: {bad.reason}"
            continue
        _emit(source, spec, emp, raw, how, request, out)
    if spec.zero_fill and spec.aggregate in ("count", "sum"):
        for emp in sorted((subjects if subjects is not None else known or set()) - set(groups)):
            _emit(source, spec, emp, Decimal(0), "no records", request, out)


def _emit(source: SourceConfig, spec: IndicatorMap, emp: str, raw: Decimal, how: str,
          request: str, out: MapResult) -> None:
    value = raw / HUNDRED if spec.source_unit == "percent" and spec.unit == "%" else raw
    if spec.source_unit == "fraction" and spec.unit not in ("%", ""):
        value = raw * HUNDRED  # the workbook wants points of percent (e.g. unit "pct")
    value = value * spec.scale
    key = (emp, spec.indicator, spec.field)
    if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
        reason = (f"value {_plain(value)} is outside the allowed range "
                  f"[{_plain(spec.min)}, {_plain(spec.max)}]"
                  + (" — a percent sent as a fraction or the other way round?"
                     if spec.source_unit else ""))
        out.problems.append(RowProblem(source.name, how, spec.value or spec.indicator, reason,
                                       emp, spec.indicator))
        out.rejected[key] = reason
        return
    out.facts.append(MappedFact(emp, spec.indicator, spec.field, _plain(value), _text(raw),
                                spec.unit, source.name, f"{request} | {how}"))


def _label(source: SourceConfig, spec: IndicatorMap, emp: str,
           rows: list[tuple[int, Record]], request: str, out: MapResult) -> None:
    """Rating labels (A/B/C/D, ★★★☆☆): the last non-blank text, as it is."""
    if spec.date_field:
        rows = sorted(rows, key=lambda r: str(r[1].get(spec.date_field) or ""))
    filled = [(i, r) for i, r in rows if not _blank(r.get(spec.value))]
    if not filled:
        return
    i, rec = filled[-1]
    text = str(rec.get(spec.value)).strip()
    out.facts.append(MappedFact(emp, spec.indicator, spec.field, text, text, spec.unit,
                                source.name, f"{request} | {_at(rec, i)}"))


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class _NoValue(Exception):
    pass


class _Bad(Exception):
    def __init__(self, at: str, field_name: str, reason: str) -> None:
        super().__init__(reason)
        self.at, self.field, self.reason = at, field_name, reason


def _number(source: SourceConfig, spec: IndicatorMap, i: int, rec: Record,
            field_name: str) -> Decimal:
    if spec.unit_field and spec.expect_unit:
        unit = str(rec.get(spec.unit_field) or "").strip()
        if unit not in spec.expect_unit:
            raise _Bad(_at(rec, i), spec.unit_field,
                       f"unit {unit!r} does not match the expected "
                       f"{' or '.join(repr(u) for u in spec.expect_unit)}")
    if field_name not in rec:
        raise _Bad(_at(rec, i), field_name, "field missing from the record")
    number, percent = to_decimal(rec.get(field_name))
    if number is None:
        raise _Bad(_at(rec, i), field_name, f"{rec.get(field_name)!r} is not a number")
    if percent:
        if spec.source_unit == "fraction":
            raise _Bad(_at(rec, i), field_name,
                       f"{rec.get(field_name)!r} is a percent but the source is declared to "
                       "send fractions (source_unit)")
        if spec.source_unit == "":
            number = number / HUNDRED  # "98.8%" means 0.988 when nothing else is declared
    return number


def _measure(source: SourceConfig, spec: IndicatorMap, m: Measure,
             rows: list[tuple[int, Record]]) -> tuple[Decimal, int]:
    total, n = Decimal(0), 0
    for i, rec in rows:
        if matches(rec, m.where):
            total += _number(source, spec, i, rec, m.field) if m.field else Decimal(1)
            n += 1
    return total, n


def _aggregate(source: SourceConfig, spec: IndicatorMap,
               rows: list[tuple[int, Record]]) -> tuple[Decimal, str]:
    agg, n = spec.aggregate, len(rows)
    if agg == "count":
        return Decimal(n), f"count of {n} records"
    if agg == "ratio":
        num, nn = _measure(source, spec, spec.numerator, rows)  # type: ignore[arg-type]
        den, dn = _measure(source, spec, spec.denominator, rows)  # type: ignore[arg-type]
        if den == 0:
            raise _Bad(f"{n} records", spec.denominator.field or "count",  # type: ignore[union-attr]
                       "the denominator is 0: the ratio is undefined")
        return num / den, f"ratio {_plain(num)} / {_plain(den)} ({nn} and {dn} records)"
    if agg in ("last", "first") and spec.date_field:
        rows = sorted(rows, key=lambda r: str(r[1].get(spec.date_field) or ""))
    blanks = sum(1 for _, rec in rows if spec.value in rec and _blank(rec.get(spec.value)))
    rows = [(i, rec) for i, rec in rows
            if not (spec.value in rec and _blank(rec.get(spec.value)))]
    if not rows:
        raise _NoValue
    n = len(rows)
    values = [_number(source, spec, i, rec, spec.value) for i, rec in rows]
    # blank cells are "no value", not bad data: said in the provenance, not reported
    n_text = f"{n} records" + (f", {blanks} blank skipped" if blanks else "")
    if agg == "sum":
        return sum(values, Decimal(0)), f"sum of {n_text}"
    if agg == "avg":
        return sum(values, Decimal(0)) / n, f"average of {n_text}"
    if agg == "min":
        return min(values), f"min of {n} records"
    if agg == "max":
        return max(values), f"max of {n} records"
    if agg == "first":
        return values[0], f"first of {n} records ({_at(rows[0][1], rows[0][0])})"
    return values[-1], f"last of {n} records ({_at(rows[-1][1], rows[-1][0])})"


def _plain(value: Decimal | None) -> Decimal:
    """12 significant decimals at most, no exponent, no trailing zeros (0.988, not
    0.98800000)."""
    if value is None:
        return value  # type: ignore[return-value]
    q = value.quantize(Decimal("0.000000000001")) if value.as_tuple().exponent < -12 else value
    q = q.normalize()
    return q.quantize(Decimal(1)) if q == q.to_integral() else q


def _text(value: Decimal) -> str:
    return format(_plain(value), "f")
