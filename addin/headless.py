"""The headless file client: run a kpibook ribbon button on an .xlsx without Excel.

It plays the part of the VBA/Office.js clients of the xlwings wire protocol:
`workbook_to_payload` builds the JSON a real client would send from an .xlsx (openpyxl),
`apply_actions` applies the server's actions to the openpyxl workbook, leaving every cell
the actions do not name untouched (formulas, styles, validation, protection, other tables),
and `run_button` does the round trip and saves.

Differences from Excel worth knowing: openpyxl cannot calculate, so formula cells are sent
with the value Excel cached when it last saved the file ("" when there is none); strings in
setValues are always stored as text (a leading apostrophe is the text prefix, see
`server.xlwire.textsafe`), never parsed as formulas, numbers or dates.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import PatternFill
from openpyxl.styles.cell_style import StyleArray
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from server.xlwire import digest as wire_digest
from server.xlwire.protocol import PROTOCOL_VERSION, parse_payload
from server.xlwire.snapshot import BookSnapshot, RangeRef, column_letters
from server.xlwire.textsafe import from_wire_text

CLIENT_NAME = "kpibook-headless"


# ---------------------------------------------------------------------------------------
# .xlsx -> payload


def _iso(value: dt.datetime | dt.date | dt.time) -> str:
    """Dates the way the VBA client sends them: wall-clock time, millis and a literal Z."""
    if isinstance(value, dt.time):  # a time-only cell is a date on Excel's day 0
        value = dt.datetime.combine(dt.date(1899, 12, 30), value)
    elif not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _wire_cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return _iso(value)
    if isinstance(value, dt.timedelta):  # [h]:mm durations: Excel stores days
        return value.total_seconds() / 86400
    return str(value)


def _is_formula(cell: Cell) -> bool:
    return cell.data_type == "f"


def _sheet_values(ws: Worksheet, cached: Worksheet | None) -> list[list[object]]:
    max_row, max_col = ws.max_row, ws.max_column
    rows: list[list[object]] = []
    for r, row in enumerate(ws.iter_rows(min_row=1, max_row=max_row, min_col=1,
                                         max_col=max_col), start=1):
        out = []
        for cell in row:
            if _is_formula(cell):
                value = cached.cell(r, cell.column).value if cached is not None else None
                out.append(_wire_cell(value))
            else:
                out.append(_wire_cell(cell.value))
        rows.append(out)
    if max_row == 1 and max_col == 1 and rows == [[""]]:
        return [[]]  # what VBA sends for an empty sheet
    return rows


def _dollar(ref: RangeRef) -> str:
    """RangeRef -> '$A$1:$C$5', the form Range.Address gives the VBA client."""
    def one(row: int, col: int) -> str:
        return f"${column_letters(col)}${row + 1}"
    first = one(ref.row, ref.col)
    if ref.n_rows == 1 and ref.n_cols == 1:
        return first
    return f"{first}:{one(ref.row + ref.n_rows - 1, ref.col + ref.n_cols - 1)}"


def _table_payload(table: Table) -> dict[str, Any]:
    whole = RangeRef.parse(table.ref)
    headers = 1 if table.headerRowCount is None else int(table.headerRowCount)
    totals = int(table.totalsRowCount or 0)
    header = RangeRef(whole.row, whole.col, 1, whole.n_cols) if headers else None
    n_body = whole.n_rows - headers - totals
    body = RangeRef(whole.row + headers, whole.col, n_body, whole.n_cols) if n_body > 0 else None
    total = RangeRef(whole.row + whole.n_rows - 1, whole.col, 1, whole.n_cols) if totals else None
    style = table.tableStyleInfo.name if table.tableStyleInfo is not None else None
    return {
        "name": table.displayName or table.name,
        "range_address": _dollar(whole),
        "header_row_range_address": _dollar(header) if header else None,
        "data_body_range_address": _dollar(body) if body else None,
        "total_row_range_address": _dollar(total) if total else None,
        "show_headers": bool(headers),
        "show_totals": bool(totals),
        "table_style": style or "",
        "show_autofilter": table.autoFilter is not None,
    }


def _quote_sheet(name: str) -> str:
    return name if name.replace("_", "").isalnum() and name.isascii() else \
        "'" + name.replace("'", "''") + "'"


def _names_payload(wb: Workbook) -> list[dict[str, Any]]:
    """Defined names that refer to one range, like VBA's `RefersToRange` filter."""
    titles = [ws.title for ws in wb.worksheets]
    scoped: list[tuple[DefinedName, int | None]] = [(dn, None) for dn in wb.defined_names.values()]
    for i, ws in enumerate(wb.worksheets):
        scoped += [(dn, i) for dn in ws.defined_names.values()]
    out = []
    for dn, scope in scoped:
        try:
            destinations = list(dn.destinations)
        except Exception:  # constants and formulas are not ranges
            continue
        if len(destinations) != 1 or destinations[0][0] not in titles:
            continue
        title, ref = destinations[0]
        try:
            address = RangeRef.parse(ref.replace("$", "")).address
        except ValueError:
            continue
        out.append({
            "name": dn.name if scope is None else f"{_quote_sheet(titles[scope])}!{dn.name}",
            "sheet_index": titles.index(title),
            "address": address,
            "book_scope": scope is None,
            "scope_sheet_name": None if scope is None else titles[scope],
            "scope_sheet_index": scope,
        })
    return out


def _selection(ws: Worksheet) -> str | None:
    try:
        sqref = ws.sheet_view.selection[0].sqref
    except (IndexError, AttributeError):
        return "A1"
    return str(sqref).split()[0] if sqref else "A1"


def _load(path_or_workbook: str | os.PathLike[str] | Workbook) -> tuple[Workbook, Workbook | None,
                                                                        str]:
    if isinstance(path_or_workbook, Workbook):
        return path_or_workbook, None, "Book1.xlsx"
    path = Path(path_or_workbook)
    wb = openpyxl.load_workbook(path)
    has_formulas = any(_is_formula(c) for ws in wb.worksheets for row in ws.iter_rows()
                       for c in row)
    cached = openpyxl.load_workbook(path, data_only=True) if has_formulas else None
    return wb, cached, path.name


def workbook_to_payload(path_or_workbook: str | os.PathLike[str] | Workbook,
                        client: str = CLIENT_NAME) -> dict[str, Any]:
    """The xlwings-protocol payload a real client would send for this workbook.

    Given a path, formula cells carry the value Excel cached when it saved the file; given an
    openpyxl Workbook (no cached values), formula cells are sent as "".
    """
    return _payload(*_load(path_or_workbook), client=client)


def _payload(wb: Workbook, cached: Workbook | None, name: str, client: str = CLIENT_NAME
             ) -> dict[str, Any]:
    sheets = []
    for i, ws in enumerate(wb.worksheets):  # hidden sheets too, as the clients do
        cached_ws = cached.worksheets[i] if cached is not None else None
        sheets.append({
            "name": ws.title,
            "values": _sheet_values(ws, cached_ws),
            "pictures": [{"name": f"Picture {n + 1}", "width": getattr(img, "width", 0),
                          "height": getattr(img, "height", 0)}
                         for n, img in enumerate(getattr(ws, "_images", []))],
            "tables": [_table_payload(t) for t in ws.tables.values()],
        })
    active = wb.active if isinstance(wb.active, Worksheet) else wb.worksheets[0]
    return {
        "client": client,
        "version": PROTOCOL_VERSION,
        "book": {
            "name": name,
            "active_sheet_index": wb.worksheets.index(active),
            "selection": _selection(active),
        },
        "names": _names_payload(wb),
        "sheets": sheets,
    }


def snapshot_from_xlsx(path: str | os.PathLike[str]) -> BookSnapshot:
    """What the server sees when this .xlsx is sent: parse_payload(workbook_to_payload(path))."""
    return parse_payload(workbook_to_payload(path))


# ---------------------------------------------------------------------------------------
# actions -> openpyxl workbook


@dataclass(slots=True)
class _ApplyState:
    alerts: list[tuple[str, str]]
    touched_sheets: set[int] = field(default_factory=set)


def _sheet(wb: Workbook, action: dict[str, Any]) -> Worksheet:
    return wb.worksheets[action["sheet_position"]]


def _cells(ws: Worksheet, action: dict[str, Any], create: bool) -> Iterable[Cell]:
    r0, c0 = action["start_row"] + 1, action["start_column"] + 1
    rows = range(r0, r0 + action["row_count"])
    cols = range(c0, c0 + action["column_count"])
    if create:
        for r in rows:
            for c in cols:
                yield ws.cell(r, c)
    else:  # clearing must not create cells (and styles) that do not exist yet
        existing = ws._cells
        for r in rows:
            for c in cols:
                cell = existing.get((r, c))
                if cell is not None:
                    yield cell


def write_cell(cell: Cell, value: object) -> None:
    """Store one setValues value the way Excel would, but never as a formula."""
    if value is None or value == "":
        cell.value = None
        return
    if isinstance(value, str):
        text, prefixed = from_wire_text(value)
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", text)
        cell.data_type = "s"  # openpyxl would make "=..." a formula: it is text
        if cell.quotePrefix != prefixed:
            cell.quotePrefix = prefixed
        return
    cell.value = value
    if cell.quotePrefix:  # Excel drops the text prefix when a number is entered
        cell.quotePrefix = False


def _set_values(wb: Workbook, action: dict[str, Any], state: _ApplyState) -> None:
    ws = _sheet(wb, action)
    r0, c0 = action["start_row"] + 1, action["start_column"] + 1
    cell = ws.cell
    for r, row in enumerate(action["values"], start=r0):
        for c, value in enumerate(row, start=c0):
            write_cell(cell(r, c), value)
    state.touched_sheets.add(action["sheet_position"])


def _clear_contents(wb: Workbook, action: dict[str, Any], state: _ApplyState) -> None:
    for cell in _cells(_sheet(wb, action), action, create=False):
        cell.value = None
    state.touched_sheets.add(action["sheet_position"])


def _clear_formats(wb: Workbook, action: dict[str, Any], state: _ApplyState) -> None:
    for cell in _cells(_sheet(wb, action), action, create=False):
        cell._style = StyleArray()


def _clear(wb: Workbook, action: dict[str, Any], state: _ApplyState) -> None:
    for cell in _cells(_sheet(wb, action), action, create=False):
        cell.value = None
        cell._style = StyleArray()
        cell.hyperlink = None
        cell.comment = None
    state.touched_sheets.add(action["sheet_position"])


def _add_sheet(wb: Workbook, action: dict[str, Any], state: _ApplyState) -> None:
    position, name = action["args"][0], action["args"][1]
    wb.create_sheet(title=name, index=min(int(position), len(wb.worksheets)))


def _set_sheet_name(wb: Workbook, action: dict[str, Any], state: _ApplyState) -> None:
    _sheet(wb, action).title = action["args"][0]


def _set_range_color(wb: Workbook, action: dict[str, Any], state: _ApplyState) -> None:
    color = action["args"][0].lstrip("#").upper()
    fill = PatternFill(fill_type="solid", fgColor=color, bgColor=color)
    for cell in _cells(_sheet(wb, action), action, create=True):
        cell.fill = fill


def _set_number_format(wb: Workbook, action: dict[str, Any], state: _ApplyState) -> None:
    fmt = action["args"][0]
    for cell in _cells(_sheet(wb, action), action, create=True):
        cell.number_format = fmt


def _activate_sheet(wb: Workbook, action: dict[str, Any], state: _ApplyState) -> None:
    index = int(action["args"][0])
    for ws in wb.worksheets:  # several selected tabs would make Excel group them
        ws.sheet_view.tabSelected = False
    wb.active = index
    wb.worksheets[index].sheet_view.tabSelected = True


def _alert(wb: Workbook, action: dict[str, Any], state: _ApplyState) -> None:
    args = action["args"]
    state.alerts.append((str(args[0]), str(args[1]) if len(args) > 1 else ""))


def _add_hyperlink(wb: Workbook, action: dict[str, Any], state: _ApplyState) -> None:
    address, text, tip = (list(action["args"]) + [None, None])[:3]
    ws = _sheet(wb, action)
    cell = ws.cell(action["start_row"] + 1, action["start_column"] + 1)
    cell.hyperlink = Hyperlink(ref=cell.coordinate, target=address, tooltip=tip or None,
                               display=text or address)
    write_cell(cell, text or address)  # Hyperlinks.Add shows TextToDisplay in the cell


def _absolute(address: str) -> str:
    return _dollar(RangeRef.parse(address))


def _set_range_name(wb: Workbook, action: dict[str, Any], state: _ApplyState) -> None:
    ws = _sheet(wb, action)
    ref = RangeRef(action["start_row"], action["start_column"], action["row_count"],
                   action["column_count"])
    name = action["args"][0]
    wb.defined_names[name] = DefinedName(name, attr_text=f"{_quote_sheet(ws.title)}!"
                                                         f"{_dollar(ref)}")


def _names_add(wb: Workbook, action: dict[str, Any], state: _ApplyState) -> None:
    name, refers_to = action["args"][0], str(action["args"][1]).lstrip("=")
    dn = DefinedName(name, attr_text=refers_to)
    if action.get("sheet_position") is None:
        wb.defined_names[name] = dn
    else:
        _sheet(wb, action).defined_names[name] = dn


def _name_delete(wb: Workbook, action: dict[str, Any], state: _ApplyState) -> None:
    # args: [name incl. sheet, refers_to, plain name, sheet_index, book_scope, scope index]
    args = action["args"]
    plain = args[2] if len(args) > 2 else str(args[0]).split("!")[-1]
    book_scope = bool(args[4]) if len(args) > 4 else "!" not in str(args[0])
    names = wb.defined_names if book_scope else wb.worksheets[int(args[5])].defined_names
    names.pop(plain, None)


def _table_at(wb: Workbook, action: dict[str, Any]) -> Table:
    tables = list(_sheet(wb, action).tables.values())
    return tables[int(action["args"][0])]


def _add_table(wb: Workbook, action: dict[str, Any], state: _ApplyState) -> None:
    address, has_headers, style, name = (list(action["args"]) + [None] * 4)[:4]
    ws = _sheet(wb, action)
    existing = {t.name.lower() for s in wb.worksheets for t in s.tables.values()}
    if not name:
        n = 1
        while f"table{n}" in existing:
            n += 1
        name = f"Table{n}"
    table = Table(displayName=name, name=name, ref=RangeRef.parse(address).address,
                  headerRowCount=1 if has_headers else 0)
    table.tableStyleInfo = TableStyleInfo(name=style or "TableStyleMedium2",
                                          showRowStripes=True)
    ws.add_table(table)
    state.touched_sheets.add(action["sheet_position"])


def _set_table_name(wb: Workbook, action: dict[str, Any], state: _ApplyState) -> None:
    ws = _sheet(wb, action)
    table = _table_at(wb, action)
    new = action["args"][1]
    # TableList.items() yields (name, ref); dict.items gives the Table objects themselves.
    items = [(new if t is table else key, t) for key, t in dict.items(ws.tables)]
    table.name = table.displayName = new
    ws.tables.clear()  # rebuilt to keep the ListObjects order (actions address tables by it)
    ws.tables.update(items)


def _resize_table(wb: Workbook, action: dict[str, Any], state: _ApplyState) -> None:
    table = _table_at(wb, action)
    table.ref = RangeRef.parse(action["args"][1]).address
    if table.autoFilter is not None:
        table.autoFilter.ref = table.ref
    state.touched_sheets.add(action["sheet_position"])


def _noop(wb: Workbook, action: dict[str, Any], state: _ApplyState) -> None:
    """setAutofit: column widths need font metrics that openpyxl does not have."""


_HANDLERS: dict[str, Callable[[Workbook, dict[str, Any], _ApplyState], None]] = {
    "setValues": _set_values,
    "rangeClearContents": _clear_contents,
    "rangeClearFormats": _clear_formats,
    "rangeClear": _clear,
    "addSheet": _add_sheet,
    "setSheetName": _set_sheet_name,
    "setAutofit": _noop,
    "setRangeColor": _set_range_color,
    "activateSheet": _activate_sheet,
    "addHyperlink": _add_hyperlink,
    "setNumberFormat": _set_number_format,
    "alert": _alert,
    "setRangeName": _set_range_name,
    "namesAdd": _names_add,
    "nameDelete": _name_delete,
    "addTable": _add_table,
    "setTableName": _set_table_name,
    "resizeTable": _resize_table,
}


def _sync_table_columns(ws: Worksheet) -> None:
    """Excel requires each table column's name to equal its header cell (unique, text)."""
    for table in ws.tables.values():
        ref = RangeRef.parse(table.ref)
        columns = list(table.tableColumns)
        if len(columns) > ref.n_cols:
            columns = columns[: ref.n_cols]
        next_id = max((c.id for c in columns), default=0) + 1
        while len(columns) < ref.n_cols:
            columns.append(TableColumn(id=next_id, name=f"Column{next_id}"))
            next_id += 1
        if table.headerRowCount != 0:
            seen: set[str] = set()
            for i, column in enumerate(columns):
                cell = ws.cell(ref.row + 1, ref.col + i + 1)
                name = "" if cell.value is None else str(cell.value)
                if not name:
                    name = f"Column{i + 1}"
                base, n = name, 2
                while name.lower() in seen:  # Excel numbers duplicates the same way
                    name = f"{base}{n}"
                    n += 1
                seen.add(name.lower())
                if cell.value != name:
                    write_cell(cell, name)
                column.name = name
        table.tableColumns = columns


def apply_actions(workbook: Workbook, actions: list[dict[str, Any]],
                  alerts: list[tuple[str, str]] | None = None) -> None:
    """Apply the server's actions to an openpyxl workbook, in order, as Excel would.

    Only the cells an action names are changed. `alert` actions are collected into
    `alerts` as (message, title) instead of being shown. An action this client does not
    implement raises ValueError, like a missing macro fails inside Excel.
    """
    state = _ApplyState(alerts=alerts if alerts is not None else [])
    for i, action in enumerate(actions):
        handler = _HANDLERS.get(action.get("func", ""))
        if handler is None:
            raise ValueError(f"action {i + 1}: unsupported function {action.get('func')!r}")
        handler(workbook, action, state)
    for index in sorted(state.touched_sheets):
        if index < len(workbook.worksheets):
            _sync_table_columns(workbook.worksheets[index])


# ---------------------------------------------------------------------------------------
# sheet digests (server/xlwire/digest.py)


def _meta_value(payload: dict[str, Any], key: str) -> str | None:
    """kb_meta's value for `key` as the payload carries it: the cell right of the key cell
    in the kb_meta table's body."""
    for sheet in payload["sheets"]:
        for table in sheet.get("tables", []):
            if table["name"].lower() != "kb_meta" or not table.get("data_body_range_address"):
                continue
            body = RangeRef.parse(table["data_body_range_address"])
            values = sheet["values"]
            for row in values[body.row: body.row + body.n_rows]:
                cells = row[body.col: body.col + body.n_cols]
                for c, cell in enumerate(cells[:-1]):
                    if isinstance(cell, str) and cell.strip() == key:
                        value = cells[c + 1]
                        return value if isinstance(value, str) else None
    return None


def digest_sheets(payload: dict[str, Any], keep: Iterable[str] = ()) -> dict[str, str]:
    """Replace the sheets kb_meta lists in `sheet_digests` (but not those in `keep`) by their
    digest: values [[]] and no tables, as for an excluded sheet. Returns name -> digest."""
    listed = _meta_value(payload, wire_digest.META_KEY)
    try:
        names = wire_digest.parse_digests_header(listed) or {}
    except wire_digest.DigestHeaderError:
        return {}
    kept = set(keep)
    out: dict[str, str] = {}
    for sheet in payload["sheets"]:
        if sheet["name"] in names and sheet["name"] not in kept:
            values = [list(row) for row in sheet["values"]] if sheet["values"] != [[]] else []
            out[sheet["name"]] = wire_digest.sheet_digest(
                values, wire_digest.payload_table_keys(sheet["tables"]))
            sheet["values"], sheet["tables"], sheet["pictures"] = [[]], [], []
    return out


def _post_with_digests(post: Poster, button: str, payload: dict[str, Any]) -> tuple[int, str]:
    """One request with the listed sheets by digest; when the server answers 409 naming
    sheets it needs, the same request again with those sheets' values."""
    # the sheets as read, should the server ask for them (digest_sheets replaces a sheet's
    # values and tables in its dict, so a shallow copy of each dict keeps them)
    full = {**payload, "sheets": [dict(sheet) for sheet in payload["sheets"]]}
    digests = digest_sheets(payload)
    headers = {wire_digest.DIGESTS_HEADER: wire_digest.format_digests(digests)}
    response = post(button, payload, headers)
    status, body = _response_parts(response)
    need = wire_digest.parse_names(_header(response, wire_digest.NEED_VALUES_HEADER))
    if status != 409 or not need or not digests:
        return status, body
    digests = digest_sheets(full, keep=need)
    headers = {wire_digest.DIGESTS_HEADER: wire_digest.format_digests(digests)}
    return _response_parts(post(button, full, headers))


def _header(response: Any, name: str) -> str | None:
    """A header of a response, or of a (status, body, headers) tuple."""
    if isinstance(response, tuple):
        headers = response[2] if len(response) > 2 else {}
        return next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    headers = getattr(response, "headers", None)
    return headers.get(name) if headers is not None else None


# ---------------------------------------------------------------------------------------
# the round trip


class ServerError(RuntimeError):
    """The server refused the request; `message` is its text/plain explanation."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{message} (HTTP {status})")
        self.status = status
        self.message = message


@dataclass(slots=True)
class ButtonResult:
    out_path: Path
    actions: list[dict[str, Any]]
    alerts: list[tuple[str, str]]


Poster = Callable[..., Any]
"""post(button, payload[, headers]) -> a Flask/requests response, or (status, body[,
response headers]). A poster
that takes request headers (`flask_poster`, `http_poster`) says so with `takes_headers`: only
then does `run_button` send sheets by digest (server/xlwire/digest.py)."""


def _takes_headers(post: Poster) -> Poster:
    post.takes_headers = True  # type: ignore[attr-defined]
    return post


def _response_parts(response: Any) -> tuple[int, str]:
    if isinstance(response, tuple):
        status, body = response[0], response[1]
    else:
        status = getattr(response, "status_code", None) or getattr(response, "status", 0)
        if hasattr(response, "get_data"):  # Flask/Werkzeug response
            body = response.get_data()
        elif hasattr(response, "content"):  # requests/httpx
            body = response.content
        else:
            body = response.read()
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    elif not isinstance(body, str):
        body = json.dumps(body)
    return int(status), body


def flask_poster(test_client: Any, prefix: str = "/xl", headers: dict[str, str] | None = None
                 ) -> Poster:
    """A poster for a Flask test client: POST {prefix}/{button} with the JSON payload."""
    def post(button: str, payload: dict[str, Any], extra: dict[str, str] | None = None) -> Any:
        return test_client.post(f"{prefix}/{button}", json=payload,
                                headers={**(headers or {}), **(extra or {})})
    return _takes_headers(post)


def http_poster(base_url: str, auth: str | None = None, timeout: float = 120.0) -> Poster:
    """A poster over HTTP(S) with the standard library: POST {base_url}/{button}."""
    import urllib.error
    import urllib.request

    def post(button: str, payload: dict[str, Any], extra: dict[str, str] | None = None
             ) -> tuple[int, bytes, dict[str, str]]:
        headers = {"Content-Type": "application/json", **(extra or {})}
        if auth:
            headers["Authorization"] = auth
        request = urllib.request.Request(
            f"{base_url.rstrip('/')}/{button}", data=json.dumps(payload).encode(),
            headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), dict(exc.headers)
    return _takes_headers(post)


def run_button(button: str, xlsx_path: str | os.PathLike[str],
               out_path: str | os.PathLike[str] | None = None, *,
               post: Poster, digests: bool = True) -> ButtonResult:
    """Press `button` on an .xlsx: send it, apply the answer, save (in place by default).

    `digests`: the sheets kb_meta `sheet_digests` lists go by digest, not by value, and are
    sent again with their values when the server asks (409, `Kpibook-Need-Values`).

    Raises ServerError with the server's message when it answers with an error status.
    """
    path = Path(xlsx_path)
    workbook, cached, name = _load(path)
    payload = _payload(workbook, cached, name)
    if digests and getattr(post, "takes_headers", False):
        status, body = _post_with_digests(post, button, payload)
    else:
        status, body = _response_parts(post(button, payload))
    if status != 200:
        raise ServerError(status, body.strip() or f"the server answered HTTP {status}")
    try:
        actions = json.loads(body)["actions"]
    except (ValueError, KeyError, TypeError):
        raise ServerError(status, "the server's answer is not an actions list") from None
    alerts: list[tuple[str, str]] = []
    apply_actions(workbook, actions, alerts)
    target = Path(out_path) if out_path is not None else path
    workbook.save(target)
    return ButtonResult(out_path=target, actions=actions, alerts=alerts)
