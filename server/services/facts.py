"""Source facts: storing what the sources delivered and writing it into kb_data (Pull)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.display import local_time
from server.models import Period, SourceFact
from server.scoring.messages import msg
from server.services.simulator import SimFact
from server.services.workbook import Workbook, cell_value
from server.xlwire.plan import TableWrite, WritePlan

DATA_COLUMNS = ["employee_id", "indicator", "field", "value", "unit", "source", "period",
                "fetched_at", "status", "provenance"]

STATUS_WORDS = {
    "zh": {"ok": "已获取", "stale": "过期", "manual": "手工录入"},
    "en": {"ok": "fetched", "stale": "stale", "manual": "entered by hand"},
}
STALE_FILL = "#FFE699"  # amber: a kept value whose source failed stands out
MAX_ALERT_PROBLEMS = 15


def status_text(f: SourceFact, lang: str, tz: str = "UTC") -> str:
    """"stale / <why>; value from <when>" — the part before " / " is the word the workbook
    contract recognises as stale (過期/stale), the rest says why to the people reading it.
    `when` in the time zone `tz` (the web page passes the company's)."""
    words = STATUS_WORDS.get(lang, STATUS_WORDS["en"])
    if not f.stale:
        return words["ok"]
    when = local_time(f.fetched_at, tz) or "?"
    why = (f.error or "").strip()
    if why:
        return msg("facts.stale_because", lang, stale=words["stale"], why=why, when=when)
    return msg("facts.stale", lang, stale=words["stale"], when=when)


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


def fact_anchor(f: SourceFact) -> str:
    return f"fact-{f.employee_id}-{f.indicator}-{f.field or 'actual'}"


def pulled_words(f: SourceFact, lang: str, tz: str) -> str:
    """When and by whom the value was last pulled, in the company's time zone with its offset
    (the reader of a workbook cell has no page saying which zone): "pulled 2026-10-31
    08:30 UTC+08:00 by schedule" / "获取于 …（schedule）"."""
    when = local_time(f.fetched_at, tz, zone_label=True) or "?"
    if f.fetched_by:
        return msg("facts.pulled_by", lang, when=when, who=f.fetched_by)
    return msg("facts.pulled", lang, when=when)


def _provenance(f: SourceFact, base_url: str = "", period_code: str = "", lang: str = "en",
                tz: str = "Asia/Shanghai") -> str:
    parts = [f.source]
    if f.request:
        parts.append(f.request)
    parts.append(pulled_words(f, lang, tz))
    if f.raw_value is not None and f.raw_value != str(cell_value(f.value)):
        parts.append(f"raw {f.raw_value}")
    if base_url and period_code:
        parts.append(f"{base_url.rstrip('/')}/sync/{period_code}#{fact_anchor(f)}")
    return " | ".join(parts)


def pull_plan(wb: Workbook, period: Period, facts: list[SourceFact], lang: str,
              report: object | None = None, base_url: str = "", restated: str = "",
              tz: str = "Asia/Shanghai") -> WritePlan:
    """kb_data rewritten from the stored facts; rows HR typed for values the server does not
    have (e.g. manual items) are kept below them. `report` (a PullReport) adds what each
    source did, failures and row problems to the alert; `restated` what the new values would
    change in a period already scored (server/services/restatement.py `summary`). `tz`: the
    company's time zone, in which each row's provenance says when it was pulled."""
    words = STATUS_WORDS.get(lang, STATUS_WORDS["en"])
    rows: list[list[object]] = []
    served = set()
    fills: list[str | None] = []
    # Facts for people or indicators this workbook does not have would make Score refuse the
    # whole workbook: they stay on the server (web page) and the alert counts them.
    codes, people = workbook_keys(wb)
    left_out = [f for f in facts if (codes and f.indicator not in codes)
                or (people and f.employee_id not in people)]
    if left_out:
        skip = {id(f) for f in left_out}
        facts = [f for f in facts if id(f) not in skip]
    for f in facts:
        served.add((f.employee_id, f.indicator, f.field or "actual"))
        rows.append([f.employee_id, f.indicator, f.field or "actual", cell_value(f.value),
                     f.unit, f.source, period.code, local_time(f.fetched_at, tz),
                     status_text(f, lang, tz), _provenance(f, base_url, period.code, lang, tz)])
        fills.append(STALE_FILL if f.stale else None)
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
    text = msg("facts.wrote_stale", lang, n=n, period=period.code, stale=stale) if stale else \
        msg("facts.wrote", lang, n=n, period=period.code)
    if left_out:
        text += msg("facts.left_out", lang, n=len(left_out))
    if report is not None:
        text += "\n" + pull_summary(report, lang)
    if restated:
        text += "\n\n" + restated
    return WritePlan(
        tables=[TableWrite("kb_data", list(DATA_COLUMNS), rows,
                           row_fills=fills,
                           text_columns=frozenset({"employee_id", "indicator", "field", "source",
                                                   "status", "provenance", "unit"}))],
        meta={"pulled_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")},
        alert=(text, msg("facts.pull_title", lang)),
        activate_table="kb_data",
    )


def workbook_keys(wb: Workbook) -> tuple[set[str], set[str]]:
    """Indicator codes of kb_rules and employee ids of kb_roster (empty: not known)."""
    out: list[set[str]] = []
    for table, column in (("kb_rules", "code"), ("kb_roster", "employee_id")):
        frame = wb.tables.get(table)
        keys: set[str] = set()
        if frame is not None:
            for i in range(len(frame.frame)):
                value = frame.value(i, column)
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                if value is not None and str(value).strip():
                    keys.add(str(value).strip())
        out.append(keys)
    return out[0], out[1]


def pull_summary(report: object, lang: str) -> str:
    """Per-source lines, failures and the first row problems of a PullReport."""
    lines = []
    for o in report.outcomes:  # type: ignore[attr-defined]
        prog = o.progress
        if o.ok:
            lines.append(
                msg("facts.source_line", lang, source=o.source, values=len(o.facts),
                    problems=len(o.problems))
                + (f" ({prog.pages} pages, {prog.seconds:.1f} s)" if prog else ""))
        else:
            lines.append(msg("facts.source_failed", lang, source=o.source, error=o.error))
    for source, codes in (getattr(report, "not_asked", None) or {}).items():
        lines.append(msg("facts.not_asked", lang, source=source, codes=", ".join(codes)))
    if report.kept_stale:  # type: ignore[attr-defined]
        lines.append(msg("facts.kept_stale", lang,
                         kept_stale=report.kept_stale))  # type: ignore[attr-defined]
    problems = report.problems  # type: ignore[attr-defined]
    if problems:
        lines.append(msg("facts.row_problems", lang, n=len(problems)))
        lines += [f"  {p}" for p in problems[:MAX_ALERT_PROBLEMS]]
        if len(problems) > MAX_ALERT_PROBLEMS:
            lines.append(msg("facts.more_problems", lang, n=len(problems) - MAX_ALERT_PROBLEMS))
    return "\n".join(lines)


def fact_links(session, period: Period, base_url: str
               ) -> tuple[Callable[[str, str | None], str], set[tuple[str, str]]]:
    """(employee, indicator) -> URL (indicator None: all the employee's facts), and the pairs
    that have stored facts (only they link)."""
    linked = {(e, i) for e, i in session.execute(
        select(SourceFact.employee_id, SourceFact.indicator)
        .where(SourceFact.period_id == period.id).distinct())}
    prefix = f"{base_url.rstrip('/')}/sync/{quote(period.code, safe='')}/facts/"
    def link(eid: str, code: str | None) -> str:
        url = prefix + quote(eid, safe="")
        return url if code is None else f"{url}/{quote(code, safe='')}"

    return link, linked
