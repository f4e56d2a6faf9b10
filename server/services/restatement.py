"""Restatement preview: what the values a source delivered since the last Score would change.

A source may restate a month that was already scored (late bookings, a corrected export); a
scheduled pull stores the new values as source facts, but the period's scores stay those of
its inputs of record (docs/records.md) until HR decides. Before that, HR sees here what a
Score with the new values would change: which values (person, indicator, old -> new), which
score lines ("12 scores would change") and each person's total before -> after — both sides
computed by the engine (`runs.score_with_record`: the inputs of record with the
adjustments of record), never estimated here. Nothing is stored: HR applies the values with
the normal Pull + Score in the workbook, which scores exactly the "after" side.

Read-only; only the people the caller may see (records.visible_people).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import display
from server.models import Period, ScoreRun, SourceFact, User
from server.scoring.messages import msg
from server.scoring.model import Fact, ValidationError
from server.services import records

MAX_SHOWN = 500  # rows of each list an answer carries; the counts are always complete


@dataclass(slots=True)
class ValueChange:
    employee_id: str
    name: str
    indicator: str
    field: str
    old: str  # as the record has it ("" = no value in the record)
    new: str
    source: str
    fetched_at: dt.datetime | None
    fetched_by: str
    unit: str = ""  # the rule's: "%" means the values are fractions (shown 85.50%)

    def shown(self, value: str) -> str:
        """A value as people read it, in the rule's unit ("—" for none)."""
        if not value:
            return "—"
        text = display.measure(value, self.unit)
        if self.unit and not display.is_percent(self.unit) and \
                display.decimal_or_none(value) is not None:
            text += f" {self.unit}"
        return text


@dataclass(slots=True)
class LineChange:
    employee_id: str
    name: str
    indicator: str
    old_points: Decimal | None
    new_points: Decimal | None


@dataclass(slots=True)
class TotalChange:
    employee_id: str
    name: str
    before: Decimal | None
    after: Decimal | None
    grade_before: str | None = None
    grade_after: str | None = None


@dataclass(slots=True)
class Restatement:
    """The preview for one period; empty lists: the sources agree with what was scored."""

    period: str
    values: list[ValueChange] = field(default_factory=list)
    lines: list[LineChange] = field(default_factory=list)
    totals: list[TotalChange] = field(default_factory=list)
    error: str = ""  # the engine refused the new values (the Score would too)

    @property
    def changed(self) -> bool:
        return bool(self.values)

    def as_dict(self) -> dict[str, object]:
        def num(x: Decimal | None) -> str | None:
            return None if x is None else display.number(x)

        return {"period": self.period, "values_changed": len(self.values),
                "scores_changed": len(self.lines), "totals_changed": len(self.totals),
                "error": self.error,
                "values": [{**dataclasses.asdict(v), "fetched_at": v.fetched_at.isoformat()
                            if v.fetched_at else None} for v in self.values[:MAX_SHOWN]],
                "lines": [{"employee_id": ln.employee_id, "name": ln.name,
                           "indicator": ln.indicator, "old_points": num(ln.old_points),
                           "new_points": num(ln.new_points)} for ln in self.lines[:MAX_SHOWN]],
                "totals": [{"employee_id": t.employee_id, "name": t.name,
                            "before": num(t.before), "after": num(t.after),
                            "grade_before": t.grade_before, "grade_after": t.grade_after}
                           for t in self.totals[:MAX_SHOWN]]}


def _shown(value: Decimal | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def _same(a: Decimal | str | None, b: Decimal | str | None) -> bool:
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return a == b
    return _shown(a) == _shown(b)


def restatement_preview(session: Session, period: Period, user: User, lang: str
                        ) -> Restatement | None:
    """What a Score with the stored source facts would change against the inputs of record;
    None when the period was never scored (nothing to restate)."""
    from server.services.runs import score_with_record

    found = records.current(session, period)
    has_run = session.scalar(select(ScoreRun.id).where(ScoreRun.period_id == period.id)
                             .limit(1))
    if found is None or has_run is None:
        return None
    _row, record = found
    out = Restatement(period.code)
    people = {e.employee_id: e for e in record.employees}
    codes = {i.code for i in record.rules.indicators}
    visible = records.visible_people(user, record)
    units = {i.code: i.unit or "" for i in record.rules.indicators}
    had = {(f.employee_id, f.indicator, f.field or "actual"): f for f in record.facts}
    new_facts: list[Fact] = []
    t = SourceFact
    # columns, not ORM objects: a Pull of 5,000 managers reads 25,000 facts here again
    for sf in session.execute(select(
            t.employee_id, t.indicator, t.field, t.value_num, t.value_text, t.source, t.stale,
            t.fetched_at, t.fetched_by, t.unit).where(t.period_id == period.id)
            .order_by(t.id)):
        key = (sf.employee_id, sf.indicator, sf.field or "actual")
        value = sf.value_num if sf.value_num is not None else sf.value_text
        if value is None or sf.employee_id not in people or sf.indicator not in codes:
            continue  # what a Score would not take either (not on the record's roster/rules)
        old = had.get(key)
        if old is not None and _same(old.value, value):
            continue
        new_facts.append(Fact(sf.employee_id, sf.indicator, value, key[2], sf.source,
                              bool(sf.stale)))
        if visible is None or sf.employee_id in visible:
            out.values.append(ValueChange(
                sf.employee_id, people[sf.employee_id].name, sf.indicator, key[2],
                _shown(old.value) if old is not None else "", _shown(value), sf.source,
                sf.fetched_at, sf.fetched_by, units.get(sf.indicator) or sf.unit or ""))
    if not new_facts:
        return out
    trial = dataclasses.replace(record, facts=records.with_data(record, new_facts))
    try:
        _inp, before = score_with_record(session, period, record, lang)
        _inp, after = score_with_record(session, period, trial, lang)
    except ValidationError as exc:
        out.error = "\n".join(p.message for p in exc.problems[:20]) if getattr(
            exc, "problems", None) else str(exc)
        return out
    old_lines = {(ln.employee_id, ln.indicator): ln.points for ln in before.lines}
    for ln in after.lines:
        if visible is not None and ln.employee_id not in visible:
            continue
        was = old_lines.get((ln.employee_id, ln.indicator))
        if was != ln.points:
            out.lines.append(LineChange(ln.employee_id, people[ln.employee_id].name,
                                        ln.indicator, was, ln.points))
    old_totals = {e.employee_id: e for e in before.employees}
    for e in after.employees:
        if visible is not None and e.employee_id not in visible:
            continue
        was = old_totals.get(e.employee_id)
        if was is None or was.total != e.total or was.grade != e.grade:
            out.totals.append(TotalChange(e.employee_id, people[e.employee_id].name,
                                          was.total if was else None, e.total,
                                          was.grade if was else None, e.grade))
    return out


def summary(preview: Restatement | None, lang: str, tz: str = display.DEFAULT_TIMEZONE,
            limit: int = 15) -> str:
    """The preview in words for the workbook's Pull alert ("" when nothing would change)."""
    if preview is None or not preview.changed:
        return ""
    if preview.error:
        return msg("restated.refused", lang, n=len(preview.values), error=preview.error)
    lines = [msg("restated.summary", lang, scores=len(preview.lines),
                 totals=len(preview.totals))]
    points = {(ln.employee_id, ln.indicator): ln for ln in preview.lines}
    for v in preview.values[:limit]:
        ln = points.get((v.employee_id, v.indicator))
        text = f"· {v.employee_id} {v.name} {v.indicator}: {v.shown(v.old)} → {v.shown(v.new)}"
        if ln is not None:
            text += msg("restated.points", lang, before=display.number(ln.old_points),
                        after=display.number(ln.new_points))
        if v.fetched_at is not None:
            text += f" [{v.source}, {display.local_time(v.fetched_at, tz)}]"
        lines.append(text)
    if len(preview.values) > limit:
        lines.append(msg("facts.more_problems", lang, n=len(preview.values) - limit))
    for t in preview.totals[:limit]:
        lines.append(f"· {t.employee_id} {t.name} " + msg(
            "restated.total", lang, before=display.number(t.before),
            after=display.number(t.after)))
    return "\n".join(lines)
