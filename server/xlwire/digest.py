"""Sheet digests: the clients stop echoing back the sheets the server wrote (issue #16).

A sheet the server wrote comes back on every button although the server knows what it wrote:
the output sheets (kb_scores, kb_summary), kb_data's (Pull fills it) and kb_adjustments' (the
answer lists every line there). At 5,000 managers they are 18.6 of a re-score's 19.2 MB.
A client that speaks this extension sends, for each sheet listed in kb_meta `sheet_digests`,
only the sheet's name and its digest (its values and tables left out, as for an excluded
sheet) in the request header `Kpibook-Digests`. The server keeps a copy of every such sheet as
it left it (server/services/sheet_copies.py); when the digest names a copy it holds, the copy
stands in for the sheet and the request is parsed as if the values had been sent. When it
does not (HR typed over a result or an adjustment, the copy was pruned), the server answers
409 with the sheets it needs in `Kpibook-Need-Values`, and the client sends the request again
with those sheets' values. A client without the header sends everything, as before
(docs/protocol.md, "Sheet digests").

The digest is SHA-256 of the UTF-8 JSON text `[tables, values]` (no spaces), where
- `values` is the sheet's values as the client sends them ("" for an empty cell, numbers,
  text, true/false), anchored at A1, without trailing rows and columns that are all "";
- `tables` is `[name, address, show_headers, show_totals]` per table in the sheet's order,
  the address without "$" ("A1:M43").
Every client computes it over what it would have sent (JSON.stringify in Office.js, orjson
here, the VBA module's own writer); a difference in number formatting only makes the digests
differ, which costs one more round trip, never a wrong answer.

This module is pure: no Flask, no database.
"""

from __future__ import annotations

import hashlib
import math
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter, ne
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import numpy as np
import orjson

from server.workbook import schema
from server.xlwire.cells import ERROR_CODES, has_dates, parse_iso_datetime
from server.xlwire.snapshot import BookSnapshot, CellError, ColumnRows, RangeRef, TableSnapshot
from server.xlwire.textsafe import from_wire_text, to_wire

DIGESTS_HEADER = "Kpibook-Digests"
"""Request: `name=digest&...` (form-encoded), or "-" when the client digests no sheet. Its
presence says the client speaks the extension: the answer then stamps kb_meta."""

NEED_VALUES_HEADER = "Kpibook-Need-Values"
"""409 answer: `name&name2...` form-encoded names of the sheets to send again with values."""

META_KEY = "sheet_digests"
"""kb_meta key the server stamps with the digests of the sheets it left behind (DIGESTED_TABLES)."""

DIGESTED_TABLES = frozenset(schema.OUTPUT_TABLES + (schema.DATA.name, schema.ADJUSTMENTS.name))
"""A sheet holding one of these tables, and not kb_meta, has its digest stamped: the tables the
server fills. An edited one (an executive's adjustment, a value HR typed) costs one 409 and the
sheet's values, and a copy stands only for exactly the content the client holds (SHA-256),
so what it says is read and checked as if it had been sent."""

_HEX = frozenset("0123456789abcdef")


class DigestHeaderError(ValueError):
    """The Kpibook-Digests header is malformed; `message` is for the person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_digests_header(text: str | None) -> dict[str, str] | None:
    """None without the header; otherwise sheet name -> digest (lower-case hex)."""
    if text is None:
        return None
    text = text.strip()
    if text in ("", "-"):
        return {}
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True,
                          max_num_fields=256)
    except ValueError:
        raise DigestHeaderError(
            f"The {DIGESTS_HEADER} header must be name=digest pairs joined by &.") from None
    out: dict[str, str] = {}
    for name, digest in pairs:
        digest = digest.strip().lower()
        if not name or len(digest) != 64 or not _HEX.issuperset(digest):
            raise DigestHeaderError(
                f"The {DIGESTS_HEADER} header gives sheet {name!r} no SHA-256 digest.")
        out[name] = digest
    return out


def format_digests(digests: Mapping[str, str]) -> str:
    """name -> digest as the header and kb_meta carry it ("-" for none)."""
    return urlencode(list(digests.items()), quote_via=quote) if digests else "-"


def format_names(names: Iterable[str]) -> str:
    return "&".join(quote(n, safe="") for n in names)


def parse_names(text: str | None) -> list[str]:
    from urllib.parse import unquote

    return [unquote(part) for part in (text or "").split("&") if part]


# --- the digest ---------------------------------------------------------------------------


def _trimmed(values: list[list[object]]) -> list[list[object]]:
    """Without trailing rows, then trailing columns, that are all "" (the used range of a
    sheet may keep cells that were cleared)."""
    end = len(values)
    while end and not any(v != "" for v in values[end - 1]):
        end -= 1
    rows = values[:end]
    lengths = set(map(len, rows))
    if len(lengths) == 1 and rows and rows[0] and any(map(ne, map(itemgetter(-1), rows),
                                                          repeat(""))):
        return rows  # as wide as each other, and the last column holds something
    width = 0
    for row in rows:
        w = len(row)
        while w > width and row[w - 1] == "":
            w -= 1
        width = max(width, w)
    return [row[:width] + [""] * (width - len(row)) if len(row) != width else row
            for row in rows]


def table_key(name: str, address: str, show_headers: bool, show_totals: bool) -> list[object]:
    return [name, RangeRef.parse(address.replace("$", "")).address if address else "",
            bool(show_headers), bool(show_totals)]


def sheet_digest(values: list[list[object]], tables: list[list[object]]) -> str:
    """The digest of a sheet from its wire values and `table_key`s (see the module doc)."""
    body = orjson.dumps([tables, _trimmed(values)])
    return hashlib.sha256(body).hexdigest()


def payload_table_keys(tables: list[dict[str, Any]]) -> list[list[object]]:
    """`table_key`s of a sheet's tables as the payload lists them."""
    return [table_key(t["name"], t.get("range_address") or "", t.get("show_headers", True),
                      t.get("show_totals", False)) for t in tables]


# --- what the server stores: the sheet as the client will read it next time -------------


_PLAIN = frozenset({str, int, float, bool})


def to_client_values(values: list[list[object]]) -> list[list[object]]:
    """Snapshot cells -> the wire values a client sends for them (inverse of the parse):
    None -> "", a CellError -> its code; dates as ISO text (the parse reads them back).
    A row of plain cells is converted at C speed; only a row holding an error or a date
    is looked at cell by cell."""
    get = {None: ""}.get
    out = []
    for row in values:
        converted = list(map(get, row, row))
        if not _PLAIN.issuperset(map(type, converted)):
            converted = [_wire_cell(v) for v in converted]
        out.append(converted)
    return out


def _wire_cell(v: object) -> object:
    cls = v.__class__
    if cls is CellError:
        return v.code  # type: ignore[attr-defined]
    if cls in _PLAIN:
        return v
    return v.isoformat() if hasattr(v, "isoformat") else str(v)  # type: ignore[attr-defined]


def _read_back(value: object) -> object:
    """What a client reads from a cell after setValues wrote `value` to it."""
    cls = value.__class__
    if cls is str:
        return from_wire_text(value)[0]  # type: ignore[arg-type]
    if value is None:
        return ""
    if cls is float:
        if not math.isfinite(value):  # type: ignore[arg-type]
            return ""
        if value.is_integer() and abs(value) < 2 ** 53:  # type: ignore[union-attr]
            return int(value)  # type: ignore[arg-type]
    return value


_NUMBER_CLASSES = frozenset({int, float, bool})


def _read_back_block(rows: list[list[object]]) -> list[list[object]]:
    """`_read_back` over a setValues block: each distinct value converted once, then every
    cell by one dict lookup at C speed (a re-score's kb_scores block is 173,000 rows at
    20,000 managers, of a few thousand distinct values). Only when the block holds one kind
    of number at most: 1 == 1.0 == True would otherwise share a key, and those read back
    differently."""
    classes: set[type] = set()
    for row in rows:
        classes.update(map(type, row))
    try:
        distinct = set().union(*rows) if len(classes & _NUMBER_CLASSES) <= 1 else None
    except TypeError:  # an unhashable cell
        distinct = None
    if distinct is None:
        return [list(map(_read_back, row)) for row in rows]
    back = {v: _read_back(v) for v in distinct}
    get = back.__getitem__
    return [list(map(get, row)) for row in rows]


def _table_dict(name: str, ref: RangeRef, show_headers: bool, show_totals: bool,
                style: str | None) -> dict[str, Any]:
    """A table as the payload lists it (`addin.headless._table_payload`'s shape)."""
    def dollar(r: RangeRef) -> str:  # '$A$1:$C$5', as Range.Address gives it
        return ":".join("$" + "$".join(_split(part)) for part in r.address.split(":"))

    header = RangeRef(ref.row, ref.col, 1, ref.n_cols) if show_headers else None
    n_body = ref.n_rows - (1 if show_headers else 0) - (1 if show_totals else 0)
    body = RangeRef(ref.row + (1 if show_headers else 0), ref.col, n_body, ref.n_cols) \
        if n_body > 0 else None
    total = RangeRef(ref.row + ref.n_rows - 1, ref.col, 1, ref.n_cols) if show_totals else None
    return {
        "name": name,
        "range_address": dollar(ref),
        "header_row_range_address": dollar(header) if header else None,
        "data_body_range_address": dollar(body) if body else None,
        "total_row_range_address": dollar(total) if total else None,
        "show_headers": show_headers,
        "show_totals": show_totals,
        "table_style": style or "",
        "show_autofilter": True,
    }


def _split(cell: str) -> tuple[str, str]:
    i = next(i for i, ch in enumerate(cell) if ch.isdigit())
    return cell[:i], cell[i:]


def _snapshot_table_dict(t: TableSnapshot) -> dict[str, Any]:
    return _table_dict(t.name, t.range, t.header is not None, t.show_totals, t.style)


@dataclass(slots=True)
class SheetCopy:
    """One sheet as the client will hold it after the answer: wire values and tables.
    `source`: the snapshot's cells, turned into wire values only when needed (a sheet the
    request named by digest and the answer leaves alone never is)."""

    name: str
    _values: list[list[object]] | None
    tables: list[dict[str, Any]]
    digest: str | None = None  # known when unchanged since the request's digest
    changed: bool = False
    source: list[list[object]] | None = None
    # The source as its stored copy held it (`decode_columns`), and the columns the answer
    # wrote to: the others are stored again as they were when the shape is unchanged.
    stored: list[StoredColumn] | None = None
    written: set[int] = field(default_factory=set)
    source_rows: int = 0

    @property
    def values(self) -> list[list[object]]:
        if self._values is None:
            source = self.source if self.source not in (None, [[]]) else []
            self._values = to_client_values(source)  # type: ignore[arg-type]
            self.source = None
        return self._values

    @values.setter
    def values(self, values: list[list[object]]) -> None:
        self._values = values

    def key_tables(self) -> list[list[object]]:
        return payload_table_keys(self.tables)

    def compute_digest(self) -> str:
        self.values = _trimmed(self.values)
        self.digest = sheet_digest(self.values, self.key_tables())
        return self.digest

    def to_bytes(self) -> bytes:
        """The stored form: column by column (`encode_columns`) when no cell needs more of
        the parse than "" -> null and the rows are as wide as each other (`compute_digest`
        makes them so): a request that names this copy then neither converts nor decodes a
        cell of it. Otherwise JSON `{"values", "tables", "cells"}`, converted by the parse
        like a sent sheet ("wire") or stored converted ("parsed")."""
        values, kept = self.values, None
        if self.stored is not None and len(values) == self.source_rows \
                and values and len(values[0]) == len(self.stored):
            kept = {c: col for c, col in enumerate(self.stored) if c not in self.written}
        encoded = encode_columns(values, self.tables, kept)
        if encoded is not None:
            return encoded
        wire = orjson.dumps({"values": self.values, "tables": self.tables, "cells": "wire"})
        if _needs_conversion(self.values, wire):
            return wire
        get = {"": None}.get
        parsed = [list(map(get, row, row)) for row in self.values]
        return orjson.dumps({"values": parsed, "tables": self.tables, "cells": "parsed"})

    def goes_by_digest(self) -> bool:
        names = {str(t["name"]).lower() for t in self.tables}
        return bool(names & DIGESTED_TABLES) and schema.META.name not in names


COLUMNS_MAGIC = b"kpibook-columns-1\n"
"""How a copy stored column by column begins (a JSON copy begins with "{")."""

_INDEX_CODES = (("B", 1 << 8), ("H", 1 << 16), ("I", 1 << 32))
# array's codes as numpy reads them (native byte order, as array.tobytes wrote them)
_INDEX_DTYPES = {"B": np.uint8, "H": np.uint16, "I": np.uintc}


def encode_columns(values: list[list[object]], tables: list[dict[str, Any]],
                   kept: Mapping[int, StoredColumn] | None = None) -> bytes | None:
    """A sheet's wire values (as the client sends them) stored column by column, as the
    parse would read them: each column as its distinct values, converted ("" -> null), in
    JSON, and one index per row into them (a packed array of 1, 2 or 4 bytes), which
    `decode_columns` turns back into the cells at C speed. An output sheet repeats most of
    its values (employee ids, names, indicators, weights; 28,000 distinct explanations in
    173,000 rows at 20,000 managers), so the cells are converted and encoded once per
    distinct value, and the rows read back share their cell objects: a few hundred thousand
    objects where decoding a JSON copy built millions.

    `kept`: column -> its stored form, for columns known to hold exactly the cells that
    form decodes to (wire values), row for row: put as they are, not encoded again.

    None when a cell needs more of the parse than "" -> null (an error text, a date), when
    the rows differ in width, or a cell is no JSON value: the JSON form then."""
    if not values or not values[0]:
        return None
    width = len(values[0])
    if any(len(row) != width for row in values):
        return None

    errors = frozenset(ERROR_CODES)
    header: list[list[object]] = []
    packed: list[bytes] = []
    for c in range(width):
        if kept and c in kept:
            code, packed_index, converted = kept[c]
            header.append([code, len(packed_index), converted])
            packed.append(packed_index)
            continue
        column = list(map(itemgetter(c), values))
        classes = set(map(type, column))
        if not classes <= _WIRE_CLASSES:
            return None
        if len(classes & _NUMBER_CLASSES) <= 1:
            distinct = list(dict.fromkeys(column))
            position = dict(zip(distinct, range(len(distinct)), strict=True))
            index = array(_index_code(len(distinct)), map(position.__getitem__, column))
        else:  # 1 == 1.0 == True: the class is part of a value's identity here
            keys = list(zip(map(type, column), column, strict=True))
            ranks = dict(zip(dict.fromkeys(keys), range(len(keys)), strict=False))
            distinct = [v for _t, v in ranks]
            index = array(_index_code(len(distinct)), map(ranks.__getitem__, keys))
        for v in distinct:
            if v.__class__ is str and (v in errors or (
                    v[10:11] == "T" and parse_iso_datetime(v) is not None)):  # type: ignore[index]
                return None
        header.append([index.typecode, len(index) * index.itemsize,
                       [None if v.__class__ is str and v == "" else v for v in distinct]])
        packed.append(index.tobytes())
    try:
        head = orjson.dumps({"tables": tables, "n_rows": len(values), "columns": header})
    except TypeError:  # an integer beyond 64 bits, say
        return None
    return b"".join([COLUMNS_MAGIC, len(head).to_bytes(4, "little"), head, *packed])


_WIRE_CLASSES = frozenset({str, int, float, bool, type(None)})


def _index_code(n_distinct: int) -> str:
    return next(code for code, limit in _INDEX_CODES if n_distinct <= limit)


StoredColumn = tuple[str, bytes, list[object]]
"""One column as `encode_columns` stores it: index type code, packed indexes, distinct values
(converted). Kept with a sheet read from a copy, so that storing the sheet again re-uses the
columns an answer leaves alone (`SheetCopy.to_bytes`)."""


def decode_columns(stored: bytes | bytearray) -> tuple[
        ColumnRows, list[list[object]], list[Any], list[StoredColumn]]:
    """(rows, columns, tables, stored columns) of a copy `encode_columns` stored. Every cell
    of a column is its distinct value's object, and row r's cell c is column c's r-th: the
    rows are a view of the columns, each built when read (`ColumnRows`), and the columns are
    what the contract slices its tables from and the answer compares its own columns with
    (server/xlwire/actions.py `_sheet_columns`)."""
    start = len(COLUMNS_MAGIC)
    n_head = int.from_bytes(stored[start:start + 4], "little")
    start += 4
    head = orjson.loads(memoryview(stored)[start:start + n_head])
    at = start + n_head
    columns = []
    kept: list[StoredColumn] = []
    for code, n_bytes, distinct in head["columns"]:
        packed = bytes(stored[at:at + n_bytes])
        at += n_bytes
        index = np.frombuffer(packed, dtype=_INDEX_DTYPES[code])
        # Indexes count distinct values in order of first appearance: one value is every
        # row's, as many values as rows are the rows' own, in order.
        if len(distinct) == 1:
            columns.append(distinct * len(index))
        elif len(distinct) == len(index):
            columns.append(list(distinct))
        else:  # numpy's take on the objects themselves: 2.5x `map(distinct.__getitem__)`
            objects = np.empty(len(distinct), dtype=object)
            objects[:] = distinct  # JSON scalars only (encode_columns takes no lists)
            columns.append(objects.take(index).tolist())
        kept.append((code, packed, distinct))
    if len(columns[0]) != head["n_rows"] or any(len(c) != head["n_rows"] for c in columns):
        raise ValueError("a stored copy's columns differ in length")
    return ColumnRows(columns), columns, head["tables"], kept


def is_columns(stored: bytes | bytearray) -> bool:
    return stored[:len(COLUMNS_MAGIC)] == COLUMNS_MAGIC


def _needs_conversion(values: list[list[object]], wire: bytes) -> bool:
    """Does any cell need more than "" -> None from the parse (an error text, a date)?"""

    codes = frozenset(ERROR_CODES)
    return has_dates(wire) or any(not codes.isdisjoint(row) for row in values)


def _grow(values: list[list[object]], rows: int, cols: int) -> None:
    while len(values) < rows:
        values.append([])
    if min(map(len, values[:rows]), default=cols) >= cols:  # the usual case, at C speed
        return
    for r in range(rows):
        row = values[r]
        if len(row) < cols:
            row.extend([""] * (cols - len(row)))


@dataclass(slots=True)
class AfterAnswer:
    """The digested sheets of a book as the client will hold them once it applied `actions`.

    `received`: sheet name -> the digest the request named for it (its values came from a
    stored copy). Only sheets holding a DIGESTED_TABLES table before or after are followed."""

    book: BookSnapshot
    received: Mapping[str, str]
    sheets: dict[int, SheetCopy] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for s in self.book.sheets:
            copy = SheetCopy(s.name, None, [_snapshot_table_dict(t) for t in s.tables],
                             digest=self.received.get(s.name), source=s.values,
                             stored=s.stored_columns, source_rows=len(s.values))
            if copy.goes_by_digest():
                copy.changed = copy.digest is None
                self.sheets[s.index] = copy

    def apply(self, actions: list[dict[str, Any]]) -> list[SheetCopy]:
        n_sheets = len(self.book.sheets)
        for action in actions:
            func = action["func"]
            if func == "addSheet":
                self.sheets[n_sheets] = SheetCopy(str(action["args"][1]), [], [], changed=True)
                n_sheets += 1
                continue
            copy = self.sheets.get(action.get("sheet_position"))  # type: ignore[arg-type]
            if copy is None:
                continue
            if func == "setSheetName":
                copy.name = str(action["args"][0])
            elif func in ("setValues", "rangeClearContents", "rangeClear", "addHyperlink"):
                self._write(copy, action)
            elif func == "addTable":
                address, has_headers, style, name = (list(action["args"]) + [None] * 4)[:4]
                copy.tables.append(_table_dict(str(name), RangeRef.parse(address),
                                               bool(has_headers), False, style))
                copy.changed = True
            elif func == "resizeTable":
                t = copy.tables[int(action["args"][0])]
                copy.tables[int(action["args"][0])] = _table_dict(
                    t["name"], RangeRef.parse(action["args"][1]), t["show_headers"],
                    t["show_totals"], t["table_style"])
                copy.changed = True
            elif func == "setTableName":
                copy.tables[int(action["args"][0])]["name"] = action["args"][1]
                copy.changed = True
        return [c for c in self.sheets.values() if c.goes_by_digest()]

    @staticmethod
    def _write(copy: SheetCopy, action: dict[str, Any]) -> None:
        r0, c0 = action["start_row"], action["start_column"]
        func = action["func"]
        if func == "setValues":
            block = _read_back_block(action["values"])
        elif func == "addHyperlink":
            text = action["args"][1] if len(action["args"]) > 1 else action["args"][0]
            block = [[_read_back(text or action["args"][0])]]
        else:
            block = [[""] * action["column_count"] for _ in range(action["row_count"])]
        if not block:
            return
        width = max(map(len, block))
        copy.written.update(range(c0, c0 + width))
        values = copy.values
        _grow(values, r0 + len(block), c0 + width)
        for r, row in enumerate(block, start=r0):
            values[r][c0:c0 + len(row)] = row
        copy.changed = True


STAMP_PLACEHOLDER = "\x1fkpibook-sheet-digests\x1f"
"""The kb_meta value the answer is built with; `stamp_digests` puts the digests in its place
once the actions (which the digests depend on) are known. kb_meta is never a digested sheet."""


def stamp_digests(actions: list[dict[str, Any]], text: str) -> bool:
    """Replace the placeholder in the kb_meta setValues of `actions` with `text`."""
    wanted = to_wire(STAMP_PLACEHOLDER)
    for action in actions:
        if action["func"] != "setValues" or action["row_count"] * action["column_count"] > 4096:
            continue
        for row in action["values"]:
            for c, value in enumerate(row):
                if value == wanted:
                    row[c] = to_wire(text)
                    return True
    return False
