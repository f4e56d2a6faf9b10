"""A parsed workbook snapshot: what an xlwings-protocol client sent us, as plain Python.

`server.xlwire.protocol.parse_payload` builds a `BookSnapshot` from the JSON body that the
Office.js, VBA, Office Scripts and headless clients POST. Cell values are Python values:
None (empty), str, int/float, bool, datetime.datetime, or `CellError` for Excel error cells.
Coordinates here are 0-based (row 0 is Excel row 1, column 0 is column A).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from operator import eq

_ADDR = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)(?::\$?([A-Za-z]{1,3})\$?(\d+))?$")


@dataclass(frozen=True, slots=True)
class CellError:
    """An Excel error value such as #DIV/0! or #N/A."""

    code: str

    def __str__(self) -> str:
        return self.code


def column_index(letters: str) -> int:
    """'A' -> 0, 'Z' -> 25, 'AA' -> 26."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def column_letters(index: int) -> str:
    """0 -> 'A', 26 -> 'AA'."""
    s = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        s = chr(65 + rem) + s
    return s


def cell_address(row: int, col: int) -> str:
    """0-based (row, col) -> 'B7'."""
    return f"{column_letters(col)}{row + 1}"


@dataclass(frozen=True, slots=True)
class RangeRef:
    """A rectangular range, 0-based and inclusive of its first cell."""

    row: int
    col: int
    n_rows: int
    n_cols: int

    @classmethod
    def parse(cls, address: str) -> RangeRef:
        """'$A$1:$C$5', 'A1:C5', 'B2' (a sheet prefix like 'Sheet1!' is ignored)."""
        addr = address.split("!")[-1].strip()
        m = _ADDR.match(addr)
        if not m:
            raise ValueError(f"not a range address: {address!r}")
        c1, r1, c2, r2 = m.groups()
        row, col = int(r1) - 1, column_index(c1)
        if c2 is None:
            return cls(row, col, 1, 1)
        return cls(row, col, int(r2) - int(r1) + 1, column_index(c2) - col + 1)

    @property
    def address(self) -> str:
        first = cell_address(self.row, self.col)
        if self.n_rows == 1 and self.n_cols == 1:
            return first
        return f"{first}:{cell_address(self.row + self.n_rows - 1, self.col + self.n_cols - 1)}"


@dataclass(frozen=True, slots=True)
class TableSnapshot:
    """An Excel table (ListObject) as the client reported it."""

    name: str
    sheet_index: int
    range: RangeRef  # whole table including header (and totals row)
    header: RangeRef | None  # None when the table hides its header row
    body: RangeRef | None  # None when the table has no data rows
    show_totals: bool = False
    style: str | None = None


@dataclass(frozen=True, slots=True)
class NameSnapshot:
    name: str
    sheet_index: int | None
    address: str | None
    book_scope: bool = True


class ColumnRows(Sequence[list[object]]):
    """The rows of a sheet held column by column (the server's stored copy of a sheet sent
    by digest), each row built when it is read: a re-score reads its tables by column and
    wants hardly any of these rows as rows (transposing the four copies' 43,000-row sheets
    cost ~40 ms at 5,000 managers). A slice is a view; a row is a new list each time it is
    read, so writing into one changes nothing (nothing writes into a snapshot's rows)."""

    __slots__ = ("_columns", "_start", "_stop")

    def __init__(self, columns: list[list[object]], start: int = 0,
                 stop: int | None = None) -> None:
        self._columns = columns
        self._start = start
        self._stop = len(columns[0]) if stop is None else stop

    def __len__(self) -> int:
        return self._stop - self._start

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            if step != 1:
                return list(self)[i]
            return ColumnRows(self._columns, self._start + start,
                              self._start + max(start, stop))
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("row index out of range")
        r = self._start + i
        return [column[r] for column in self._columns]

    def __iter__(self) -> Iterator[list[object]]:
        a, b = self._start, self._stop
        return map(list, zip(*(column[a:b] for column in self._columns), strict=True))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, ColumnRows)):
            return len(self) == len(other) and all(map(eq, self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # like a list

    def __repr__(self) -> str:
        return f"ColumnRows({list(self)!r})"


@dataclass(slots=True)
class SheetSnapshot:
    index: int
    name: str
    # anchored at A1, row-major; [[]] for an excluded sheet; ColumnRows for a stored copy
    values: list[list[object]] | ColumnRows
    tables: list[TableSnapshot] = field(default_factory=list)
    # The same cells column by column (every row as wide), when the sheet is the server's
    # stored copy of a sheet sent by digest (server/xlwire/digest.py `decode_columns`): what
    # the answer compares its columns with, without cutting them out of the rows. Read only.
    columns: list[list[object]] | None = None
    # ...and each column as the copy stored it (digest.py `StoredColumn`: index type code,
    # packed indexes, distinct values), to store the sheet again without encoding anew the
    # columns an answer leaves alone.
    stored_columns: list[tuple[str, bytes, list[object]]] | None = None

    def cell(self, row: int, col: int) -> object:
        """The value at 0-based (row, col); None outside what the client sent."""
        if row < len(self.values) and col < len(self.values[row]):
            return self.values[row][col]
        return None

    def block(self, ref: RangeRef) -> list[list[object]]:
        return [
            [self.cell(r, c) for c in range(ref.col, ref.col + ref.n_cols)]
            for r in range(ref.row, ref.row + ref.n_rows)
        ]


@dataclass(slots=True)
class BookSnapshot:
    client: str
    version: str
    name: str
    active_sheet_index: int
    selection: str | None
    sheets: list[SheetSnapshot]
    names: list[NameSnapshot] = field(default_factory=list)

    def find_table(self, name: str) -> tuple[SheetSnapshot, TableSnapshot] | None:
        """The sheet and table with this ListObject name (case-insensitive, as Excel)."""
        wanted = name.lower()
        for sheet in self.sheets:
            for table in sheet.tables:
                if table.name.lower() == wanted:
                    return sheet, table
        return None
