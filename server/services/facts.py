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
    if lang == "zh":
        return f"{words['stale']} / {why}；沿用 {when} 的数据" if why else \
            f"{words['stale']} / 沿用 {when} 的数据"
    return f"{words['stale']} / {why}; value from {when}" if why else \
        f"{words['stale']} / value from {when}"


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


def _provenance(f: SourceFact, base_url: str = "", period_code: str = "") -> str:
    parts = [f.source]
    if f.request:
        parts.append(f.request)
    if f.fetched_by:
        parts.append(f"by {f.fetched_by}")
    if f.raw_value is not None and f.raw_value != str(cell_value(f.value)):
        parts.append(f"raw {f.raw_value}")
    if base_url and period_code:
        parts.append(f"{base_url.rstrip('/')}/sync/{period_code}#{fact_anchor(f)}")
    return " | ".join(parts)


def pull_plan(wb: Workbook, period: Period, facts: list[SourceFact], lang: str,
              report: object | None = None, base_url: str = "") -> WritePlan:
    """kb_data rewritten from the stored facts; rows HR typed for values the server does not
    have (e.g. manual items) are kept below them. `report` (a PullReport) adds what each
    source did, failures and row problems to the alert."""
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
                     f.unit, f.source, period.code, cell_value(f.fetched_at),
                     status_text(f, lang), _provenance(f, base_url, period.code)])
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
    if lang == "zh":
        msg = f"已为期间 {period.code} 写入 {n} 条源数据" + (f"，其中 {stale} 条过期。" if stale
                                                             else "。")
        title = "获取数据"
    else:
        msg = f"Wrote {n} source values for period {period.code}" + (
            f"; {stale} are stale." if stale else ".")
        title = "Pull"
    if left_out:
        msg += (f"\n{len(left_out)} 个服务器上的值不属于本工作簿的指标或人员，未写入（见网页）。"
                if lang == "zh" else
                f"\n{len(left_out)} stored values are for indicators or people this workbook "
                "does not have; not written (see the web page).")
    if report is not None:
        msg += "\n" + pull_summary(report, lang)
    return WritePlan(
        tables=[TableWrite("kb_data", list(DATA_COLUMNS), rows,
                           row_fills=fills,
                           text_columns=frozenset({"employee_id", "indicator", "field", "source",
                                                   "status", "provenance", "unit"}))],
        meta={"pulled_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")},
        alert=(msg, title),
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
                (f"· {o.source}：{len(o.facts)} 个值，{len(o.problems)} 个问题"
                 if lang == "zh" else
                 f"· {o.source}: {len(o.facts)} values, {len(o.problems)} problems")
                + (f" ({prog.pages} pages, {prog.seconds:.1f} s)" if prog else ""))
        else:
            lines.append(f"· {o.source}：失败，保留上次数据（标记为过期）：{o.error}"
                         if lang == "zh" else
                         f"· {o.source}: FAILED, last good values kept and marked stale: "
                         f"{o.error}")
    for source, codes in (getattr(report, "not_asked", None) or {}).items():
        lines.append(f"· {source}：未获取（{', '.join(codes)} 不在本考核表的规则中）"
                     if lang == "zh" else
                     f"· {source}: not asked ({', '.join(codes)} not in this scorecard's "
                     "rules)")
    if report.kept_stale:  # type: ignore[attr-defined]
        lines.append(f"保留并标记过期的旧值：{report.kept_stale} 个" if lang == "zh" else  # type: ignore[attr-defined]
                     f"Old values kept and marked stale: {report.kept_stale}")  # type: ignore[attr-defined]
    problems = report.problems  # type: ignore[attr-defined]
    if problems:
        lines.append(f"逐行问题（{len(problems)}）：" if lang == "zh" else
                     f"Row problems ({len(problems)}):")
        lines += [f"  {p}" for p in problems[:MAX_ALERT_PROBLEMS]]
        if len(problems) > MAX_ALERT_PROBLEMS:
            lines.append(f"  … 另有 {len(problems) - MAX_ALERT_PROBLEMS} 个，见网页"
                         if lang == "zh" else
                         f"  … {len(problems) - MAX_ALERT_PROBLEMS} more on the web page")
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
