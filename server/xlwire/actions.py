"""The actions kpibook sends back to the client: the ONLY module that builds action dicts.

Every action is one of `ALLOWED_ACTIONS`, the functions that xlwings' VBA client
(addin/Remote.bas: `Sub <func>(wb, action)`) and Office Scripts client (js/xlwings.ts:
`registerCallback(<func>)`) both implement; our Office.js add-in and `addin.headless`
implement the same set. An action a client lacks fails inside Excel half-way through the
list, so nothing else may be emitted.

Coordinates are 0-based; `args` is always a list (VBA reads it as a 1-based Collection).
Strings in `setValues` go through `textsafe.as_text` so that no client turns them into
formulas, numbers or dates; dates go as serial numbers with a date number format.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import compress
from operator import itemgetter, ne
from typing import Any

import orjson

from server.gcpause import cycle_collector_paused
from server.workbook import schema
from server.workbook.schema import TableSpec, caption_parts, fold, match_column
from server.xlwire.plan import TableWrite, WritePlan
from server.xlwire.snapshot import (
    BookSnapshot,
    RangeRef,
    SheetSnapshot,
    TableSnapshot,
    column_letters,
)
from server.xlwire.textsafe import column_to_wire, to_wire

ALLOWED_ACTIONS: frozenset[str] = frozenset({
    "setValues", "rangeClearContents", "rangeClearFormats", "rangeClear", "addSheet",
    "setSheetName", "setAutofit", "setRangeColor", "activateSheet", "addHyperlink",
    "setNumberFormat", "alert", "setRangeName", "namesAdd", "nameDelete", "addTable",
    "setTableName", "resizeTable",
})
"""Checked against Remote.bas and xlwings.ts by tests/xlwire/test_actions_allowed.py."""

MAX_ROWS_PER_SETVALUES = 5_000
"""Office Scripts and Office.js reject very large single writes (~5 MB); smaller blocks
also keep the VBA client's JSON parser responsive."""

DEFAULT_TABLE_STYLE = "TableStyleMedium2"
TEXT_FORMAT = "@"

Action = dict[str, Any]


class PlanError(ValueError):
    """The plan cannot be written into this workbook; `message` is for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def error_response(message: str, status: int = 400) -> tuple[str, int, dict[str, str]]:
    """A Flask response the clients show verbatim: every client displays a non-200 body
    as the error message (VBA MsgBox, Office Scripts throw), so it is plain text."""
    return message, status, {"Content-Type": "text/plain; charset=utf-8"}


def response_body(actions: list[Action]) -> bytes:
    """The 200 body `{"actions": [...]}` as UTF-8 JSON bytes, keys sorted like Flask's
    `jsonify` (orjson: ~10x faster than jsonify on a 15 MB answer, and non-ASCII text is not
    escaped to \\uXXXX, which also makes the body smaller). Values orjson cannot encode
    (integers beyond 64 bits echoed from a cell, subclasses) fall back to the json module."""
    try:
        return orjson.dumps({"actions": actions}, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return json.dumps({"actions": actions}, ensure_ascii=False, sort_keys=True,
                          separators=(",", ":")).encode("utf-8")


# --- builders: one per allowed function ------------------------------------------------


def _action(func: str, args: list[Any] | None = None, *, sheet: int | None = None,
            ref: RangeRef | None = None, values: list[list[Any]] | None = None) -> Action:
    if ref is None:
        return _action_at(func, args, sheet, None, None, None, None, values)
    return _action_at(func, args, sheet, ref.row, ref.col, ref.n_rows, ref.n_cols, values)


def _action_at(func: str, args: list[Any] | None, sheet: int | None, row: int | None,
               col: int | None, n_rows: int | None, n_cols: int | None,
               values: list[list[Any]] | None = None) -> Action:
    """The action's dict, its range given as numbers: for the thousands of kb_summary's
    grade colours, made without a RangeRef each."""
    assert func in ALLOWED_ACTIONS, func
    return {
        "func": func,
        "args": [None] if args is None else list(args),
        "values": values,
        "sheet_position": sheet,
        "start_row": row,
        "start_column": col,
        "row_count": n_rows,
        "column_count": n_cols,
    }


def set_values(sheet: int, row: int, col: int, values: list[list[Any]]) -> Action:
    """Write a block of already wire-converted values (see `textsafe.to_wire`)."""
    n_cols = max(map(len, values), default=0)
    return _action("setValues", sheet=sheet, ref=RangeRef(row, col, len(values), n_cols),
                   values=values)


def range_clear_contents(sheet: int, ref: RangeRef) -> Action:
    return _action("rangeClearContents", sheet=sheet, ref=ref)


def range_clear_formats(sheet: int, ref: RangeRef) -> Action:
    return _action("rangeClearFormats", sheet=sheet, ref=ref)


def range_clear(sheet: int, ref: RangeRef) -> Action:
    return _action("rangeClear", sheet=sheet, ref=ref)


def add_sheet(position: int, name: str) -> Action:
    """New sheet at 0-based `position`. VBA moves it *after* that index and Office Scripts
    puts it *at* it; both agree only when position == number of sheets, so append only."""
    return _action("addSheet", [position, name])


def set_sheet_name(sheet: int, name: str) -> Action:
    return _action("setSheetName", [name], sheet=sheet)


def set_autofit(sheet: int, ref: RangeRef, axis: str = "columns") -> Action:
    if axis not in ("columns", "rows"):
        raise ValueError(axis)
    return _action("setAutofit", [axis], sheet=sheet, ref=ref)


def set_range_color(sheet: int, ref: RangeRef, color: str) -> Action:
    return _action("setRangeColor", [_hex_color(color)], sheet=sheet, ref=ref)


def activate_sheet(sheet: int) -> Action:
    return _action("activateSheet", [sheet])


def add_hyperlink(sheet: int, row: int, col: int, address: str, text: str | None = None,
                  tip: str | None = None) -> Action:
    # Office Scripts calls .toString() on every arg: never send null.
    return _action("addHyperlink", [address, text or address, tip or ""], sheet=sheet,
                   ref=RangeRef(row, col, 1, 1))


def set_number_format(sheet: int, ref: RangeRef, number_format: str) -> Action:
    return _action("setNumberFormat", [number_format], sheet=sheet, ref=ref)


def alert(message: str, title: str = "kpibook", buttons: str = "ok", mode: str = "info"
          ) -> Action:
    """Message box (VBA). Office Scripts *throws* the prompt, ending the action list there:
    `plan_to_actions` always puts it last."""
    return _action("alert", [message, title, buttons, mode, ""])


def set_range_name(sheet: int, ref: RangeRef, name: str) -> Action:
    return _action("setRangeName", [name], sheet=sheet, ref=ref)


def names_add(name: str, refers_to: str, sheet: int | None = None) -> Action:
    """Book-scoped name (sheet None) or a name scoped to `sheet`; refers_to like '=S!$A$1'."""
    return _action("namesAdd", [name, refers_to], sheet=sheet)


def name_delete(name: str, refers_to: str, plain_name: str, sheet_index: int | None,
                book_scope: bool, scope_sheet_index: int | None) -> Action:
    """VBA matches args[0:2] (full name, refers_to); Office Scripts uses args[2], [4], [5]."""
    return _action("nameDelete",
                   [name, refers_to, plain_name, sheet_index, book_scope, scope_sheet_index])


def add_table(sheet: int, ref: RangeRef, name: str, has_headers: bool = True,
              style: str = DEFAULT_TABLE_STYLE) -> Action:
    return _action("addTable", [_absolute(ref), has_headers, style, name], sheet=sheet)


def set_table_name(sheet: int, table_index: int, name: str) -> Action:
    return _action("setTableName", [table_index, name], sheet=sheet)


def resize_table(sheet: int, table_index: int, ref: RangeRef) -> Action:
    return _action("resizeTable", [table_index, _absolute(ref)], sheet=sheet)


def _absolute(ref: RangeRef) -> str:
    def one(row: int, col: int) -> str:
        return f"${column_letters(col)}${row + 1}"
    return f"{one(ref.row, ref.col)}:{one(ref.row + ref.n_rows - 1, ref.col + ref.n_cols - 1)}"


@functools.cache  # a plan has a few colours and thousands of coloured ranges
def _hex_color(color: str) -> str:
    text = color.strip()
    body = text.lstrip("#")
    if len(body) != 6 or any(c not in "0123456789abcdefABCDEF" for c in body):
        raise ValueError(f"not a #rrggbb colour: {color!r}")
    return "#" + body.upper()


# --- plan -> actions -----------------------------------------------------------------------


@dataclass(slots=True)
class _Target:
    """Where one TableWrite lands once the table is located (or created)."""

    sheet: int
    first_body_row: int
    column_of: dict[str, int]  # key -> absolute 0-based column


def _runs(sorted_ints: Iterable[int]) -> list[tuple[int, int]]:
    """[3, 4, 5, 8] -> [(3, 3), (8, 1)]: (start, length) of consecutive runs."""
    runs: list[tuple[int, int]] = []
    for n in sorted_ints:
        if runs and runs[-1][0] + runs[-1][1] == n:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((n, 1))
    return runs


def _label(spec: TableSpec | None, name: str) -> str:
    return f"'{name}' ({spec.zh} / {spec.en})" if spec else f"'{name}'"


def _column_keys(spec: TableSpec, write: TableWrite, captions: list[object]
                 ) -> dict[str, int]:
    """Key -> offset inside the table for every header the plan's columns recognise."""
    wanted = set(write.columns)
    extra = {k for k in write.columns if k not in spec.keys}  # e.g. indicator codes
    folded_extra = {fold(k): k for k in extra}
    for key, caption in write.captions.items():
        if key in extra:
            folded_extra.setdefault(fold(caption), key)
    found: dict[str, int] = {}
    for offset, caption in enumerate(captions):
        if caption is None or str(caption).strip() == "":
            continue
        key = None
        column = match_column(spec, str(caption))
        if column is not None and column.key in wanted:
            key = column.key
        elif column is None:
            for part in caption_parts(str(caption)):
                if part in folded_extra:
                    key = folded_extra[part]
                    break
        if key is not None and key not in found:  # first matching header wins, like the reader
            found[key] = offset
    return found


def _occupied(sheet: SheetSnapshot, ref: RangeRef) -> bool:
    """Does the client report any value inside `ref`? (C-speed per row: slice + count.)"""
    c0, c1 = ref.col, ref.col + ref.n_cols
    for row in sheet.values[ref.row: ref.row + ref.n_rows]:
        part = row[c0:c1]
        if part.count(None) != len(part):
            return True
    return False


def _date_format(column: list[object], classes: set[type]) -> str | None:
    kinds = classes - {type(None)}
    if not kinds or not all(issubclass(k, dt.date) for k in kinds):
        return None
    has_time = any(isinstance(v, dt.datetime) and v.time() != dt.time() for v in column)
    return "yyyy-mm-dd hh:mm" if has_time else "yyyy-mm-dd"


_TEXT_OR_EMPTY = frozenset({str, type(None)})


class _ClassMemo:
    """The set of value classes of each column list, found once per answer: a renderer may
    hand the very same list to two tables (kb_adjustments takes seven of kb_scores' columns
    as they are), and a pass over a 200,000-row column costs ~4 ms. Keyed by the list's
    identity; the memo holds the lists, so no id is reused while it lives. The plan's lists
    are not edited while its actions are built."""

    __slots__ = ("_found",)

    def __init__(self) -> None:
        self._found: dict[int, tuple[list[object], set[type]]] = {}

    def __call__(self, values: list[object]) -> set[type]:
        found = self._found.get(id(values))
        if found is None:
            found = self._found[id(values)] = (values, set(map(type, values)))
        return found[1]


def _body_actions(write: TableWrite, target: _Target, actions: list[Action],
                  current: SheetSnapshot | None = None, clear_rows: int = 0,
                  links_held: bool = False, classes_of: _ClassMemo | None = None) -> None:
    """setValues per run of adjacent columns, chunked; then number formats and fills.

    With `current` (the sheet, when the table keeps its number of body rows), a column whose
    every value the sheet already holds, with the same type, is not sent again: on a re-score
    most of kb_scores and kb_summary, and the keys and names of kb_adjustments.

    A linked column (`write.hyperlinks`) that is sent is first cleared over its `clear_rows`
    old body rows (no client can remove a hyperlink alone). `links_held`: the sheet's cells
    carry exactly these links wherever their values are unchanged (the kb_meta links stamp,
    `_links_stamp`), so a linked column is compared like any other and, when held, neither
    cleared nor linked again.

    Everything is done a whole column at a time (the plan's own column lists: compare with
    the sheet, make text safe, convert), and the rows the protocol wants are built once, by
    one transposition per block of adjacent columns. `classes_of`: the answer's memo of
    column classes (`_ClassMemo`)."""
    n = write.n_rows
    index = {key: i for i, key in enumerate(write.columns)}
    columns = write.column_values()  # checks that every row has every column
    classes = list(map(classes_of or _ClassMemo(), columns))
    held: set[str] = set()
    if current is not None:
        # Without the stamp a linked column is always sent: its old links are unknown.
        keys = [k for k in write.columns if links_held or k not in write.hyperlinks]
        held = {k for k in keys if k in write.unchanged}
        keys = [k for k in keys if k not in held]
        have = _sheet_columns(current, target, keys, n)
        held |= {k for k in keys if _holds(have.get(k), columns[index[k]], classes[index[k]],
                                           current, target.column_of[k])}
    sent = [k for k in write.columns if k not in held]
    if clear_rows > 0:  # old links go with the values they were on (rangeClear)
        for key in write.hyperlinks:
            if key not in held:
                ref = RangeRef(target.first_body_row, target.column_of[key], clear_rows, 1)
                actions.append(range_clear(target.sheet, ref))
    by_col = {target.column_of[k]: k for k in sent}
    formats = dict(write.number_formats)
    wire: dict[str, list[object]] = {}
    for key in sent:
        values, kinds = columns[index[key]], classes[index[key]]
        if key not in formats:
            date_format = _date_format(values, kinds)
            if date_format:
                formats[key] = date_format
        wire[key] = column_to_wire(values, kinds)  # a new list, text made safe
    for start, length in _runs(sorted(by_col)):
        keys = [by_col[c] for c in range(start, start + length)]
        block = list(map(list, zip(*(wire[k] for k in keys), strict=True))) if n else []
        for chunk in range(0, n, MAX_ROWS_PER_SETVALUES):
            part = block[chunk: chunk + MAX_ROWS_PER_SETVALUES]
            actions.append(set_values(target.sheet, target.first_body_row + chunk, start, part))
    if n == 0:
        return
    # Text columns keep General: a Text ("@") cell might keep our apostrophe literally.
    by_format: dict[str, list[int]] = {}
    for key, number_format in formats.items():
        if key in target.column_of and not (number_format == TEXT_FORMAT
                                            and key in write.text_columns):
            by_format.setdefault(number_format, []).append(target.column_of[key])
    for number_format, cols in sorted(by_format.items()):
        for start, length in _runs(sorted(cols)):
            ref = RangeRef(target.first_body_row, start, n, length)
            actions.append(set_number_format(target.sheet, ref, number_format))
    _fill_actions(write, target, n, actions)
    _hyperlink_actions(write, target, wire, actions)


def _hyperlink_actions(write: TableWrite, target: _Target, wire: dict[str, list[object]],
                       actions: list[Action]) -> None:
    """One addHyperlink per linked cell of each column sent (a held column keeps its links);
    the text is the cell's wire value (text-safe, the same string setValues just wrote), so
    no client reads it as a formula or number."""
    n = write.n_rows
    for key, addresses in write.hyperlinks.items():
        if len(addresses) != n:
            raise ValueError(f"{write.table}: {len(addresses)} hyperlinks for {n} rows")
        if key not in wire:
            continue
        col, first, texts = target.column_of[key], target.first_body_row, wire[key]
        for r, address in enumerate(addresses):
            if address:
                text = texts[r]
                actions.append(add_hyperlink(target.sheet, first + r, col, address,
                                             text if isinstance(text, str) else str(text)))


def _sheet_columns(sheet: SheetSnapshot, target: _Target, keys: list[str], n: int
                   ) -> dict[str, list[object]]:
    """The values the sheet holds in the `n` body rows of the columns of `keys`, one list per
    key; a key is missing when a row does not reach its column (the client trimmed the row:
    that cell is empty, never "the same"). One C-level pass over the rows per column, or,
    when most of the rows' cells are wanted, one transposition of them all (`zip` stops at
    the shortest row, exactly where a column stops being there in every row): each pass
    over 43,000 scattered rows costs more than transposing them (a 13-column kb_scores,
    every column wanted: 50 -> 25 ms). A sheet the server holds a copy of (sent by digest)
    has its columns already (`SheetSnapshot.columns`, every row as wide): a slice of each is
    all."""
    first = target.first_body_row
    columns = sheet.columns
    if columns is not None:
        if not n or first + n > len(sheet.values):
            return {}
        width = len(columns)
        return {key: columns[c][first: first + n] for key in keys
                if (c := target.column_of[key]) < width}
    rows = sheet.values[first: first + n]
    if len(rows) != n or not n:
        return {}
    if 2 * len(keys) >= len(rows[0]):
        transposed = list(zip(*rows))  # noqa: B905 (the shortest row is the point)
        return {key: list(transposed[c]) for key in keys
                if (c := target.column_of[key]) < len(transposed)}
    out = {}
    for key in keys:
        with contextlib.suppress(IndexError):  # a short row: the key stays missing
            out[key] = list(map(itemgetter(target.column_of[key]), rows))
    return out


_NUMBERS = frozenset({int, float})


def _excel_kind(cls: type) -> type:
    """An Excel cell holds one kind of number: 2 and 2.0 are the same cell (Office.js sends
    2 for a cell the server wrote as 2.0, since JSON.stringify(2.0) is "2")."""
    return float if cls is int else cls


def _stored_classes(sheet: SheetSnapshot, col: int) -> set[type] | None:
    """The classes of every cell of column `col` of a sheet read from its stored copy (its
    distinct values': a few), None for a sheet sent with values."""
    stored = sheet.stored_columns
    if stored is None or sheet.columns is None or col >= len(stored):
        return None
    return set(map(type, stored[col][2]))


def _holds(have: list[object] | None, values: list[object], classes: set[type],
           sheet: SheetSnapshot | None = None, col: int = 0) -> bool:
    """Does the sheet hold exactly `values` (same values, same kinds of cell)? `have`: what
    it holds there (`_sheet_columns`; None for a new column or a short row), `classes`: the
    set of the value classes; `sheet`, `col`: where `have` comes from (a stored copy tells
    the classes of a column's cells without a pass over them). Checked at C speed."""
    if have is None or len(have) != len(values) or not values or have != values:
        return False
    # Equal text is text on both sides (a str equals nothing else); numbers are one kind of
    # cell in Excel (2 == 2.0), but a bool is not a number there although True == 1: the
    # kinds are compared cell by cell only when a bool is on either side.
    if classes <= _TEXT_OR_EMPTY:
        return True
    around = _stored_classes(sheet, col) if sheet is not None else None
    if around is not None and (classes | around) - _TEXT_OR_EMPTY <= _NUMBERS:
        return True  # no bool on either side (`around` includes `have`'s classes)
    held = set(map(type, have))
    if (classes | held) - _TEXT_OR_EMPTY <= _NUMBERS:
        return True
    return list(map(_excel_kind, map(type, have))) == list(map(_excel_kind, map(type, values)))


def _fill_actions(write: TableWrite, target: _Target, n: int, actions: list[Action]) -> None:
    col_runs = _runs(sorted(target.column_of[k] for k in write.columns))
    fills = write.row_fills
    if fills is not None:
        if len(fills) != n:
            raise ValueError(f"{write.table}: {len(fills)} row fills for {n} rows")
        # consecutive rows of one colour become one range per column run; the rows where
        # the colour changes are found at C speed (43,000 rows in kb_scores)
        starts = [0, *compress(range(1, n), map(ne, fills[1:], fills[:-1]))] if n else []
        for r, end in zip(starts, [*starts[1:], n], strict=True):
            color = fills[r]
            if color is not None:
                for start, length in col_runs:
                    ref = RangeRef(target.first_body_row + r, start, end - r, length)
                    actions.append(set_range_color(target.sheet, ref, color))
    by_cell: dict[tuple[str, int], list[int]] = {}
    column_of = target.column_of
    for (row, key), color in write.cell_fills.items():
        if key not in column_of or not 0 <= row < n:
            raise ValueError(f"{write.table}: cell fill for unknown cell ({row}, {key!r})")
        by_cell.setdefault((color, column_of[key]), []).append(row)
    # kb_summary's grade cells: thousands of ranges, each without a RangeRef
    sheet, first = target.sheet, target.first_body_row
    for (color, col), rows in sorted(by_cell.items()):
        args = [_hex_color(color)]
        actions.extend(_action_at("setRangeColor", args, sheet, first + start, col, length, 1)
                       for start, length in _runs(sorted(rows)))


def _caption(spec: TableSpec, write: TableWrite, key: str) -> str:
    if key in write.captions:
        return write.captions[key]
    return spec.column(key).caption if key in spec.keys else key


def check_writable(book: BookSnapshot, plan: WritePlan,
                   specs: Mapping[str, TableSpec] = schema.TABLES) -> None:
    """Raise the PlanError `plan_to_actions(book, plan)` would raise, without building a
    single action: every table the plan writes exists (or may be created), shows its header,
    has no totals row, and can grow into empty cells only; kb_meta can take the plan's keys.

    A button calls it before it stores anything, so that an answer that cannot be written
    is refused with nothing stored (docs/workbook.md): what can fail depends only on the
    tables' sizes and columns and the meta keys, which the stored results do not change."""
    for write in plan.tables:
        spec = specs.get(write.table)
        if spec is None:
            raise ValueError(f"{write.table!r} is not a kpibook table: it is never written")
        found = book.find_table(write.table)
        if found is not None:
            _layout(found[0], found[1], spec, write)
        elif write.table not in plan.create_missing and write.table != schema.META.name:
            raise PlanError(
                f"This workbook has no table named {_label(spec, write.table)}. Use a kpibook "
                "template, or restore the table (Table Design > Table Name).")
    meta = dict(plan.meta)
    if any(write.hyperlinks for write in plan.tables):  # a stamp is written: not its digest
        meta[LINKS_KEY] = ""
    if meta:
        _meta_actions(_meta_table(book), meta, [])


def _layout(sheet: SheetSnapshot, table: TableSnapshot, spec: TableSpec, write: TableWrite
            ) -> tuple[str, dict[str, int], list[str], int, int, int]:
    """Where `write` goes in `table`, or the PlanError that says why it cannot:
    (where, column offsets, missing column keys, new body rows, old body rows, new width)."""
    label = _label(spec, table.name)
    where = f"table {label} on sheet '{sheet.name}'"
    if table.header is None:
        raise PlanError(f"The header row of {where} is hidden; show it (Table Design > "
                        "Header Row) and try again.")
    if table.show_totals:
        raise PlanError(f"{where} has a totals row, which kpibook cannot resize around; "
                        "turn it off (Table Design > Total Row) and try again.")
    captions = sheet.block(table.header)[0]
    offsets = _column_keys(spec, write, captions)
    missing = [k for k in write.columns if k not in offsets]
    n_body_new = max(write.n_rows, 1)  # an Excel table always keeps one body row
    old_body = table.body.n_rows if table.body is not None else 0
    first_body = table.header.row + 1
    new_width = table.range.n_cols + len(missing)

    # Cells the table will swallow must be empty: HR's notes next to or below the table.
    if missing:
        right = RangeRef(table.range.row, table.range.col + table.range.n_cols,
                         1 + max(n_body_new, old_body), len(missing))
        if _occupied(sheet, right):
            raise PlanError(
                f"kpibook needs to add column(s) {', '.join(missing)} to {where}, but cells "
                f"{right.address} are not empty. Move that content elsewhere and try again.")
    if n_body_new > old_body:
        below = RangeRef(first_body + old_body, table.range.col, n_body_new - old_body,
                         new_width)
        if _occupied(sheet, below):
            raise PlanError(
                f"{where} must grow to {n_body_new} rows, but cells {below.address} below it "
                "are not empty. Move that content elsewhere and try again.")
    return where, offsets, missing, n_body_new, old_body, new_width


def _write_existing(book: BookSnapshot, sheet: SheetSnapshot, table: TableSnapshot,
                    spec: TableSpec, write: TableWrite, actions: list[Action],
                    links_held: bool = False, classes_of: _ClassMemo | None = None) -> None:
    _where, offsets, missing, n_body_new, old_body, new_width = _layout(sheet, table, spec,
                                                                        write)
    n = write.n_rows
    first_body = table.header.row + 1
    table_index = sheet.tables.index(table)
    new_range = RangeRef(table.range.row, table.range.col, 1 + n_body_new, new_width)
    if new_range != table.range:
        actions.append(resize_table(sheet.index, table_index, new_range))
    column_of = {k: table.range.col + off for k, off in offsets.items()}
    for j, key in enumerate(missing):
        column_of[key] = table.range.col + table.range.n_cols + j
    if missing:
        header = [to_wire(_caption(spec, write, k)) for k in missing]
        actions.append(set_values(sheet.index, table.header.row,
                                  table.range.col + table.range.n_cols, [header]))
    target = _Target(sheet.index, first_body, column_of)
    # Columns the sheet already holds are not sent again (only when no row is added or lost).
    same_rows = write.skip_unchanged and n == old_body
    _body_actions(write, target, actions, sheet if same_rows else None,
                  clear_rows=min(old_body, n_body_new), links_held=links_held and same_rows,
                  classes_of=classes_of)
    if n == 0:  # the one body row Excel keeps: empty our columns in it
        for start, length in _runs(sorted(column_of.values())):
            actions.append(range_clear_contents(sheet.index, RangeRef(first_body, start, 1,
                                                                      length)))
    if old_body > n_body_new:  # rows that left the table: values and our colours go
        leftover = RangeRef(first_body + n_body_new, table.range.col, old_body - n_body_new,
                            table.range.n_cols)
        actions.append(range_clear(sheet.index, leftover))


def _unique_sheet_name(book: BookSnapshot, taken: set[str], wanted: str) -> str:
    name, n = wanted[:31], 2
    while name.lower() in taken:
        suffix = f" ({n})"
        name = wanted[: 31 - len(suffix)] + suffix
        n += 1
    return name


def _create_table(book: BookSnapshot, spec: TableSpec, write: TableWrite, position: int,
                  taken_sheets: set[str], actions: list[Action],
                  classes_of: _ClassMemo | None = None) -> None:
    sheet_name = _unique_sheet_name(book, taken_sheets, spec.zh)
    taken_sheets.add(sheet_name.lower())
    actions.append(add_sheet(position, sheet_name))
    header = [to_wire(_caption(spec, write, k)) for k in write.columns]
    actions.append(set_values(position, 0, 0, [header]))
    n_body = max(write.n_rows, 1)
    ref = RangeRef(0, 0, 1 + n_body, len(write.columns))
    actions.append(add_table(position, ref, spec.name))
    target = _Target(position, 1, {k: i for i, k in enumerate(write.columns)})
    _body_actions(write, target, actions, classes_of=classes_of)


@dataclass(frozen=True)
class _MetaTable:
    """kb_meta as the sheet holds it: where its key and value cells are, which body rows
    hold which key and which rows are free."""

    sheet: SheetSnapshot
    table: TableSnapshot
    where: str
    key_col: int
    value_col: int
    first_body: int
    body: list[list[object]]  # the body rows, from the table's first column
    row_of: dict[str, int]
    free: list[int]

    def value(self, key: str) -> object:
        r = self.row_of.get(key)
        return None if r is None else self.body[r][self.value_col - self.table.range.col]


def _meta_table(book: BookSnapshot) -> _MetaTable | None:
    found = book.find_table(schema.META.name)
    if found is None:
        return None
    sheet, table = found
    where = f"table {_label(schema.META, table.name)} on sheet '{sheet.name}'"
    if table.header is None or table.show_totals:
        raise PlanError(f"Show the header row and hide the totals row of {where}.")
    offsets = _column_keys(schema.META, TableWrite("kb_meta", ["key", "value"], []),
                           sheet.block(table.header)[0])
    if "key" not in offsets or "value" not in offsets:
        raise PlanError(f"{where} needs its key and value columns (键 / Key, 值 / Value).")
    body = sheet.block(table.body) if table.body is not None else []
    row_of: dict[str, int] = {}
    free: list[int] = []
    for r, row in enumerate(body):
        key = row[offsets["key"]]
        if key is None or str(key).strip() == "":
            free.append(r)
        else:
            row_of.setdefault(str(key).strip(), r)
    return _MetaTable(sheet, table, where, table.range.col + offsets["key"],
                      table.range.col + offsets["value"], table.header.row + 1, body,
                      row_of, free)


def _meta_actions(meta_table: _MetaTable | None, meta: Mapping[str, object],
                  actions: list[Action]) -> bool:
    """Set kb_meta keys: an existing key's value cell is overwritten, new keys take empty
    rows of the table or grow it. False when kb_meta is absent (the caller creates it)."""
    if meta_table is None:
        return False
    m = meta_table
    sheet, table, first_body = m.sheet, m.table, m.first_body
    free = list(m.free)
    new_rows: list[tuple[int, str, object]] = []
    n_body = len(m.body)
    for key, value in meta.items():
        if key in m.row_of:
            actions.append(set_values(sheet.index, first_body + m.row_of[key], m.value_col,
                                      [[to_wire(value)]]))
            continue
        if free:
            r = free.pop(0)
        else:
            r, n_body = n_body, n_body + 1
        new_rows.append((r, key, value))
    if n_body > len(m.body):
        below = RangeRef(first_body + len(m.body), table.range.col, n_body - len(m.body),
                         table.range.n_cols)
        if _occupied(sheet, below):
            raise PlanError(f"{m.where} must grow, but cells {below.address} below it are "
                            "not empty. Move that content elsewhere and try again.")
        actions.append(resize_table(sheet.index, sheet.tables.index(table),
                                    RangeRef(table.range.row, table.range.col, 1 + n_body,
                                             table.range.n_cols)))
    for r, key, value in new_rows:
        actions.append(set_values(sheet.index, first_body + r, m.key_col, [[to_wire(key)]]))
        actions.append(set_values(sheet.index, first_body + r, m.value_col,
                                  [[to_wire(value)]]))
    return True


LINKS_KEY = "links"
"""kb_meta key of the links stamp (`_links_stamp`)."""


def _links_stamp(writes: Iterable[TableWrite]) -> str | None:
    """A digest of every hyperlink the plan puts on its tables' cells, row by row; None when
    it puts none. Stored in kb_meta after the tables are written: equal on the next answer,
    the workbook's cells carry these links wherever their values are unchanged, so those
    columns need no clearing and no links again (43,000 explanation cells and 5,000 links at
    5,000 managers on every Score)."""
    linked = [(w.table, key, links) for w in writes for key, links in w.hyperlinks.items()]
    if not linked:
        return None
    digest = hashlib.sha256()
    for table, key, links in sorted(linked, key=itemgetter(0, 1)):
        digest.update(f"{table}\x1f{key}\x1f{len(links)}\x1e".encode())
        if links.count(None) == len(links):  # no URL on any row: the same text, at once
            digest.update("\n".join(["None"] * len(links)).encode())
        else:
            digest.update("\n".join(map(str, links)).encode())  # None -> "None": no URL
        digest.update(b"\x1d")
    return digest.hexdigest()[:32]


def plan_to_actions(book: BookSnapshot, plan: WritePlan,
                    specs: Mapping[str, TableSpec] = schema.TABLES) -> list[Action]:
    """The actions that write `plan` into the workbook `book` describes, touching nothing
    but kpibook's tables (their kpibook columns, their size, their rows' colours).

    Raises PlanError (a sentence for the user) when a needed table is missing and the plan
    does not allow creating it, or when the table cannot grow without overwriting HR's cells.
    """
    # Large plans allocate millions of small lists that cannot form cycles: pausing the
    # cyclic GC meanwhile saves a third of the time.
    with cycle_collector_paused():
        return _plan_to_actions(book, plan, specs)


def _plan_to_actions(book: BookSnapshot, plan: WritePlan, specs: Mapping[str, TableSpec]
                     ) -> list[Action]:
    actions: list[Action] = []
    writes = list(plan.tables)
    meta = dict(plan.meta)
    stamp = _links_stamp(writes)
    meta_table = _meta_table(book) if meta or stamp is not None else None
    links_held, stamp_last = False, False
    if stamp is not None:
        old = meta_table.value(LINKS_KEY) if meta_table is not None else None
        links_held = isinstance(old, str) and old.strip() == stamp
        # Written after the tables when its row exists: an answer applied only in part
        # leaves the old stamp, so the next one sends the links again. (The first stamp
        # of a workbook goes with the other keys: its row is made then.)
        stamp_last = meta_table is not None and LINKS_KEY in meta_table.row_of
        if not stamp_last:
            meta[LINKS_KEY] = stamp
    if meta and not _meta_actions(meta_table, meta, actions):
        # kb_meta is kpibook's own bookkeeping sheet: always created when missing.
        writes.append(TableWrite(schema.META.name, ["key", "value"],
                                 [[k, v] for k, v in meta.items()],
                                 text_columns=frozenset({"key", "value"})))
    taken_sheets = {s.name.lower() for s in book.sheets}
    n_sheets = len(book.sheets)
    created: dict[str, int] = {}
    classes_of = _ClassMemo()  # a column list two tables share is looked at once
    for write in writes:
        spec = specs.get(write.table)
        if spec is None:
            raise ValueError(f"{write.table!r} is not a kpibook table: it is never written")
        found = book.find_table(write.table)
        if found is not None:
            _write_existing(book, found[0], found[1], spec, write, actions, links_held,
                            classes_of)
        elif write.table in plan.create_missing or write.table == schema.META.name:
            created[write.table] = n_sheets
            _create_table(book, spec, write, n_sheets, taken_sheets, actions, classes_of)
            n_sheets += 1
        else:
            raise PlanError(
                f"This workbook has no table named {_label(spec, write.table)}. Use a kpibook "
                "template, or restore the table (Table Design > Table Name).")
    if stamp_last:
        _meta_actions(meta_table, {LINKS_KEY: stamp}, actions)
    if plan.activate_table:
        found = book.find_table(plan.activate_table)
        if found is not None:
            actions.append(activate_sheet(found[0].index))
        elif plan.activate_table in created:
            actions.append(activate_sheet(created[plan.activate_table]))
    elif created:  # VBA's Sheets.Add activated the new sheet: give the user theirs back
        actions.append(activate_sheet(book.active_sheet_index))
    if plan.alert is not None:
        actions.append(alert(plan.alert[0], plan.alert[1]))  # last: Office Scripts throws it
    return actions
