"""What the server wants written into the workbook, before it becomes protocol actions.

Scoring and validation code produce a `WritePlan` in terms of kpibook tables and column keys;
`server.xlwire.actions.plan_to_actions` turns it into the actions list for the client, touching
only kpibook's own tables and metadata so that HR's sheets, columns, formulas and colours
survive.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class TableWrite:
    """New contents for the body of one kpibook table, by column key.

    Only the columns named in `columns` are written; other columns of the table (HR's own
    additions) are left as they are. The table is resized to `n_rows` data rows.

    The contents are given either as `rows` (one list per data row, aligned with `columns`)
    or, with `TableWrite.from_columns`, as one list per column: what `plan_to_actions`
    works with (compare with the sheet, make text safe, convert), so a plan built column by
    column (kb_scores at 5,000 managers: 43,000 rows x 13) is never turned into rows and back.
    `rows` still works on a column-wise write (the Submit button edits kb_adjustments through
    it): the rows are built on first use and from then on they are the contents.
    """

    __slots__ = ("table", "columns", "_rows", "_data", "_n", "number_formats", "row_fills",
                 "cell_fills", "text_columns", "captions", "skip_unchanged", "unchanged",
                 "hyperlinks")

    def __init__(self, table: str, columns: list[str], rows: list[list[object]] | None = None,
                 number_formats: dict[str, str] | None = None,
                 row_fills: list[str | None] | None = None,
                 cell_fills: dict[tuple[int, str], str] | None = None,
                 text_columns: frozenset[str] = frozenset(),
                 captions: dict[str, str] | None = None, skip_unchanged: bool = False,
                 hyperlinks: dict[str, list[str | None]] | None = None,
                 unchanged: frozenset[str] = frozenset()) -> None:
        self.table = table  # kpibook table name, e.g. "kb_scores"
        self.columns = columns  # column keys (schema keys, or indicator codes for kb_summary)
        self._rows: list[list[object]] | None = [] if rows is None else rows
        self._data: list[list[object]] | None = None  # one list per column (from_columns)
        self._n = 0
        # column key -> Excel number format
        self.number_formats = {} if number_formats is None else number_formats
        # "#rrggbb" per data row, None: leave colour
        self.row_fills = row_fills
        # (row, key) -> colour
        self.cell_fills = {} if cell_fills is None else cell_fills
        self.text_columns = text_columns  # untrusted text: always stored as text
        self.captions = {} if captions is None else captions  # header caption, new columns
        # True: a column whose every value the table already holds (same rows, values,
        # types) is not sent again (a re-score's kb_scores/kb_summary, the keys and names of
        # kb_adjustments); its rows are still coloured. Only when the table keeps its size.
        self.skip_unchanged = skip_unchanged
        # Columns the producer has already found equal to the table's body, row for row
        # (same values and types, no blank row in between), when the table keeps its size:
        # not compared again (kb_adjustments' keys, read by the renderer anyway).
        self.unchanged = unchanged
        # column key -> one address per data row (None: no link). The cell's own value
        # (written text-safe like every string) is the link text; the column's old
        # hyperlinks are cleared first, so a row that lost its link loses it in the workbook
        # too (docs/workbook.md).
        self.hyperlinks = {} if hyperlinks is None else hyperlinks

    @classmethod
    def from_columns(cls, table: str, columns: list[str], data: list[list[object]],
                     **options: object) -> TableWrite:
        """A write given column by column: `data[j]` holds the values of `columns[j]`, one
        per data row (every list as long). `options` are the other constructor arguments."""
        if len(data) != len(columns):
            raise ValueError(f"{table}: {len(data)} value lists for {len(columns)} columns")
        n = len(data[0]) if data else 0
        if any(len(values) != n for values in data):
            raise ValueError(f"{table}: every column needs {n} values")
        write = cls(table, columns, None, **options)  # type: ignore[arg-type]
        write._rows, write._data, write._n = None, data, n
        return write

    @property
    def rows(self) -> list[list[object]]:
        """One list per data row, aligned with `columns` (editable: edits are written)."""
        if self._rows is None:
            data, self._data = self._data or [], None
            self._rows = list(map(list, zip(*data, strict=True))) if data else \
                [[] for _ in range(self._n)]
        return self._rows

    @rows.setter
    def rows(self, rows: list[list[object]]) -> None:
        self._rows, self._data = rows, None

    def column(self, key: str) -> list[object]:
        """The values of column `key`, one per data row (editable: edits are written)."""
        return self._by_column()[self.columns.index(key)]

    def set_column(self, key: str, values: list[object]) -> None:
        """Replace the values of column `key`, one per data row; a new key adds a column."""
        if len(values) != self.n_rows:
            raise ValueError(f"{self.table}: {len(values)} values for {self.n_rows} rows")
        data = self._by_column()
        if key in self.columns:
            data[self.columns.index(key)] = values
        else:
            self.columns.append(key)
            data.append(values)

    def _by_column(self) -> list[list[object]]:
        """The contents as one list per column; a write given as rows becomes a column-wise
        one (`rows` builds the rows again when asked)."""
        if self._rows is not None:
            self._data, self._n, self._rows = self.column_values(), len(self._rows), None
        return self._data  # type: ignore[return-value]

    @property
    def n_rows(self) -> int:
        return len(self._rows) if self._rows is not None else self._n

    def column_values(self) -> list[list[object]]:
        """One list of values per key of `columns`, in that order (do not edit them).

        Raises ValueError when a row or a column list does not match `columns`."""
        if self._data is not None:
            if len(self._data) != len(self.columns):
                raise ValueError(f"{self.table}: {len(self._data)} value lists for "
                                 f"{len(self.columns)} columns")
            return self._data
        rows, width = self._rows or [], len(self.columns)
        if not rows:
            return [[] for _ in range(width)]
        try:  # the transposition checks the row lengths at C speed
            data = list(map(list, zip(*rows, strict=True)))
        except ValueError:
            data = []
        if len(data) != width:
            raise ValueError(f"{self.table}: every row needs {width} values")
        return data

    def __repr__(self) -> str:
        return (f"TableWrite({self.table!r}, {self.columns!r}, {self.n_rows} rows, "
                f"skip_unchanged={self.skip_unchanged})")


@dataclass(slots=True)
class WritePlan:
    tables: list[TableWrite] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)  # kb_meta key -> value to set
    alert: tuple[str, str] | None = None  # (message, title) shown to the user
    activate_table: str | None = None  # bring this table's sheet to the front
    # Tables that plan_to_actions may create on a new sheet when the workbook lacks them
    # (otherwise a missing table is an error). kb_meta is always created when missing.
    create_missing: frozenset[str] = frozenset()
