"""Engine results and problems -> a WritePlan for kpibook's own tables, plus user messages.

Only kb_scores, kb_summary, the computed columns of kb_adjustments and kb_meta are written;
HR's tables and HR's extra columns are never named in a plan, so they survive every run.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from decimal import Decimal

from server.scoring.model import (
    IndicatorScore,
    LineStatus,
    Problem,
    ScoreInput,
    ScoreResult,
    ValidationError,
)
from server.workbook.contract import Tables
from server.xlwire.plan import TableWrite, WritePlan

POINTS_FORMAT = "0.00"
PERCENT_FORMAT = "0.00%"
MISSING_FILL = "#FCE4B6"  # amber: missing data / blocked total
STALE_FILL = "#EDEDED"  # light grey: value kept from an earlier pull
GRADE_FILLS = {"S": "#C6E0B4", "A": "#E2EFDA", "B": "#DDEBF7", "C": "#FFF2CC", "D": "#F8CBAD"}

LINE_STATUS = {
    "en": {LineStatus.OK: "ok", LineStatus.MISSING: "missing data", LineStatus.ZEROED:
           "no data: 0", LineStatus.EXCLUDED: "excluded", LineStatus.NOT_APPLICABLE: "n/a"},
    "zh": {LineStatus.OK: "正常", LineStatus.MISSING: "缺数据", LineStatus.ZEROED: "无数据记零",
           LineStatus.EXCLUDED: "已剔除", LineStatus.NOT_APPLICABLE: "不适用"},
}
WORDS = {
    "en": {"ok": "ok", "stale": " (last good value)", "adjusted": "adjusted",
           "not_applicable": "indicator does not apply: adjustment ignored",
           "title": "kpibook: please fix these cells", "more": "... and {n} more",
           "intro": "Nothing was scored. {n} problem(s) found:", "scored": "kpibook: scored"},
    "zh": {"ok": "正常", "stale": "（沿用旧数据）", "adjusted": "已调整",
           "not_applicable": "该指标不适用，调整无效",
           "title": "kpibook：请修正以下单元格", "more": "……另有 {n} 个问题",
           "intro": "未计算得分，发现 {n} 个问题：", "scored": "kpibook：计算完成"},
}
# Per-line explanation links up to this many linked lines (one addHyperlink each: ~250 bytes
# and one Hyperlinks.Add per line in the client); above it, one link per employee in
# kb_summary to the page of all their facts (bench figures in docs/workbook.md).
LINE_LINK_LIMIT = 5_000
ALERT_LIMIT = 30  # an alert box longer than this is unreadable; the rest are counted


def _lang(lang: str) -> str:
    return "zh" if str(lang).lower().startswith("zh") else "en"


def score_plan(result: ScoreResult, inp: ScoreInput, tables: Tables, lang: str = "zh",
               fact_link: Callable[[str, str | None], str] | None = None,
               linked: Collection[tuple[str, str]] | None = None) -> WritePlan:
    """What to write back after a successful scoring run.

    With `fact_link(employee_id, indicator) -> URL`, each kb_scores explanation cell links to
    the web page of the facts behind that line; `linked` (when given) limits the links to
    those (employee, indicator) pairs, e.g. the ones with stored facts. Above
    LINE_LINK_LIMIT linked lines, kb_summary's employee_id cells link instead, to
    `fact_link(employee_id, None)` (all of that employee's facts)."""
    # ~1,000,000 small lists and floats for 5,000 people, none in a reference cycle: the
    # cyclic collector would only re-walk the (large) live heap again and again meanwhile.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _score_plan(result, inp, tables, lang, fact_link, linked)
    finally:
        if was_enabled:
            gc.enable()


def _score_plan(result: ScoreResult, inp: ScoreInput, tables: Tables, lang: str,
                fact_link: Callable[[str, str | None], str] | None = None,
                linked: Collection[tuple[str, str]] | None = None) -> WritePlan:
    lang = _lang(lang)
    plan = WritePlan(activate_table="kb_summary")
    scores = _scores_write(result, inp, lang)
    summary = _summary_write(result, inp, lang)
    if fact_link is not None:
        links = _explanation_links(result, fact_link, linked)
        per_employee: list[str | None] = [None] * len(inp.employees)
        if sum(1 for u in links if u) > LINE_LINK_LIMIT:
            having = None if linked is None else {eid for eid, _code in linked}
            per_employee = [fact_link(e.employee_id, None)
                            if having is None or e.employee_id in having else None
                            for e in inp.employees]
            links = [None] * len(links)
        # Both columns always carry a (possibly empty) link list: their old hyperlinks are
        # cleared, so switching between the two designs never leaves a stale link behind.
        scores.hyperlinks = {"explanation": links}
        summary.hyperlinks = {"employee_id": per_employee}
    plan.tables.append(scores)
    plan.tables.append(summary)
    if "kb_adjustments" in tables:
        plan.tables.append(_adjustments_write(result, inp, tables, lang))
    plan.meta = {"scored_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "engine_version": _engine_version()}
    return plan


def _engine_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kpibook")
    except PackageNotFoundError:  # running from a checkout without installing
        return "dev"


def _status(line: IndicatorScore, lang: str) -> str:
    text = LINE_STATUS[lang].get(line.status, str(line.status))
    return text + (WORDS[lang]["stale"] if line.stale else "")


_STATUS_FILLS = {LineStatus.MISSING: MISSING_FILL, LineStatus.ZEROED: MISSING_FILL,
                 LineStatus.EXCLUDED: MISSING_FILL}


def _fill(line: IndicatorScore) -> str | None:
    fill = _STATUS_FILLS.get(line.status)
    if fill is not None:
        return fill
    return STALE_FILL if line.stale else None


def _shown(value: object) -> object:
    """Decimals go to Excel as floats (the protocol carries JSON numbers); text stays text."""
    if isinstance(value, Decimal):
        return float(value) or 0.0  # never -0.0: Excel would show "-0.00"
    return value


SCORE_COLUMNS = ["employee_id", "name", "department", "indicator", "indicator_name", "actual",
                 "target", "weight", "base_points", "adjustment", "points", "explanation",
                 "status"]


def _scores_write(result: ScoreResult, inp: ScoreInput, lang: str) -> TableWrite:
    people = {e.employee_id: e for e in inp.employees}
    indicators = {i.code: i for i in inp.rules.indicators}
    lines = [ln for ln in result.lines if ln.status is not LineStatus.NOT_APPLICABLE]
    rows, fills = [], []
    shown, fill_of = _shown, _fill
    words, stale_word = LINE_STATUS[lang], WORDS[lang]["stale"]
    who = {e.employee_id: [e.employee_id, e.name, e.department] for e in people.values()}
    what = {i.code: [i.code, i.name] for i in indicators.values()}
    D = Decimal
    for ln in lines:
        status = words.get(ln.status, str(ln.status))
        if ln.stale:
            status += stale_word
        # _shown inlined (400,000 calls at 5,000 managers): Decimal -> float, never -0.0
        a, t, w, b, j, p = (ln.actual, ln.target, ln.weight, ln.base_points, ln.adjustment,
                            ln.points)
        rows.append([*who[ln.employee_id], *what[ln.indicator],
                     float(a) or 0.0 if a.__class__ is D else shown(a),
                     float(t) or 0.0 if t.__class__ is D else shown(t),
                     float(w) or 0.0 if w.__class__ is D else shown(w),
                     float(b) or 0.0 if b.__class__ is D else shown(b),
                     float(j) or 0.0 if j.__class__ is D else shown(j),
                     float(p) or 0.0 if p.__class__ is D else shown(p),
                     ln.explanation, status])
        fills.append(fill_of(ln))
    # Percent format only when every numeric actual is a percent; a column has one format.
    percent = {ind.code for ind in inp.rules.indicators if ind.unit == "%"}
    numeric = {ln.indicator for ln in lines if isinstance(ln.actual, Decimal)}
    actual_format = PERCENT_FORMAT if numeric and numeric <= percent else "General"
    return TableWrite(
        "kb_scores", list(SCORE_COLUMNS), rows, skip_unchanged=True,
        number_formats={"actual": actual_format, "target": actual_format, "weight": "0.##",
                        "base_points": POINTS_FORMAT, "adjustment": POINTS_FORMAT,
                        "points": POINTS_FORMAT},
        row_fills=fills,
        text_columns=frozenset({"employee_id", "name", "department", "indicator",
                                "indicator_name", "explanation", "status"}),
    )


def _explanation_links(result: ScoreResult, fact_link: Callable[[str, str | None], str],
                       linked: Collection[tuple[str, str]] | None) -> list[str | None]:
    """One URL (or None) per kb_scores row, in `_scores_write`'s row order; a line with no
    explanation text gets no link (a hyperlink needs text to click)."""
    out: list[str | None] = []
    for ln in result.lines:
        if ln.status is LineStatus.NOT_APPLICABLE:
            continue
        key = (ln.employee_id, ln.indicator)
        out.append(fact_link(*key) if ln.explanation and (linked is None or key in linked)
                   else None)
    return out


def _summary_write(result: ScoreResult, inp: ScoreInput, lang: str) -> TableWrite:
    codes = [ind.code for ind in inp.rules.indicators]
    columns = ["employee_id", "name", "department", "position", *codes,
               "total", "grade", "rank", "group_rank", "status"]
    points = {(ln.employee_id, ln.indicator): ln.points for ln in result.lines}
    outcome = {e.employee_id: e for e in result.employees}
    rows, fills, cell_fills = [], [], {}
    for n, emp in enumerate(inp.employees):
        res = outcome[emp.employee_id]
        status = WORDS[lang]["ok"] if res.status == "ok" else res.status
        rows.append([emp.employee_id, emp.name, emp.department, emp.position,
                     *(_shown(points.get((emp.employee_id, c))) for c in codes),
                     _shown(res.total), res.grade, res.rank, res.group_rank, status])
        fills.append(MISSING_FILL if res.total is None else None)
        if res.grade in GRADE_FILLS:
            cell_fills[(n, "grade")] = GRADE_FILLS[res.grade]
    formats = {code: POINTS_FORMAT for code in codes} | {"total": POINTS_FORMAT}
    return TableWrite(
        "kb_summary", columns, rows, skip_unchanged=True, number_formats=formats,
        row_fills=fills,
        cell_fills=cell_fills, captions={code: code for code in codes},
        text_columns=frozenset({"employee_id", "name", "department", "position", "grade",
                                "status"}),
    )


ADJUSTMENT_COLUMNS = ["employee_id", "name", "department", "indicator", "indicator_name",
                      "base_points", "adjusted", "status"]


def _adjustments_write(result: ScoreResult, inp: ScoreInput, tables: Tables, lang: str
                       ) -> TableWrite:
    """One row per employee x applicable indicator, keeping what executives typed.

    When the existing rows are already in that order only the computed columns are written;
    otherwise points and reason move with their (employee, indicator) key so that nobody's
    typed adjustment ends up on another row.
    """
    existing = _typed_adjustments(tables)
    wanted = [(ln.employee_id, ln.indicator) for ln in result.lines
              if ln.status is not LineStatus.NOT_APPLICABLE]
    wanted_set = set(wanted)
    keys = wanted + [k for k in existing if k not in wanted_set]  # never drop typed input
    lines = {(ln.employee_id, ln.indicator): ln for ln in result.lines}
    people = {e.employee_id: e for e in inp.employees}
    names = {i.code: i.name for i in inp.rules.indicators}
    rows, fills = [], []
    not_applicable, adjusted = WORDS[lang]["not_applicable"], WORDS[lang]["adjusted"]
    words, stale_word = LINE_STATUS[lang], WORDS[lang]["stale"]
    D = Decimal
    for eid, code in keys:
        emp, ln = people.get(eid), lines.get((eid, code))
        if ln is None:
            rows.append([eid, emp.name if emp else None, emp.department if emp else None,
                         code, names.get(code), None, None, not_applicable])
            fills.append(MISSING_FILL)
            continue
        if ln.status is LineStatus.NOT_APPLICABLE:
            status = not_applicable
        elif ln.adjustment:
            status = adjusted
        else:  # _status inlined
            status = words.get(ln.status, str(ln.status))
            if ln.stale:
                status += stale_word
        b, p = ln.base_points, ln.points
        rows.append([eid, emp.name if emp else None, emp.department if emp else None, code,
                     names.get(code), float(b) or 0.0 if b.__class__ is D else _shown(b),
                     float(p) or 0.0 if p.__class__ is D else _shown(p), status])
        fills.append(_fill(ln))
    columns = list(ADJUSTMENT_COLUMNS)
    if keys != list(existing) or len(existing) != tables["kb_adjustments"].n_body_rows:
        columns += ["points", "reason"]
        for row, key in zip(rows, keys, strict=True):
            points, reason = existing.get(key, (None, None))
            row += [points, reason]
    return TableWrite(
        "kb_adjustments", columns, rows, skip_unchanged=True,
        number_formats={"base_points": POINTS_FORMAT, "adjusted": POINTS_FORMAT,
                        "points": POINTS_FORMAT},
        row_fills=fills,
        text_columns=frozenset({"employee_id", "name", "department", "indicator",
                                "indicator_name", "status", "reason"}),
    )


def _typed_adjustments(tables: Tables) -> dict[tuple[str, str], tuple[object, object]]:
    """(employee, indicator) -> (points, reason) exactly as typed, in sheet order."""
    frame = tables.get("kb_adjustments")
    typed: dict[tuple[str, str], tuple[object, object]] = {}
    if frame is None:
        return typed
    columns = [frame.column(k) for k in ("employee_id", "indicator", "points", "reason")]
    for eid, code, points, reason in zip(*columns, strict=True):
        if eid is None or code is None:
            continue
        key = (_key_text(eid), _key_text(code))
        if key not in typed:
            typed[key] = (points, reason)
    return typed


def _key_text(value: object) -> str:
    if value.__class__ is str:
        return value.strip()  # type: ignore[attr-defined]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# --- problems ----------------------------------------------------------------------------

PLACE = {
    "en": ("sheet '{sheet}'", "row {row}", "column '{column}'", "cell {cell}"),
    "zh": ("工作表“{sheet}”", "第 {row} 行", "列“{column}”", "单元格 {cell}"),
}


def problem_text(problem: Problem, lang: str = "zh") -> str:
    """One problem, where first (sheet, row, column, cell), then why, all in `lang`."""
    lang = _lang(lang)
    sheet_word, row_word, column_word, cell_word = PLACE[lang]
    where = [sheet_word.format(sheet=problem.sheet) if problem.sheet
             else ("table " if lang == "en" else "表 ") + problem.table]
    if problem.row is not None:
        where.append(row_word.format(row=problem.row))
    if problem.column:
        where.append(column_word.format(column=problem.column))
    if problem.cell:
        where.append(cell_word.format(cell=problem.cell))
    separator = ", " if lang == "en" else "，"
    colon = ": " if lang == "en" else "："
    # problem.text: the catalogue message re-worded in `lang`, whatever language it was
    # found in (tables are located before the workbook's language is known)
    return separator.join(where) + colon + problem.text(lang)


def problems_message(problems: list[Problem], lang: str = "zh", intro: str | None = None) -> str:
    """Plain text listing problems (at most ALERT_LIMIT), for an alert or a text/plain 4xx.

    `intro` replaces the default first line ("Nothing was scored. N problem(s) found:").
    """
    lang = _lang(lang)
    lines = [intro or WORDS[lang]["intro"].format(n=len(problems))]
    lines += [f"{n}. {problem_text(p, lang)}" for n, p in
              enumerate(problems[:ALERT_LIMIT], start=1)]
    if len(problems) > ALERT_LIMIT:
        lines.append(WORDS[lang]["more"].format(n=len(problems) - ALERT_LIMIT))
    return "\n".join(lines)


def validation_message(error: ValidationError, lang: str = "zh") -> str:
    """The text/plain body for a request whose workbook could not be scored."""
    return problems_message(error.problems, lang)


def check_plan(problems: list[Problem], lang: str = "zh") -> WritePlan:
    """An alert listing problems; nothing else in the workbook changes."""
    lang = _lang(lang)
    if not problems:
        ok = "No problems found." if lang == "en" else "未发现问题。"
        return WritePlan(alert=(ok, WORDS[lang]["scored"].split(":")[0].split("：")[0]))
    first = problems[0]
    return WritePlan(alert=(problems_message(problems, lang), WORDS[lang]["title"]),
                     activate_table=first.table)
