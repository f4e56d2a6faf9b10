"""Source facts: storing what the sources delivered and writing it into kb_data (Pull)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Period, SourceFact
from server.services.simulator import SimFact
from server.services.workbook import Workbook, cell_value
from server.xlwire.plan import TableWrite, WritePlan

DATA_COLUMNS = ["employee_id", "indicator", "field", "value", "unit", "source", "period",
                "fetched_at", "status", "provenance"]

STATUS_WORDS = {
    "zh": {"ok": "已获取", "stale": "过期（沿用上次数据）", "manual": "手工录入"},
    "en": {"ok": "fetched", "stale": "stale (last good value kept)", "manual": "entered by hand"},
}


def store_facts(session: Session, period: Period, facts: Iterable[SimFact], fetched_by: str,
                when: dt.datetime | None = None) -> int:
    """Insert or update facts by (employee, indicator, field); returns how many were stored."""
    when = when or dt.datetime.now(dt.UTC)
    existing = {(f.employee_id, f.indicator, f.field): f for f in facts_for(session, period)}
    n = 0
    for fact in facts:
        row = existing.get((fact.employee_id, fact.indicator, fact.field))
        if row is None:
            row = SourceFact(period_id=period.id, employee_id=fact.employee_id,
                             indicator=fact.indicator, field=fact.field)
            session.add(row)
        row.source = fact.source
        row.raw_value = str(fact.value)
        row.value_num = fact.value if isinstance(fact.value, Decimal) else None
        row.value_text = None if isinstance(fact.value, Decimal) else str(fact.value)
        row.unit = fact.unit
        row.fetched_at = when
        row.fetched_by = fetched_by
        row.request = fact.request
        row.stale = fact.stale
        n += 1
    session.flush()
    return n


def facts_for(session: Session, period: Period) -> list[SourceFact]:
    return list(session.scalars(
        select(SourceFact).where(SourceFact.period_id == period.id)
        .order_by(SourceFact.id)).all())


def _provenance(f: SourceFact) -> str:
    parts = [f.source]
    if f.request:
        parts.append(f.request)
    if f.fetched_by:
        parts.append(f"by {f.fetched_by}")
    if f.raw_value is not None and f.raw_value != str(cell_value(f.value)):
        parts.append(f"raw {f.raw_value}")
    return " | ".join(parts)


def pull_plan(wb: Workbook, period: Period, facts: list[SourceFact], lang: str) -> WritePlan:
    """kb_data rewritten from the stored facts; rows HR typed for values the server does not
    have (e.g. manual items) are kept below them."""
    words = STATUS_WORDS.get(lang, STATUS_WORDS["en"])
    rows: list[list[object]] = []
    served = set()
    fills: list[str | None] = []
    for f in facts:
        served.add((f.employee_id, f.indicator, f.field or "actual"))
        rows.append([f.employee_id, f.indicator, f.field or "actual", cell_value(f.value),
                     f.unit, f.source, period.code, cell_value(f.fetched_at),
                     words["stale"] if f.stale else words["ok"], _provenance(f)])
        fills.append("#FFF2CC" if f.stale else None)  # stale values stand out in yellow
    frame = wb.tables.get("kb_data")
    if frame is not None:
        for i in range(len(frame.frame)):
            key = (str(frame.value(i, "employee_id") or "").strip(),
                   str(frame.value(i, "indicator") or "").strip(),
                   str(frame.value(i, "field") or "").strip() or "actual")
            if not key[0] or not key[1] or key in served:
                continue
            kept = [frame.value(i, c) for c in DATA_COLUMNS]
            kept[DATA_COLUMNS.index("status")] = kept[DATA_COLUMNS.index("status")] or \
                words["manual"]
            rows.append(kept)
            fills.append(None)
    n = len(facts)
    stale = sum(1 for f in facts if f.stale)
    if lang == "zh":
        msg = f"已为期间 {period.code} 写入 {n} 条源数据" + (f"，其中 {stale} 条过期。" if stale
                                                             else "。")
        title = "获取数据"
    else:
        msg = f"Wrote {n} source values for period {period.code}" + (
            f"; {stale} are stale." if stale else ".")
        title = "Pull"
    return WritePlan(
        tables=[TableWrite("kb_data", list(DATA_COLUMNS), rows,
                           row_fills=fills,
                           text_columns=frozenset({"employee_id", "indicator", "field", "source",
                                                   "status", "provenance", "unit"}))],
        meta={"pulled_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")},
        alert=(msg, title),
        activate_table="kb_data",
    )
