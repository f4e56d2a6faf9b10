"""Engine results and problems -> a WritePlan for kpibook's own tables, plus user messages.

Only kb_scores, kb_summary, the computed columns of kb_adjustments and kb_meta are written;
HR's tables and HR's extra columns are never named in a plan, so they survive every run.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from itertools import chain, compress, islice, repeat
from operator import and_, attrgetter, is_, is_not, itemgetter, not_

from server.gcpause import cycle_collector_paused
from server.scoring.model import (
    LINE_FIELDS,
    IndicatorScore,
    LineStatus,
    Problem,
    ScoreInput,
    ScoreResult,
    ValidationError,
    line_columns,
)
from server.workbook.contract import Tables, period_text
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
    with cycle_collector_paused():
        return _score_plan(result, inp, tables, lang, fact_link, linked)


def _score_plan(result: ScoreResult, inp: ScoreInput, tables: Tables, lang: str,
                fact_link: Callable[[str, str | None], str] | None = None,
                linked: Collection[tuple[str, str]] | None = None) -> WritePlan:
    lang = _lang(lang)
    plan = WritePlan(activate_table="kb_summary")
    # The three tables are built column by column (kb_scores is 43,000 rows x 13 at 5,000
    # managers) and, when the lines are the employees x indicators grid the engine
    # produces, kb_summary and kb_adjustments reuse kb_scores' converted columns instead of
    # looking every line up by key.
    every = _Lines.of(result.lines)
    applicable = every.applicable()
    lines = every.where(applicable)
    scores = _scores_write(result, inp, lang, lines)
    all_points = None
    if _is_grid(every, inp):  # every line's shown points, kb_scores' where it has them
        done = scores.column_values()[SCORE_COLUMNS.index("points")]
        if len(done) == len(applicable):  # every line applies: kb_scores' column as it is
            all_points = list(done)
        else:  # kb_scores' values at the applicable lines, set at C speed
            all_points = [None] * len(applicable)
            deque(map(all_points.__setitem__, compress(range(len(applicable)), applicable),
                      done), maxlen=0)
        # the lines that do not apply (a few thousand at 5,000 managers), set at C speed
        not_applicable = list(compress(range(len(applicable)), map(not_, applicable)))
        shown = _shown_column(list(map(every.column("points").__getitem__, not_applicable)))
        deque(map(all_points.__setitem__, not_applicable, shown), maxlen=0)
    summary = _summary_write(result, inp, lang, all_points)
    if fact_link is not None:
        links = _explanation_links(lines, fact_link, linked)
        per_employee: list[str | None] = [None] * len(inp.employees)
        if links is None:
            having = None if linked is None else {eid for eid, _code in linked}
            per_employee = [fact_link(e.employee_id, None)
                            if having is None or e.employee_id in having else None
                            for e in inp.employees]
            links = [None] * len(lines)
        # Both columns always carry a (possibly empty) link list: their old hyperlinks are
        # cleared, so switching between the two designs never leaves a stale link behind.
        scores.hyperlinks = {"explanation": links}
        summary.hyperlinks = {"employee_id": per_employee}
    plan.tables.append(scores)
    plan.tables.append(summary)
    if "kb_adjustments" in tables:
        plan.tables.append(_adjustments_write(result, inp, tables, lang,
                                              None if all_points is None
                                              else (scores, lines.column("adjustment"))))
    plan.meta = {"scored_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "engine_version": _engine_version()}
    return plan


@dataclass(frozen=True, slots=True)
class PeriodWrite:
    """What New period writes into kb_data: `write` (None: nothing), how many rows got the
    period (`filled`) and how many belong to another one (`other`, left as they are)."""

    write: TableWrite | None
    filled: int
    other: int


def period_write(tables: Tables, code: str) -> PeriodWrite:
    """kb_data's period column after New period chose `code`: rows without a period (the
    template's sample rows, rows typed by hand) get it; rows of another period keep theirs
    (Pull replaces them, Score points at them). Blank rows stay blank; with a cell that
    cannot be read (an error) nothing is written, for Check and Score to point at it."""
    frame = tables.get("kb_data")
    if frame is None or not frame.has("period") or not len(frame):
        return PeriodWrite(None, 0, 0)
    first = frame.header_row + 2  # the Excel row of the first body row
    values: list[object] = [None] * frame.n_body_rows
    filled = other = 0
    for excel_row, cell in zip(frame.excel_rows, frame.column("period"), strict=True):
        shown = period_text(cell)
        if shown is None:
            return PeriodWrite(None, 0, other + 1)
        if not shown:
            shown, filled = code, filled + 1
        elif shown != code:
            other += 1
        values[excel_row - first] = shown
    if not filled:
        return PeriodWrite(None, 0, other)
    write = TableWrite.from_columns("kb_data", ["period"], [values], skip_unchanged=True,
                                    text_columns=frozenset({"period"}))
    return PeriodWrite(write, filled, other)


@functools.cache  # importlib.metadata scans the installed distributions: tens of ms
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


_HASHED_BY_VALUE = frozenset({Decimal, str, type(None)})  # no two of these types compare equal


def _shown_column(values: list[object]) -> list[object]:
    """`_shown` over a column (a new list). A column of repeated values (weights, targets,
    the zero adjustment; the contract's figures, which the engine's lines share) is
    converted once per distinct value: equal Decimals (1.0, 1.00; 0, -0) convert to the same
    float, and a float from a Decimal costs ~5x a hash lookup. A column of values mostly
    distinct, or of other types (1 == 1.0 == True would share a conversion), cell by cell."""
    if set(map(type, values)) <= _HASHED_BY_VALUE:
        try:
            distinct = set(values)
        except TypeError:  # a signalling NaN cannot be hashed: cell by cell
            pass
        else:
            if 2 * len(distinct) <= len(values):
                of = {v: _shown(v) for v in distinct}
                return list(map(of.__getitem__, values))
    D, shown = Decimal, _shown
    return [float(v) or 0.0 if v.__class__ is D else shown(v) for v in values]  # inlined


def _shown_like(values: list[object], others: list[object], others_shown: list[object]
                ) -> list[object]:
    """`_shown` over `values`, reusing `others_shown[i]` where `values[i]` is the very object
    `others[i]` (a line's points are its base points unless it was adjusted)."""
    D, shown = Decimal, _shown
    return [done if same else float(v) or 0.0 if v.__class__ is D else shown(v)
            for v, same, done in zip(values, map(is_, values, others), others_shown,
                                     strict=True)]


SCORE_COLUMNS = ["employee_id", "name", "department", "indicator", "indicator_name", "actual",
                 "target", "weight", "base_points", "adjustment", "points", "explanation",
                 "status"]
_LINE_NUMBERS = ("actual", "target", "weight", "base_points", "adjustment", "points")


class _Lines:
    """Lines read a column at a time: a LineTable's own columns, cut out once each, or a
    subset of another `_Lines` (the applicable lines of kb_scores)."""

    __slots__ = ("_source", "_columns", "_n")

    def __init__(self, source: Collection[IndicatorScore] | None,
                 columns: dict[str, list] | None = None, n: int = 0) -> None:
        self._source, self._columns = source, {} if columns is None else columns
        self._n = len(source) if source is not None else n

    @classmethod
    def of(cls, lines: Collection[IndicatorScore]) -> _Lines:
        return lines if isinstance(lines, _Lines) else cls(lines)

    def __len__(self) -> int:
        return self._n

    def column(self, name: str) -> list:
        found = self._columns.get(name)
        if found is None:
            (found,) = line_columns(self._source, name)  # type: ignore[arg-type]
            self._columns[name] = found
        return found

    def applicable(self) -> list[bool]:
        """Per line: does it get a kb_scores / kb_adjustments row?"""
        return list(map(is_not, self.column("status"), repeat(LineStatus.NOT_APPLICABLE)))

    def where(self, mask: list[bool]) -> _Lines:
        """The lines whose mask is true (all of them: this very object)."""
        if all(mask):
            return self
        return _Lines(None, {name: list(compress(self.column(name), mask))
                             for name in LINE_FIELDS}, sum(mask))


def _same(values: list) -> list:
    return values


def _applicable(result: ScoreResult) -> list[IndicatorScore]:
    """The lines that get a kb_scores / kb_adjustments row, in result order."""
    return list(compress(result.lines, _Lines.of(result.lines).applicable()))


def _keys(lines: Collection[IndicatorScore]) -> list[tuple[str, str]]:
    """(employee, indicator) of each line."""
    eids, codes = line_columns(lines, "employee_id", "indicator")  # type: ignore[arg-type]
    return list(zip(eids, codes, strict=True))


def _is_grid(lines: _Lines, inp: ScoreInput) -> bool:
    """Are the lines exactly one per employee x indicator, employee by employee in roster
    order, indicators in rule order, with no id or code twice? (What the engine produces.)
    Then line n * len(codes) + j is employee n's line of indicator j, and no (employee,
    indicator) key repeats."""
    eids = [e.employee_id for e in inp.employees]
    codes = [i.code for i in inp.rules.indicators]
    k = len(codes)
    if len(lines) != len(eids) * k or len(set(eids)) != len(eids) \
            or len(set(codes)) != k:
        return False
    return lines.column("indicator") == codes * len(eids) and \
        lines.column("employee_id") == list(chain.from_iterable(zip(*[eids] * k, strict=True)))


def _line_states(lines: _Lines, lang: str) -> tuple[list[object], list[object]]:
    """(status text, row colour) per line, worked out once per distinct status (few)."""
    statuses = lines.column("status")
    words, stale_word = LINE_STATUS[lang], WORDS[lang]["stale"]
    text_of = {s: words.get(s, str(s)) for s in set(statuses)}
    fill_of = {s: _STATUS_FILLS.get(s) for s in text_of}
    texts = list(map(text_of.__getitem__, statuses))
    fills = list(map(fill_of.__getitem__, statuses))
    for n in compress(range(len(lines)), lines.column("stale")):  # a few, if any
        texts[n] += stale_word
        if fills[n] is None:
            fills[n] = STALE_FILL
    return texts, fills


def _scores_write(result: ScoreResult, inp: ScoreInput, lang: str,
                  lines: _Lines | None = None) -> TableWrite:
    """kb_scores: one row per applicable line, built a column at a time at C speed."""
    if lines is None:
        every = _Lines.of(result.lines)
        lines = every.where(every.applicable())
    people = {e.employee_id: e for e in inp.employees}
    indicators = {i.code: i for i in inp.rules.indicators}
    eids = lines.column("employee_id")
    codes = lines.column("indicator")
    # an unknown employee or indicator raises KeyError, as a row-by-row lookup would
    names = {eid: e.name for eid, e in people.items()}
    departments = {eid: e.department for eid, e in people.items()}
    indicator_names = {code: i.name for code, i in indicators.items()}
    raw = [lines.column(f) for f in _LINE_NUMBERS]
    numbers = [_shown_column(values) for values in raw[:-1]]
    numbers.append(_shown_like(raw[-1], raw[-3], numbers[-2]))  # points: mostly base points
    status, fills = _line_states(lines, lang)
    # the line's own id and code: equal (they are dict keys) to the roster's and the rule's
    data = [list(eids), list(map(names.__getitem__, eids)),
            list(map(departments.__getitem__, eids)), list(codes),
            list(map(indicator_names.__getitem__, codes)),
            *numbers,
            list(lines.column("explanation")), status]
    # Percent format only when every numeric actual is a percent; a column has one format.
    percent = {ind.code for ind in inp.rules.indicators if ind.unit == "%"}
    numeric = set(compress(codes, map(isinstance, raw[0], repeat(Decimal))))
    actual_format = PERCENT_FORMAT if numeric and numeric <= percent else "General"
    return TableWrite.from_columns(
        "kb_scores", list(SCORE_COLUMNS), data, skip_unchanged=True,
        number_formats={"actual": actual_format, "target": actual_format, "weight": "0.##",
                        "base_points": POINTS_FORMAT, "adjustment": POINTS_FORMAT,
                        "points": POINTS_FORMAT},
        row_fills=fills,
        text_columns=frozenset({"employee_id", "name", "department", "indicator",
                                "indicator_name", "explanation", "status"}),
    )


def _explanation_links(lines: _Lines, fact_link: Callable[[str, str | None], str],
                       linked: Collection[tuple[str, str]] | None) -> list[str | None] | None:
    """One URL (or None) per kb_scores row (`lines`: its lines), in `_scores_write`'s row
    order; a line with no explanation text gets no link (a hyperlink needs text to click).
    None when more than LINE_LINK_LIMIT rows would get one: they are not built at all."""
    eids, codes = lines.column("employee_id"), lines.column("indicator")
    texts = lines.column("explanation")
    # More than the limit? Counted until one past it (a month of 43,000 linked lines: its
    # first 5,001 keys only), at C speed: a line with text, then its key among `linked`.
    with_text = compress(zip(eids, codes, strict=True), texts)
    some = with_text if linked is None else filter(linked.__contains__, with_text)
    found = len(list(islice(some, LINE_LINK_LIMIT + 1)))
    if found > LINE_LINK_LIMIT:
        return None
    if not found:  # no line links (no facts stored for the month): no key made
        return [None] * len(texts)
    keys = list(zip(eids, codes, strict=True))
    wanted = list(map(bool, texts))  # a line with text
    if linked is not None:
        wanted = list(map(and_, wanted, map(linked.__contains__, keys)))
    return [fact_link(*key) if ok else None for key, ok in zip(keys, wanted, strict=True)]


def _summary_write(result: ScoreResult, inp: ScoreInput, lang: str,
                   all_points: list[object] | None = None) -> TableWrite:
    """kb_summary: one row per employee, a column per indicator. `all_points`: every line's
    `_shown` points when `_is_grid` holds: indicator j's column is then every
    len(codes)-th of them from line j on."""
    codes = [ind.code for ind in inp.rules.indicators]
    columns = ["employee_id", "name", "department", "position", *codes,
               "total", "grade", "rank", "group_rank", "status"]
    outcome = {e.employee_id: e for e in result.employees}
    emps = inp.employees
    eids = list(map(attrgetter("employee_id"), emps))
    results = list(map(outcome.__getitem__, eids))
    totals = list(map(attrgetter("total"), results))
    grades = list(map(attrgetter("grade"), results))
    if all_points is not None:
        by_code = [all_points[j::len(codes)] for j in range(len(codes))]
    else:
        of = {(ln.employee_id, ln.indicator): ln.points for ln in result.lines}
        by_code = [_shown_column(list(map(of.get, zip(eids, repeat(c), strict=False))))
                   for c in codes]
    ok_word = WORDS[lang]["ok"]
    data = [eids, list(map(attrgetter("name"), emps)),
            list(map(attrgetter("department"), emps)),
            list(map(attrgetter("position"), emps)),
            *by_code, _shown_column(totals), grades,
            list(map(attrgetter("rank"), results)), list(map(attrgetter("group_rank"), results)),
            [ok_word if s == "ok" else s for s in map(attrgetter("status"), results)]]
    fills = [MISSING_FILL if t is None else None for t in totals]
    cell_fills = {(n, "grade"): GRADE_FILLS[g] for n, g in enumerate(grades)
                  if g in GRADE_FILLS}
    formats = {code: POINTS_FORMAT for code in codes} | {"total": POINTS_FORMAT}
    return TableWrite.from_columns(
        "kb_summary", columns, data, skip_unchanged=True, number_formats=formats,
        row_fills=fills,
        cell_fills=cell_fills, captions={code: code for code in codes},
        text_columns=frozenset({"employee_id", "name", "department", "position", "grade",
                                "status"}),
    )


ADJUSTMENT_COLUMNS = ["employee_id", "name", "department", "indicator", "indicator_name",
                      "base_points", "adjusted", "status"]


def _adjustments_write(result: ScoreResult, inp: ScoreInput, tables: Tables, lang: str,
                       from_scores: tuple[TableWrite, list[object]] | None = None
                       ) -> TableWrite:
    """One row per employee x applicable indicator, keeping what executives typed.

    When the existing rows are already in that order only the computed columns are written;
    otherwise points and reason move with their (employee, indicator) key so that nobody's
    typed adjustment ends up on another row.

    `from_scores` = (kb_scores' write, the adjustment of each of its rows' lines), given when
    no (employee, indicator) repeats in the result: the rows of those lines are kb_scores'
    rows, so their names, points and colours are taken from it instead of being built again.
    """
    adjusted = WORDS[lang]["adjusted"]
    existing: dict[tuple[str, str], tuple[object, object]] | None = None
    extra: list[tuple[str, str]] = []
    unchanged: frozenset[str] = frozenset()
    if from_scores is not None:
        scores, line_adjustments = from_scores
        have = dict(zip(scores.columns, scores.column_values(), strict=True))
        frame = tables["kb_adjustments"]
        if frame.column("employee_id") == have["employee_id"] and \
                frame.column("indicator") == have["indicator"]:
            # The usual case, checked at C speed: the sheet's keys are the lines' keys as
            # they are (text, nothing to strip), row for row, no blank row between them.
            typed_eids, typed_codes = have["employee_id"], have["indicator"]
            typed_points, typed_reasons = frame.column("points"), frame.column("reason")
            if len(frame) == frame.n_body_rows:
                unchanged = frozenset({"employee_id", "indicator"})
        else:
            typed_eids, typed_codes, typed_points, typed_reasons = _typed_rows(tables)
        if typed_eids != have["employee_id"] or typed_codes != have["indicator"]:
            # not the usual case (the sheet's rows are the lines, in order, once each)
            existing = _first_wins(typed_eids, typed_codes, typed_points, typed_reasons)
            wanted_set = set(zip(have["employee_id"], have["indicator"], strict=True))
            extra = [k for k in existing if k not in wanted_set]  # never drop typed input
        # kb_scores' very lists when no row is added (a plan's lists are not edited; the
        # actions look at a list two tables share once), copies to append rows to
        copy = list if extra else _same
        data = [copy(have[k]) for k in ("employee_id", "name", "department", "indicator",
                                        "indicator_name", "base_points", "points")]
        status = list(have["status"])
        if len(line_adjustments) != len(status):
            raise ValueError("one adjustment per kb_scores row")
        for n in compress(range(len(status)), line_adjustments):  # the adjusted lines: few
            status[n] = adjusted
        data.append(status)
        fills = list(scores.row_fills or [None] * len(line_adjustments))
    else:
        typed_eids, typed_codes, typed_points, typed_reasons = _typed_rows(tables)
        existing = _first_wins(typed_eids, typed_codes, typed_points, typed_reasons)
        wanted = _keys(_applicable(result))
        wanted_set = set(wanted)
        extra = wanted + [k for k in existing if k not in wanted_set]  # every row, one by one
        data, fills = [[] for _ in ADJUSTMENT_COLUMNS], []
    if extra:
        people = {e.employee_id: e for e in inp.employees}
        names = {i.code: i.name for i in inp.rules.indicators}
        lines_by_key = dict(zip(_keys(result.lines), result.lines, strict=True))
        for key in extra:
            row, fill = _adjustment_row(key, people.get(key[0]), lines_by_key.get(key),
                                        names, lang)
            for values, value in zip(data, row, strict=True):
                values.append(value)
            fills.append(fill)
    columns = list(ADJUSTMENT_COLUMNS)
    if existing is None:  # the rows are the sheet's keyed rows: are there blank ones too?
        if len(typed_eids) != tables["kb_adjustments"].n_body_rows:
            columns += ["points", "reason"]
            data += [list(typed_points), list(typed_reasons)]
    else:
        keys = list(zip(data[0], data[3], strict=True))
        if keys != list(existing) or len(existing) != tables["kb_adjustments"].n_body_rows:
            columns += ["points", "reason"]
            typed = list(map(existing.get, keys, repeat((None, None))))
            data += [list(map(itemgetter(0), typed)), list(map(itemgetter(1), typed))]
    return TableWrite.from_columns(
        "kb_adjustments", columns, data, skip_unchanged=True,
        unchanged=unchanged if existing is None else frozenset(),
        number_formats={"base_points": POINTS_FORMAT, "adjusted": POINTS_FORMAT,
                        "points": POINTS_FORMAT},
        row_fills=fills,
        text_columns=frozenset({"employee_id", "name", "department", "indicator",
                                "indicator_name", "status", "reason"}),
    )


def _adjustment_row(key: tuple[str, str], emp: object, ln: IndicatorScore | None,
                    names: dict[str, str], lang: str) -> tuple[list[object], str | None]:
    """One kb_adjustments row worked out on its own, and its colour."""
    eid, code = key
    name = emp.name if emp else None  # type: ignore[attr-defined]
    department = emp.department if emp else None  # type: ignore[attr-defined]
    if ln is None:  # typed for a line that no longer exists
        return ([eid, name, department, code, names.get(code), None, None,
                 WORDS[lang]["not_applicable"]], MISSING_FILL)
    if ln.status is LineStatus.NOT_APPLICABLE:
        status = WORDS[lang]["not_applicable"]
    elif ln.adjustment:
        status = WORDS[lang]["adjusted"]
    else:
        status = _status(ln, lang)
    return ([eid, name, department, code, names.get(code), _shown(ln.base_points),
             _shown(ln.points), status], _fill(ln))


def _typed_rows(tables: Tables) -> tuple[list[str], list[str], list[object], list[object]]:
    """kb_adjustments' rows that have both keys, in sheet order: (employee ids, indicator
    codes, points, reasons), the keys as text (`_key_text`)."""
    frame = tables.get("kb_adjustments")
    if frame is None:
        return [], [], [], []
    eids, codes = (_key_texts(frame.column(k)) for k in ("employee_id", "indicator"))
    points, reasons = frame.column("points"), frame.column("reason")
    if None in eids or None in codes:  # a row without its key adjusts nothing
        kept = [eid is not None and code is not None
                for eid, code in zip(eids, codes, strict=True)]
        eids, codes, points, reasons = (list(compress(values, kept))
                                        for values in (eids, codes, points, reasons))
    return eids, codes, points, reasons  # type: ignore[return-value]


def _first_wins(eids: list[str], codes: list[str], points: list[object],
                reasons: list[object]) -> dict[tuple[str, str], tuple[object, object]]:
    """(employee, indicator) -> (points, reason) exactly as typed, in sheet order; a key
    typed on two rows keeps its first (like the reader)."""
    typed: dict[tuple[str, str], tuple[object, object]] = {}
    for key, value in zip(zip(eids, codes, strict=True), zip(points, reasons, strict=True),
                          strict=True):
        if key not in typed:
            typed[key] = value
    return typed


def _key_texts(values: list[object]) -> list[str | None]:
    """`_key_text` over a column, None staying None (at C speed for an all-text column)."""
    if set(map(type, values)) == {str}:
        return list(map(str.strip, values))  # type: ignore[arg-type]
    return [None if v is None else _key_text(v) for v in values]


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
