"""score_plan builds kb_scores, kb_summary and kb_adjustments column by column, with fast
paths (the engine's employees x indicators grid, the sheet's adjustment rows already in line
order, one conversion per number object). Each table must hold exactly what the original
row-by-row construction (kept below as the reference) gives, values *and* types, on the
fast paths and on the general ones: shuffled or repeated lines, stale and missing lines,
typed, reordered, blank and orphaned adjustment rows, -0, NaN and text actuals."""

from __future__ import annotations

import dataclasses
import random
from decimal import Decimal

import openpyxl
import pytest

from addin.headless import snapshot_from_xlsx
from server.scoring.engine import score
from server.scoring.model import LineStatus, ScoreInput, ScoreResult
from server.workbook.contract import Tables, read_tables, to_score_input
from server.workbook.render import (
    GRADE_FILLS,
    LINE_STATUS,
    MISSING_FILL,
    PERCENT_FORMAT,
    POINTS_FORMAT,
    WORDS,
    _fill,
    _shown,
    _shown_column,
    _shown_like,
    score_plan,
)
from server.xlwire.plan import TableWrite
from tests.workbook.books import TEMPLATE_DIR

# --- the reference: the row-by-row construction as it was (commit 584f8a3) -----------------

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


# --- the cases ------------------------------------------------------------------------------


def _reference(result: ScoreResult, inp: ScoreInput, tables: Tables, lang: str
               ) -> list[TableWrite]:
    writes = [_scores_write(result, inp, lang), _summary_write(result, inp, lang)]
    if "kb_adjustments" in tables:
        writes.append(_adjustments_write(result, inp, tables, lang))
    return writes


def _typed_and_shuffled(ws) -> None:
    ws["G2"], ws["H2"] = 1.5, "rush order"
    ws.move_range("A2:J3", rows=60)
    ws.move_range("A62:J63", rows=-60 + 52)
    ws.delete_rows(2, 2)


def _blank_keys(ws) -> None:
    ws["A5"], ws["D7"] = None, None  # two rows without a key: they adjust nothing


def _typed_twice(ws) -> None:
    ws["A6"], ws["D6"], ws["G6"] = ws["A5"].value, ws["D5"].value, 2  # first one wins
    ws["G5"], ws["H5"] = 1, "first"


def _orphans(ws) -> None:
    ws["A8"], ws["G8"], ws["H8"] = "M9999", 1, "left the company"  # no such employee
    ws["D9"] = "NO_SUCH_INDICATOR"
    ws["A10"] = 1001.0  # a number typed as the employee id


def _keyless_row_below(ws) -> None:
    ws["G2"], ws["H2"] = 1.5, "rush order"
    ws["H55"] = "a note on a row without a key"  # the rows are in order, one more below
    ws.tables["kb_adjustments"].ref = "A1:J55"


SHEETS = {"as_scored": None, "typed_shuffled": _typed_and_shuffled, "blank_keys": _blank_keys,
          "typed_twice": _typed_twice, "orphans": _orphans,
          "keyless_row_below": _keyless_row_below}


def _odd_lines(result: ScoreResult) -> ScoreResult:
    """Same grid, unusual lines: stale, missing, zeroed, -0, NaN and text actuals."""
    lines = list(result.lines)
    r = dataclasses.replace
    lines[0] = r(lines[0], stale=True)
    lines[1] = r(lines[1], status=LineStatus.MISSING, points=None, base_points=None,
                 actual=None)
    lines[2] = r(lines[2], status=LineStatus.ZEROED, stale=True)
    lines[3] = r(lines[3], points=Decimal("-0.00"), base_points=Decimal("-0"))
    lines[4] = r(lines[4], actual=Decimal("NaN"))
    lines[5] = r(lines[5], actual="B", adjustment=Decimal("1.50"))
    lines[9] = r(lines[9], status=LineStatus.EXCLUDED)
    employees = list(result.employees)
    employees[1] = r(employees[1], total=None, grade=None, status="missing PROD_EFF")
    return r(result, lines=tuple(lines), employees=tuple(employees))


def _shuffled(result: ScoreResult) -> ScoreResult:
    lines = list(result.lines)
    random.Random(7).shuffle(lines)
    return dataclasses.replace(result, lines=tuple(lines))


def _repeated(result: ScoreResult) -> ScoreResult:
    """A key twice (the second with other points): the last line of a key wins lookups."""
    extra = dataclasses.replace(result.lines[3], points=Decimal("7.25"))
    return dataclasses.replace(result, lines=(*result.lines, extra))


RESULTS = {"engine": lambda r: r, "odd_lines": _odd_lines, "shuffled": _shuffled,
           "repeated": _repeated}


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """The manufacturing template's input and result, and its tables per sheet edit."""
    tables = {}
    for name, edit in SHEETS.items():
        wb = openpyxl.load_workbook(TEMPLATE_DIR / "manufacturing.xlsx")
        if edit is not None:
            edit(wb["调整"])
        path = tmp_path_factory.mktemp(name) / "book.xlsx"
        wb.save(path)
        tables[name] = read_tables(snapshot_from_xlsx(path))
    inp = to_score_input(tables["as_scored"])
    return inp, score(inp, lang="zh"), tables


def _cells(rows: list[list[object]]) -> list[list[str]]:
    return [[repr(v) for v in row] for row in rows]  # 1 != 1.0 != True, -0.0 != 0.0


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("sheet", list(SHEETS))
@pytest.mark.parametrize("variant", list(RESULTS))
def test_same_tables_as_row_by_row(scored, variant, sheet, lang):
    inp, result, tables = scored
    result = RESULTS[variant](result)
    want = _reference(result, inp, tables[sheet], lang)
    got = score_plan(result, inp, tables[sheet], lang).tables
    assert [w.table for w in got] == [w.table for w in want]
    for g, w in zip(got, want, strict=True):
        assert g.columns == w.columns, g.table
        by_column = g.column_values()  # what plan_to_actions reads
        assert _cells([list(r) for r in zip(*by_column, strict=True)]) == _cells(w.rows)
        assert _cells(g.rows) == _cells(w.rows)  # and the rows the Submit button edits
        assert g.n_rows == len(w.rows)
        assert g.row_fills == w.row_fills, g.table
        assert g.cell_fills == w.cell_fills
        assert g.number_formats == w.number_formats
        assert (g.text_columns, g.captions, g.skip_unchanged) == \
            (w.text_columns, w.captions, w.skip_unchanged)
        frame = tables[sheet].get(g.table)
        for key in g.unchanged:  # what the renderer vouches for is what the sheet holds
            assert frame is not None and frame.n_body_rows == g.n_rows == len(frame)
            column = by_column[g.columns.index(key)]
            assert _cells([frame.column(key)]) == _cells([column])
    if sheet == "as_scored" and variant == "engine":
        assert got[2].unchanged == {"employee_id", "indicator"}  # the usual case is vouched


def test_rows_of_a_column_write_are_editable_and_written():
    write = TableWrite.from_columns("kb_scores", ["employee_id", "points"],
                                    [["E1", "E2"], [1.0, 2.0]])
    assert write.n_rows == 2
    write.columns += ["status"]
    for row in write.rows:
        row += ["x"]
    write.rows[1][1] = 5
    assert write.column_values() == [["E1", "E2"], [1.0, 5], ["x", "x"]]
    with pytest.raises(ValueError):
        TableWrite.from_columns("kb_scores", ["employee_id", "points"], [["E1"], [1, 2]])


def test_columns_of_a_write_are_editable_either_way():
    """`column`/`set_column` (the answer's kb_adjustments columns) on a write given by
    column or by rows: the same contents, and rows still work afterwards."""
    for write in (TableWrite.from_columns("kb_adjustments", ["employee_id", "status"],
                                          [["E1", "E2"], ["ok", "ok"]]),
                  TableWrite("kb_adjustments", ["employee_id", "status"],
                             [["E1", "ok"], ["E2", "ok"]])):
        write.column("status")[1] = "adjusted"
        write.set_column("points", [1.5, None])
        write.set_column("employee_id", ["E3", "E2"])
        assert write.columns == ["employee_id", "status", "points"]
        assert write.column_values() == [["E3", "E2"], ["ok", "adjusted"], [1.5, None]]
        assert write.rows == [["E3", "ok", 1.5], ["E2", "adjusted", None]]
        write.rows[0][2] = 2
        assert write.column("points") == [2, None] and write.n_rows == 2
        with pytest.raises(ValueError):
            write.set_column("reason", ["only one"])



SHARED = [Decimal("1.0"), Decimal("1.00"), Decimal("-0"), Decimal("0.00"), Decimal("NaN"),
          Decimal("2.675"), "B", None, ""]


@pytest.mark.parametrize("column", [
    SHARED * 100,  # few distinct objects: converted once per value
    [Decimal(n) / 7 for n in range(300)],  # fresh objects: cell by cell
    # fresh objects of repeated values (a contract's figures): once per value
    [Decimal(n % 40 - 20) / 8 for n in range(400)] + [Decimal("-0.0"), Decimal("0E+2")] * 3,
    [*SHARED, 1, 1.0, True] * 100,  # 1 == 1.0 == True == Decimal(1): never by value
    [Decimal("sNaN"), *SHARED[:1] * 300],  # a signalling NaN cannot be hashed
    [], [None] * 5,
])
def test_shown_column_is_shown_cell_by_cell(column):
    try:
        want = [repr(_shown(v)) for v in column]
    except ValueError:  # float(sNaN) raises: so must the column
        with pytest.raises(ValueError):
            _shown_column(column)
        return
    assert [repr(v) for v in _shown_column(column)] == want
    bases = column[::-1]
    assert [repr(v) for v in _shown_like(column, bases, _shown_column(bases))] == want
    assert [repr(v) for v in _shown_like(column, column, _shown_column(column))] == want


def _links_by_line(eids, codes, texts, fact_link, linked, limit):
    """The reference of `_explanation_links`: every line looked at, then counted."""
    keys = list(zip(eids, codes, strict=True))
    wanted = [bool(t) and (linked is None or k in linked) for k, t in zip(keys, texts,
                                                                          strict=True)]
    if sum(wanted) > limit:
        return None
    return [fact_link(*k) if ok else None for k, ok in zip(keys, wanted, strict=True)]


@pytest.mark.parametrize("seed", range(40))
def test_explanation_links_stop_counting_past_the_limit_with_the_same_answer(seed,
                                                                            monkeypatch):
    """Differential: the links (or None above LINE_LINK_LIMIT) are those of the reference,
    at limits below, at and above the number of linked lines with text."""
    from server.workbook import render
    from server.workbook.render import _explanation_links, _Lines

    rng = random.Random(seed)
    n = rng.randint(0, 30)
    eids = [f"E{rng.randint(1, 6)}" for _ in range(n)]
    codes = [rng.choice(["K1", "K2", "K3"]) for _ in range(n)]
    texts = [rng.choice(["", None, "why", "因为"]) for _ in range(n)]
    pairs = set(zip(eids, codes, strict=True))
    linked = rng.choice([None, set(), pairs, {p for p in pairs if rng.random() < 0.5}])
    lines = _Lines(None, {"employee_id": eids, "indicator": codes, "explanation": texts}, n)

    def fact_link(eid, code):
        return f"/facts/{eid}/{code}"

    counted = _links_by_line(eids, codes, texts, fact_link, linked, 10 ** 9)
    k = sum(v is not None for v in counted)
    for limit in sorted({0, max(k - 1, 0), k, k + 1, n}):
        monkeypatch.setattr(render, "LINE_LINK_LIMIT", limit)
        assert _explanation_links(lines, fact_link, linked) == \
            _links_by_line(eids, codes, texts, fact_link, linked, limit)
