"""Parse the JSON body an xlwings-protocol client POSTs into a `BookSnapshot`.

The clients (xlwings' VBA `RunRemotePython`, Office Scripts `runPython`, our Office.js add-in
and `addin.headless`) all send the same shape; see /work/shared/notes/xlwings-protocol.md.
Cell conversion follows xlwings' reference engine (`pro/_xlremote.py`, read as a reference
only, never imported): "" is an empty cell, ISO strings such as "2021-03-01T00:00:00.000Z"
are naive datetimes (the VBA client writes local time with a literal "Z" and Office Scripts
writes the wall-clock serial as UTC, so the "Z" never means a time zone), error strings
become `CellError`. Numbers stay numbers: Excel 2016 sends dates as serials and only the
workbook contract knows, per column, which numbers are dates.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from itertools import chain, repeat
from typing import Any

import orjson

from server.gcpause import cycle_collector_paused
from server.workbook import schema
from server.xlwire.cells import convert_row, lookup_with_dates
from server.xlwire.digest import decode_columns, is_columns
from server.xlwire.snapshot import (
    BookSnapshot,
    NameSnapshot,
    RangeRef,
    SheetSnapshot,
    TableSnapshot,
)

PROTOCOL_VERSION = "0.37.8"
"""The xlwings client version whose wire format we implement (and that our clients send)."""

class PayloadError(ValueError):
    """The request body is not a well-formed xlwings-protocol payload.

    `message` is a sentence meant for the person who pressed the button.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DamagedCopy(PayloadError):
    """The server's own stored copy of a sheet sent by digest does not decode. Not the
    client's fault, and nothing it can fix by itself except sending that sheet's values,
    which the server asks for as it does for a copy it never held."""

    def __init__(self, sheet: str) -> None:
        super().__init__(f"The server's copy of sheet {sheet!r} is damaged; send the "
                         "request again with its values.")
        self.sheet = sheet




# Marks a sheet whose values are a stored copy already converted (server/xlwire/digest.py):
# not a string, so no JSON key can set it.
_PARSED = object()
_COLUMNS = object()  # and its cells column by column (SheetSnapshot.columns)


def _sheet_label(index: int, name: object) -> str:
    return f"sheet {index + 1} {name!r}" if isinstance(name, str) else f"sheet {index + 1}"


def _require(obj: dict[str, Any], key: str, types: type | tuple[type, ...], where: str,
             what: str, *, optional: bool = False, default: object = None) -> Any:
    if key not in obj:
        if optional:
            return default
        raise PayloadError(f"{where}: '{key}' is missing.")
    value = obj[key]
    if optional and value is None:
        return default
    # bool is an int in Python; a JSON true is never a valid index or count.
    if not isinstance(value, types) or (types is int and isinstance(value, bool)):
        raise PayloadError(f"{where}: '{key}' must be {what}.")
    return value


def _range(obj: dict[str, Any], key: str, where: str, *, optional: bool) -> RangeRef | None:
    address = _require(obj, key, str, where, "a range address like $A$1:$C$5",
                       optional=optional)
    if address is None:
        return None
    try:
        return RangeRef.parse(address)
    except ValueError:
        raise PayloadError(
            f"{where}: '{key}' is not a range address: {address!r}."
        ) from None


_LIST_ONLY = frozenset({list})


def _one_text_object(rows: list[list[object]], lookup: dict[object, object]
                     ) -> dict[object, object]:
    """`lookup` plus every distinct text of `rows` mapped to one object of itself.

    The JSON decoder makes a new str for every cell, so an employee id repeated on 40 rows
    of kb_data is 40 objects; converted through this dict, they become one (a 20,000-manager
    re-score's peak: 558 -> 515 MB, bench/bench_goals.py). Only text goes in: a str equals
    nothing but a str, so a number or bool (1 == 1.0 == True) always maps to itself, as do
    `lookup`'s keys, which are all text ("", error codes, dates)."""
    texts = {cell: cell for cell in set(chain.from_iterable(rows)) if cell.__class__ is str}
    texts.update(lookup)
    return texts


def _parse_values(
    raw: object, where: str, lookup: dict[object, object] | None, in_place: bool = False,
    share_texts: bool = False
) -> list[list[object]]:
    """`in_place`: the rows are ours (decoded here), so each is converted in its own list
    instead of a copy: a 20,000-manager request holds 7 million cells, and a second list
    per row would hold 8 more bytes per cell until the payload is dropped. `share_texts`
    (with `in_place`): equal texts become one object (`_one_text_object`)."""
    if not isinstance(raw, list):
        raise PayloadError(f"{where}: values must be a list of rows.")
    get = lookup.get if lookup is not None else None
    if get is not None and _LIST_ONLY.issuperset(map(type, raw)):  # rows, exactly lists
        try:
            if in_place:
                get = _one_text_object(raw, lookup).get if share_texts else get
                for row in raw:
                    row[:] = map(get, row, row)  # C speed per row, the same list
                return raw
            # The whole sheet at C speed: dict.get(cell, cell) for every cell of every row,
            # no Python frame per row or cell.
            return list(map(list, map(map, repeat(get), raw, raw)))
        except TypeError:  # an unhashable cell: the loop below names it
            pass
    out: list[list[object]] = []
    for r, row in enumerate(raw):
        if row.__class__ is not list:
            raise PayloadError(f"{where}: values must be a list of rows (row {r + 1} is not).")
        try:
            out.append(list(map(get, row, row)) if get is not None else convert_row(row))
        except TypeError:  # a list or object inside a row is unhashable for the lookup
            c = next(i for i, v in enumerate(row) if isinstance(v, (list, dict)))
            raise PayloadError(
                f"{where}: cell in row {r + 1}, column {c + 1} is not a plain value."
            ) from None
    return out


def _parse_table(raw: object, sheet_index: int, where: str, t: int) -> TableSnapshot:
    if not isinstance(raw, dict):
        raise PayloadError(f"{where}: table {t + 1} must be an object.")
    name = _require(raw, "name", str, f"{where}: table {t + 1}", "text")
    at = f"{where}: table {name!r}"
    whole = _range(raw, "range_address", at, optional=False)
    header = _range(raw, "header_row_range_address", at, optional=True)
    body = _range(raw, "data_body_range_address", at, optional=True)
    show_headers = _require(raw, "show_headers", bool, at, "true or false",
                            optional=True, default=header is not None)
    show_totals = _require(raw, "show_totals", bool, at, "true or false",
                           optional=True, default=False)
    _range(raw, "total_row_range_address", at, optional=True)
    style = _require(raw, "table_style", str, at, "text", optional=True)
    _require(raw, "show_autofilter", bool, at, "true or false", optional=True)
    return TableSnapshot(
        name=name,
        sheet_index=sheet_index,
        range=whole,  # type: ignore[arg-type]  # not optional, checked above
        header=header if show_headers else None,
        body=body,
        show_totals=show_totals,
        style=style or None,
    )


_OUTPUT_TABLES = frozenset(schema.OUTPUT_TABLES)


def _holds_output(tables: object) -> bool:
    """Does a sheet's (not yet checked) table list name one of kpibook's output tables?
    Their texts are not shared: the answer only compares them with its own columns, and
    their explanations are nearly all distinct, so sharing would cost ~100 ms at 5,000
    managers and save nothing."""
    return isinstance(tables, list) and any(
        isinstance(t, dict) and isinstance(name := t.get("name"), str)
        and name.lower() in _OUTPUT_TABLES for t in tables)


def _parse_sheet(raw: object, index: int, lookup: dict[object, object] | None,
                 in_place: bool = False) -> SheetSnapshot:
    if not isinstance(raw, dict):
        raise PayloadError(f"sheet {index + 1} must be an object.")
    where = _sheet_label(index, raw.get("name"))
    name = _require(raw, "name", str, where, "text")
    if "values" not in raw:
        raise PayloadError(f"{where}: values are missing.")
    columns, kept = None, None
    if raw.get(_PARSED):  # a stored copy, converted when it was stored
        values = raw["values"]
        columns, kept = raw.get(_COLUMNS) or (None, None)
    else:
        values = _parse_values(raw["values"], where, lookup, in_place,
                               share_texts=not _holds_output(raw.get("tables")))
    tables_raw = _require(raw, "tables", list, where, "a list", optional=True, default=[])
    _require(raw, "pictures", list, where, "a list", optional=True, default=[])
    tables = [_parse_table(t, index, where, i) for i, t in enumerate(tables_raw)]
    return SheetSnapshot(index=index, name=name, values=values, tables=tables,
                         columns=columns, stored_columns=kept)


def _parse_name(raw: object, i: int, n_sheets: int) -> NameSnapshot:
    where = f"defined name {i + 1}"
    if not isinstance(raw, dict):
        raise PayloadError(f"{where} must be an object.")
    name = _require(raw, "name", str, where, "text")
    where = f"defined name {name!r}"
    sheet_index = _require(raw, "sheet_index", int, where, "a sheet number", optional=True)
    if sheet_index is not None and not 0 <= sheet_index < n_sheets:
        raise PayloadError(f"{where}: sheet_index {sheet_index} is not a sheet of the book.")
    address = _require(raw, "address", str, where, "a range address", optional=True)
    if address is not None:
        try:
            RangeRef.parse(address)
        except ValueError:
            raise PayloadError(f"{where}: 'address' is not a range address: {address!r}.") \
                from None
    book_scope = _require(raw, "book_scope", bool, where, "true or false",
                          optional=True, default=True)
    return NameSnapshot(name=name, sheet_index=sheet_index, address=address,
                        book_scope=book_scope)


def _with_copies(payload: dict[str, Any], copies: Mapping[str, bytes | bytearray],
                 lookup: dict[object, object] | None) -> dict[object, object] | None:
    """Put each stored copy in place of the sheet of that name (values and tables), and
    the dates written in the copies into the lookup."""
    sheets = payload.get("sheets")
    if not isinstance(sheets, list):
        return lookup
    payload["sheets"] = sheets = list(sheets)  # the caller's dict is left as it was
    for i, sheet in enumerate(sheets):
        if not isinstance(sheet, dict) or sheet.get("name") not in copies:
            continue
        stored = copies[sheet["name"]]
        if is_columns(stored):  # cells stored parsed, column by column: nothing to convert
            try:
                rows, columns, tables, kept = decode_columns(stored)
            except (ValueError, KeyError, TypeError, IndexError, orjson.JSONDecodeError):
                raise DamagedCopy(sheet["name"]) from None
            if isinstance(stored, bytearray):
                stored.clear()
            sheets[i] = {**sheet, "values": rows, "tables": tables, _PARSED: True,
                         _COLUMNS: (columns, kept)}
            continue
        try:
            copy = orjson.loads(stored)
            parsed = copy.get("cells") == "parsed"
            values, tables = copy["values"] or [[]], copy["tables"]
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError):
            raise DamagedCopy(sheet["name"]) from None
        if lookup is not None and not parsed:
            lookup.update(lookup_with_dates(stored))
        if isinstance(stored, bytearray):
            stored.clear()
        del stored
        sheets[i] = {**sheet, "values": values, "tables": tables, _PARSED: parsed}
    return lookup


def load_json(data: dict[str, Any] | bytes | str) -> dict[str, Any]:
    """The request body as a dict, or PayloadError when it is not a JSON object."""
    if isinstance(data, (bytes, bytearray, str)):
        try:
            data = orjson.loads(data)  # ~3x json.loads on a large workbook
        except orjson.JSONDecodeError:
            # What orjson refuses but json accepts (NaN, integers beyond 64 bits, lone
            # surrogates, nesting beyond 1024) is decoded as before, errors worded as before.
            try:
                data = json.loads(data)
            except (ValueError, UnicodeDecodeError) as exc:
                raise PayloadError(f"The request body is not valid JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise PayloadError("The request body must be a JSON object describing the workbook.")
    return data


def parse_payload(data: dict[str, Any] | bytes | bytearray | str,
                  copies: Mapping[str, bytes | bytearray] | None = None) -> BookSnapshot:
    """Validate an xlwings-protocol request body and convert it to a `BookSnapshot`.

    Raises `PayloadError` with a sentence naming the sheet/table/field that is malformed.
    Pass the raw request bytes when you have them (Flask: `request.get_data()`): dates are
    then found in the raw text at C speed, which makes large sheets about twice as fast. A
    bytearray (body or copy) is consumed: emptied once decoded, so that its memory is free
    before the cells are converted (peak memory, issue #16).

    `copies`: sheet name -> the stored copy that stands in for a sheet the client sent by its
    digest (server/xlwire/digest.py). A copy stored column by column (`encode_columns`) is
    decoded, not converted, and its columns are kept on the sheet (`SheetSnapshot.columns`);
    a JSON copy (`{"values": ..., "tables": ...}`) is parsed as if the client had sent it.
    """
    # Millions of new lists trigger the cyclic GC over and over although nothing here can
    # form a cycle; pausing it roughly halves the time on a 200,000-row payload.
    with cycle_collector_paused():
        return _parse_payload(data, copies or {})


def _parse_payload(data: dict[str, Any] | bytes | bytearray | str,
                   copies: Mapping[str, bytes | bytearray]) -> BookSnapshot:
    lookup: dict[object, object] | None = None
    if isinstance(data, (bytes, bytearray, str)):
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        lookup = lookup_with_dates(raw)
        del raw
    decoded_here = lookup is not None
    payload = load_json(data)
    if isinstance(data, bytearray):
        data.clear()  # the body's memory goes before the cells are converted
    del data
    if copies:
        lookup = _with_copies(payload, copies, lookup)
    client = _require(payload, "client", str, "The request", "text naming the client")
    version = _require(payload, "version", str, "The request", "a version string")
    book = _require(payload, "book", dict, "The request", "an object")
    book_name = _require(book, "name", str, "book", "text")
    active = _require(book, "active_sheet_index", int, "book", "a sheet number")
    selection = _require(book, "selection", str, "book", "a range address", optional=True)

    sheets_raw = _require(payload, "sheets", list, "The request", "a list of sheets")
    if not sheets_raw:
        raise PayloadError("The request lists no sheets: the workbook must have at least one.")
    sheets = []
    for i, s in enumerate(sheets_raw):
        sheets.append(_parse_sheet(s, i, lookup, in_place=decoded_here))
        if decoded_here:
            sheets_raw[i] = None  # its decoded rows go now, not after the last sheet

    if not 0 <= active < len(sheets):
        raise PayloadError(f"book: active_sheet_index {active} is not a sheet of the book.")

    names_raw = _require(payload, "names", list, "The request", "a list", optional=True,
                         default=[])
    names = [_parse_name(n, i, len(sheets)) for i, n in enumerate(names_raw)]
    return BookSnapshot(
        client=client,
        version=version,
        name=book_name,
        active_sheet_index=active,
        selection=selection,
        sheets=sheets,
        names=names,
    )
