"""The contract's fast paths give exactly what the per-cell reader gives.

`read_tables` finds blank rows column by column and cuts columns out lazily; `_clean_roster`,
`_clean_targets` and `_clean_data` read a clean table in one pass and hand anything doubtful
to the per-cell reader. Random tables full of awkward cells (errors, dates, booleans, NaN,
-0.0, 1 next to 1.0, blanks, duplicates, unknown ids) must come out the same either way:
the same engine input (Decimals compared as text: Decimal("1") == Decimal("1.0")) or the
same problems, in the same order.
"""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from server.scoring.model import ValidationError
from server.workbook import contract
from server.workbook.contract import read_tables, to_score_input
from server.xlwire.snapshot import BookSnapshot, CellError, RangeRef, SheetSnapshot
from tests.workbook.books import make_book, table_snapshot

RULES = (["Code", "Indicator", "Kind", "Weight", "Source", "Rule", "Target"], [
    ["OUT", "产量", "定量", 60, "erp", "ratio", 100],
    ["TEAM", "协作", "定性", 40, "hr", "rating", None],
    ["BAD", "坏规则", "定量", 0, "erp", "no_such_rule", None],  # known code, unreadable rule
])
ROSTER_HEADER = ["Employee ID", "Name", "Department", "Position", "E-mail"]
TARGETS_HEADER = ["Employee ID", "Indicator", "Target", "Floor", "Cap"]
DATA_HEADER = ["Employee ID", "Indicator", "Field", "Value", "Source", "Period", "Fetched at",
               "Status"]

AWKWARD = [None, "", "  ", " x ", True, False, 0, 0.0, -0.0, 1, 1.0, 1.5, float("nan"),
           float("inf"), CellError("#N/A"), dt.datetime(2026, 10, 5), dt.date(2026, 10, 5),
           "2026-10", "2026-09", "2026-11-02 08:00", "not a date", 46300, "stale", "过期",
           "ok", "A", "★★★☆☆", "85%", "E1", "1001", "NOPE", [1]]


GOOD = {  # cells the fast paths take (as long as keys stay unique and known)
    "id": ["E1", "E2", " E3 ", 1001, 1001.0],
    "code": ["OUT", "TEAM", "BAD", " OUT "],
    "name": ["张三", "李四", 7, 7.5],
    "text": ["erp", " x ", None, 3, 2.5, "stale", "过期", "ok"],
    "number": [None, 90, 95.5, -0.0, 0, 0.0, 1, 1.0, 0.1],
    "value": [1, 1.0, 90, 87.5, 0.1, None, "A", " B ", -0.0, 0, 12, 2.5],
    "field": ["actual", None, " actual "],
    "period": ["2026-10", None, dt.datetime(2026, 10, 1), 46300, " 2026-10 "],
    "moment": ["2026-11-02 08:00", 46300.5, None, dt.datetime(2026, 11, 2), 46300],
}


@st.composite
def table(draw, columns: list[str], max_size: int = 8) -> list[list[object]]:
    """Rows of one table: all cells of the `GOOD` kinds, or (half the time) some awkward."""
    awkward = draw(st.booleans())
    cells = [st.one_of(st.sampled_from(GOOD[c]), st.sampled_from(AWKWARD)) if awkward
             else st.sampled_from(GOOD[c]) for c in columns]
    return draw(st.lists(st.tuples(*cells).map(list), max_size=max_size,
                         unique_by=None if awkward else (lambda row: repr(row[:3]))))


roster_rows = table(["id", "name", "name", "text", "text"])
target_rows = table(["id", "code", "number", "number", "number"])
data_rows = table(["id", "code", "field", "value", "text", "period", "moment", "text"], 12)


def _book(roster: list, targets: list, data: list, period: object,
          rules: tuple = RULES) -> BookSnapshot:
    return make_book({
        "kb_rules": rules,
        "kb_roster": (ROSTER_HEADER, roster),
        "kb_targets": (TARGETS_HEADER, targets),
        "kb_data": (DATA_HEADER, data),
        "kb_meta": (["Key", "Value"], [["period", period]]),
    })


def _exact(value: object) -> object:
    """Something that tells Decimal("1") from Decimal("1.0") and -0.0 from 0.0."""
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_exact(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return (type(value).__name__,
                [(name, _exact(getattr(value, name))) for name in value.__dataclass_fields__])
    return (type(value).__name__, repr(value))


def _outcome(book: BookSnapshot) -> object:
    try:
        return "input", _exact(to_score_input(read_tables(book), "en"))
    except ValidationError as exc:
        return "problems", exc.problems


def _per_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("_clean_roster", "_clean_targets", "_clean_data"):
        monkeypatch.setattr(contract, name, lambda *args: None)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(roster=roster_rows, targets=target_rows, data=data_rows,
       period=st.sampled_from(["2026-10", "", None]))
def test_clean_paths_match_the_per_cell_reader(monkeypatch, roster, targets, data, period):
    book = _book(roster, targets, data, period)
    fast = _outcome(book)
    with monkeypatch.context() as m:
        _per_cell(m)
        slow = _outcome(book)
    assert fast == slow


def test_clean_paths_run_on_clean_tables(monkeypatch) -> None:
    """The example above is clean: each fast path returns it (no fall-back)."""
    book = _book([["E1", "张三", "一车间", "经理", None], ["E2", "李四", "R&D", None, "a@b.c"],
                  ["E3", "王五", "R&D", None, None]],
                 [["E1", "OUT", 90, None, 1.0], ["E2", "OUT", 95.5, None, 1.2]],
                 [["E1", "OUT", "actual", 87.5, "erp", "2026-10", "2026-11-02 08:00", "ok"],
                  ["E1", "TEAM", None, "A", "erp", "2026-10", 46300.5, "stale"],
                  ["E2", "OUT", " actual ", 1, "erp", "2026-10", None, "过期"],
                  ["E3", "OUT", "actual", -0.0, None, "2026-10", None, None],
                  ["E2", "TEAM", "actual", None, None, None, None, None]], "2026-10",
                 (RULES[0], RULES[1][:2]))
    ran: dict[str, bool] = {}
    for name in ("_clean_roster", "_clean_targets", "_clean_data"):
        real = getattr(contract, name)

        def spy(*args, _real=real, _name=name):
            out = _real(*args)
            ran[_name] = out is not None
            return out
        monkeypatch.setattr(contract, name, spy)
    inp = to_score_input(read_tables(book), "en")
    assert ran == {"_clean_roster": True, "_clean_targets": True, "_clean_data": True}
    assert type(inp.facts) is tuple  # as `_clean_data` made it: not copied again
    assert [(f.employee_id, f.indicator, f.field, str(f.value), f.stale) for f in inp.facts] == [
        ("E1", "OUT", "actual", "87.5", False), ("E1", "TEAM", "actual", "A", True),
        ("E2", "OUT", "actual", "1", True), ("E3", "OUT", "actual", "-0.0", False)]
    assert [(t.employee_id, {k: str(v) for k, v in t.params.items()}) for t in inp.overrides] \
        == [("E1", {"target": "90", "cap": "1.0"}), ("E2", {"target": "95.5", "cap": "1.2"})]


# --- read_tables: blank rows, short rows, rows the client did not send ----------------------


def _reference_frame(sheet: SheetSnapshot, body: RangeRef, wanted: list[int], n_ours: int):
    """The row-by-row reading the column-wise one replaced."""
    records, excel_rows = [], []
    for r in range(body.n_rows):
        values = [sheet.cell(body.row + r, col) for col in wanted]
        if all(v is None or (v.__class__ is str and not v.strip()) for v in values):
            continue
        records.append(values[:n_ours])
        excel_rows.append(body.row + r + 1)
    columns = [list(c) for c in zip(*records, strict=True)] if records else [[]] * n_ours
    return columns, excel_rows


sheet_cells = st.sampled_from([None, "", " ", "\t", "x", 0, 0.0, False, CellError("#N/A")])


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.lists(sheet_cells, max_size=6), max_size=10),
       extra_rows=st.integers(0, 3), origin=st.tuples(st.integers(0, 2), st.integers(0, 2)))
def test_read_tables_matches_row_by_row_reading(rows, extra_rows, origin) -> None:
    r0, c0 = origin
    header = ["Employee ID", "Name", "Department", "HR note"]
    values: list[list[object]] = [[None] * (c0 + 4) for _ in range(r0)]
    values.append([None] * c0 + header)
    values += [[None] * c0 + row for row in rows]  # short rows: trimmed trailing blanks
    sheet = SheetSnapshot(0, "名单", values)
    n_rows = len(rows) + extra_rows  # the table reaches below what the client sent
    sheet.tables.append(table_snapshot("kb_roster", 0, r0, c0, n_rows, 4))
    book = BookSnapshot("test", "0", "t.xlsx", 0, None, [sheet])
    frame = read_tables(book, ("kb_roster",)).frames["kb_roster"]
    body = sheet.tables[0].body or RangeRef(r0 + 1, c0, 0, 4)
    columns, excel_rows = _reference_frame(sheet, body, [c0, c0 + 1, c0 + 2, c0 + 3], 3)
    assert frame.excel_rows == excel_rows
    assert frame.n_body_rows == n_rows
    # one cell at a time straight from the rows, before any column is cut out
    assert [repr(frame.value(i, "department")) for i in range(len(frame))] \
        == [repr(v) for v in columns[2]]
    assert list(frame.data) == ["employee_id", "name", "department"]
    got = [frame.column(k) for k in ("employee_id", "name", "department")]
    assert [[repr(v) for v in c] for c in got] == [[repr(v) for v in c] for c in columns]
    assert [frame.value(i, "name") for i in range(len(frame))] == columns[1]
    assert frame.column("position") == [None] * len(frame)  # absent column


def test_nan_is_not_a_cached_value() -> None:
    """NaN never equals itself: the number reader must still report it every time."""
    number = contract._number_reader()
    assert number(float("nan")) is contract._BAD
    assert number(math.inf) is contract._BAD
    assert str(number(-0.0)) == "-0.0" and str(number(0.0)) == "0.0"
    assert str(number(1)) == "1" and str(number(1.0)) == "1.0"


# --- the column readers, each against the per-cell function it stands for -----------------

any_cell = st.one_of(
    st.sampled_from(AWKWARD), st.sampled_from([c for cells in GOOD.values() for c in cells]),
    st.booleans(), st.integers(-10, 10), st.integers(-10 ** 21, 10 ** 21),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3),
    st.sampled_from([0, 0.0, -0.0, 1, 1.0, True, False, 1e20, 10 ** 20, "\x00", " A ", ""]))
cell_columns = st.lists(any_cell, max_size=25)


def _unhashable(column: list[object]) -> bool:
    try:
        set(column)
    except TypeError:
        return True
    return False


@settings(max_examples=500, deadline=None)
@given(column=cell_columns)
def test_text_column_is_clean_text_of_each_cell(column) -> None:
    if _unhashable(column):
        with pytest.raises(TypeError):  # the callers hand such a table to the reader
            contract._text_column(column)
        return
    got = contract._text_column(column)
    want = [contract._clean_text(v) for v in column]
    if any(v is None for v in want):
        assert got is None
    else:
        assert got is not None
        assert _exact(got[0]) == _exact(want)
        assert got[1] == set(want)


@settings(max_examples=500, deadline=None)
@given(column=cell_columns)
def test_number_column_is_the_number_reader_of_each_cell(column) -> None:
    if _unhashable(column):
        return
    number = contract._number_reader()
    want = [number(v) for v in column]
    got = contract._number_column(column)
    if any(v is contract._BAD for v in want):
        assert got is None
    else:
        assert _exact(got) == _exact(want)


def _data_values_cell_by_cell(column: list[object], ratings: list[bool | None]
                              ) -> list[object] | None:
    """What `_read_data` makes of each kb_data value cell with nothing to report (None when
    a cell would be reported): no fact for a rule that could not be read (the cell is not
    looked at), a rating's label (None when blank), else the number reader's Decimal."""
    number = contract._number_reader()
    out: list[object] = []
    for cell, rating in zip(column, ratings, strict=True):
        if rating is None:
            out.append(None)
        elif rating:
            text = contract._clean_text(cell)
            out.append(contract._BAD if text is None else text or None)
        else:
            out.append(number(cell))
    return None if any(v is contract._BAD for v in out) else out


number_cell = st.one_of(
    st.none(), st.integers(-3, 3), st.sampled_from([0, 0.0, -0.0, 1, 1.0, 2.5, 0.1, 1e20,
                                                     10 ** 20]),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6))
label_cell = st.one_of(st.none(), st.sampled_from(["", " ", "A", " B ", "★★☆", 1, 1.0]),
                       st.text(max_size=2))
value_row = st.one_of(  # mostly rows a value column holds, so the memo path runs
    *[st.tuples(number_cell, st.just(False))] * 6, st.tuples(label_cell, st.just(True)),
    st.tuples(any_cell, st.sampled_from([False, True, None])))


@settings(max_examples=500, deadline=None)
@given(cells=st.lists(value_row, max_size=25))
@example(cells=[(0.0, False), (-0.0, False), (1, False), (1.0, False), (" A ", True)])
@example(cells=[(-0.0, False), (0, False), (0.0, True), (float("nan"), None)])
def test_data_values_are_read_as_cell_by_cell(cells) -> None:
    """The kb_data value column read by class memo is each cell read on its own, exactly
    (1 and 1.0, 0.0 and -0.0 apart); a column the per-cell reading would report is never
    taken (it may give up on more: a TRUE in a row of an unreadable rule, say)."""
    column = [cell for cell, _ in cells]
    ratings = [rating for _, rating in cells]
    if _unhashable(column):
        return
    got = contract._data_values(column, ratings)
    want = _data_values_cell_by_cell(column, ratings)
    if want is None:
        assert got is None
    elif set(map(type, column)) <= contract._VALUE_CELLS:
        assert got is not None and _exact(got) == _exact(want)
    elif got is not None:
        assert _exact(got) == _exact(want)


# --- text safety: distinct values first, cell by cell only to locate ---------------------

def _text_problems_cell_by_cell(frame: contract.TableFrame, lang: str) -> list:
    """`_text_problems` without its whole-column check: every text cell, one by one."""
    if frame.name not in contract._READ_TABLES:
        return []
    limits = {**contract._KEY_LIMITS, **contract._TEXT_LIMITS.get(frame.name, {})}
    read = contract._READ_COLUMNS.get(frame.name)
    problems = []
    for key in frame.columns:
        if read is not None and key not in read:
            continue
        for i, value in enumerate(frame.column(key)):
            if value.__class__ is not str:
                continue
            try:
                contract.checked_text(value.strip(), frame.caption(key), limit=limits.get(key))
            except ValueError as exc:
                problems.append(frame.problem(i, key, contract.why_of(exc), lang))
                if len(problems) >= contract._MAX_TEXT_PROBLEMS:
                    return problems
    return problems


texts = st.one_of(st.sampled_from(["E1", " E1 ", "x" * 50, "x" * 51, " " + "x" * 50, "a\nb",
                                   "a\x00b", "\x1f", "\ud800", "ok", "u" * 21, "\t", None,
                                   1, 1.0, True, CellError("#N/A"), [1]]),
                  st.text(max_size=4))


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.lists(texts, min_size=8, max_size=8), max_size=30))
def test_text_problems_are_those_found_cell_by_cell(rows) -> None:
    book = make_book({"kb_data": (DATA_HEADER, rows),
                      "kb_roster": (ROSTER_HEADER, [row[:5] for row in rows])})
    tables = read_tables(book, ())
    for name in ("kb_data", "kb_roster"):
        frame = tables.frames.get(name)
        if frame is not None:
            assert contract._text_problems(frame, "en") == \
                _text_problems_cell_by_cell(frame, "en")


# --- the bench's workbook: big clean tables, then one awkward cell anywhere --------------

def _bench_payload() -> bytes:
    import json
    import sys
    from pathlib import Path

    bench = str(Path(__file__).resolve().parents[2] / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    import bench_protocol
    import workload

    load = workload.generate(40, 10)
    return json.dumps(bench_protocol.build_payload(load), ensure_ascii=False).encode()


_PAYLOAD: list[bytes] = []


def _bench_book() -> BookSnapshot:
    from server.xlwire.protocol import parse_payload

    if not _PAYLOAD:
        _PAYLOAD.append(_bench_payload())
    return parse_payload(_PAYLOAD[0])


def test_the_bench_workbook_is_read_by_the_column_readers(monkeypatch) -> None:
    book = _bench_book()
    ran: dict[str, bool] = {}
    for name in ("_clean_roster", "_clean_targets", "_clean_data"):
        real = getattr(contract, name)

        def spy(*args, _real=real, _name=name):
            out = _real(*args)
            ran[_name] = out is not None
            return out
        monkeypatch.setattr(contract, name, spy)
    fast = _outcome(book)
    assert ran == {"_clean_roster": True, "_clean_targets": True, "_clean_data": True}
    assert fast[0] == "input"
    assert fast[1][1][2][0] == "facts" and len(fast[1][1][2][1]) > 300
    with monkeypatch.context() as m:
        _per_cell(m)
        assert _outcome(book) == fast


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(
    st.sampled_from([("kb_data", k) for k in ("employee_id", "indicator", "field", "value",
                                             "source", "period", "fetched_at", "status")]
                    + [("kb_targets", k) for k in ("employee_id", "indicator", "target")]
                    + [("kb_roster", k) for k in ("employee_id", "name", "department",
                                                  "position")]),
    st.integers(0, 10 ** 6), st.one_of(any_cell, st.sampled_from(["M0001", "Q1", "2026-09"]))),
    min_size=1, max_size=3))
def test_an_awkward_cell_in_the_bench_workbook_reads_the_same(monkeypatch, edits) -> None:
    book = _bench_book()
    frames = read_tables(book).frames
    for (table_name, key), row, value in edits:
        frame = frames[table_name]
        i = row % len(frame)
        sheet_row = frame.rows[i]
        col = frame.columns[key][1]
        sheet_row[col] = value
    fast = _outcome(book)
    with monkeypatch.context() as m:
        _per_cell(m)
        slow = _outcome(book)
    assert fast == slow


def test_negative_zero_keeps_its_sign_in_every_column_reader() -> None:
    """-0.0 == 0.0 makes one memo key: each must still read as its own Decimal."""
    for raw in ([0.0, -0.0, 1], [-0.0, 0.0]):
        want = [str(contract.Decimal(repr(v))) for v in raw]
        assert [str(v) for v in contract._number_column(raw)] == want


@settings(max_examples=500, deadline=None)
@given(values=st.sets(st.one_of(
    st.none(), st.booleans(), st.integers(-2, 2), st.floats(allow_nan=False),
    st.text(alphabet=" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2028\u3000"
                     "\u200b\ufeffa", max_size=3)), max_size=6))
def test_has_blank_is_the_per_value_blank_test(values) -> None:
    assert contract._has_blank(values) == any(
        v is None or (v.__class__ is str and not v.strip()) for v in values)


TEMPLATE = __import__("pathlib").Path(__file__).resolve().parents[2] / "workbook_templates" \
    / "manufacturing.xlsx"


@pytest.mark.skipif(not TEMPLATE.is_file(), reason="templates not built yet")
@pytest.mark.parametrize("blank_row", [None, 3], ids=["copies as they are", "a blank row"])
def test_tables_read_from_stored_copies_are_the_tables_sent(blank_row):
    """A sheet sent by digest is the server's copy (server/xlwire/digest.py), whose columns
    the frames slice instead of cutting them out of the rows: every table reads as it does
    from the same sheets sent with values, blank rows (left out) and all."""
    import json

    from addin.headless import workbook_to_payload
    from server.xlwire import digest as wire_digest
    from server.xlwire.protocol import parse_payload

    payload = workbook_to_payload(TEMPLATE)
    if blank_row is not None:  # a wholly blank row in each digested table's body
        for sheet in payload["sheets"]:
            if any(t["name"] in wire_digest.DIGESTED_TABLES for t in sheet["tables"]) \
                    and len(sheet["values"]) > blank_row:
                sheet["values"][blank_row] = [""] * len(sheet["values"][blank_row])
    sent = json.dumps(payload, ensure_ascii=False).encode()
    copies = {}
    for copy in wire_digest.AfterAnswer(parse_payload(bytearray(sent)), {}).apply([]):
        copy.compute_digest()
        copies[copy.name] = bytearray(copy.to_bytes())
    assert len(copies) == 4
    for sheet in payload["sheets"]:
        if sheet["name"] in copies:
            sheet["values"], sheet["tables"], sheet["pictures"] = [[]], [], []
    by_digest = parse_payload(bytearray(json.dumps(payload, ensure_ascii=False).encode()),
                              copies)
    assert sum(s.columns is not None for s in by_digest.sheets) == 4
    mine, theirs = read_tables(by_digest), read_tables(parse_payload(bytearray(sent)))
    assert set(mine.frames) == set(theirs.frames) and mine.problems == theirs.problems
    for name, frame in theirs.frames.items():
        other = mine.frames[name]
        if name in ("kb_data", "kb_adjustments"):  # sliced from the copy's columns
            assert (other.sheet_columns is not None) == (blank_row is None)
        assert other.excel_rows == frame.excel_rows, name
        assert {k: list(map(repr, v)) for k, v in other.data.items()} == \
            {k: list(map(repr, v)) for k, v in frame.data.items()}, name
        assert other.passing_column("status") == frame.passing_column("status")
