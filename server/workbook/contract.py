"""Workbook snapshot -> located tables -> engine input, or every problem with its cell.

`read_tables` finds kpibook's tables (ListObjects with fixed names) in a `BookSnapshot` and
maps HR's header captions (Chinese, English or bilingual) onto the schema's column keys.
`to_score_input` converts every cell into the engine's dataclasses; each problem names the
sheet, Excel row, column caption as HR wrote it and the A1 cell. Nothing is half-converted:
either a complete `ScoreInput` comes back or a `ValidationError` carrying all problems.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from server.scoring.model import Problem
from server.workbook.schema import TABLES, TableSpec, fold, match_column
from server.xlwire.snapshot import BookSnapshot, CellError, cell_address

SCORING_TABLES = ("kb_rules", "kb_roster", "kb_data")
"""Tables a workbook must have to be scored; the others fall back to defaults when absent."""


@dataclass(slots=True)
class TableFrame:
    """One kpibook table as found in the workbook, with where each value sits.

    `frame` has one column per schema key found (raw cell values, object dtype) and one row per
    non-blank data row; `excel_rows[i]` is the 1-based Excel row of `frame.iloc[i]`.
    """

    spec: TableSpec
    sheet: str
    sheet_index: int
    header_row: int  # 0-based sheet row of the header
    first_col: int  # 0-based sheet column of the table's first column
    columns: dict[str, tuple[str, int]]  # key -> (caption as HR wrote it, 0-based sheet col)
    extra_columns: dict[str, int]  # HR's own columns: caption -> 0-based sheet col
    frame: pd.DataFrame
    excel_rows: list[int]
    n_body_rows: int = 0  # data rows in the table, blank ones included

    @property
    def name(self) -> str:
        return self.spec.name

    def has(self, key: str) -> bool:
        return key in self.columns

    def caption(self, key: str) -> str:
        """The caption HR wrote for a column, or the template's caption when it is absent."""
        if key in self.columns:
            return self.columns[key][0]
        return self.spec.column(key).caption

    def cell(self, i: int, key: str) -> str | None:
        """A1 address of frame row `i`, column `key` (None when the column is absent)."""
        if key not in self.columns:
            return None
        return cell_address(self.excel_rows[i] - 1, self.columns[key][1])

    def value(self, i: int, key: str) -> object:
        """Raw value of frame row `i`, column `key`; None when the column is absent."""
        if key not in self.columns:
            return None
        return self.frame.iat[i, self.frame.columns.get_loc(key)]

    def problem(self, i: int | None, key: str | None, message: str) -> Problem:
        """A problem located at frame row `i` (None: the whole table) and column `key`."""
        row = self.excel_rows[i] if i is not None else None
        column = self.caption(key) if key else None
        cell = self.cell(i, key) if i is not None and key else None
        return Problem(self.name, row, column, message, sheet=self.sheet, cell=cell)


@dataclass(slots=True)
class Tables:
    """The kpibook tables of one workbook, and the problems found while locating them."""

    frames: dict[str, TableFrame] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def __contains__(self, name: str) -> bool:
        return name in self.frames

    def __getitem__(self, name: str) -> TableFrame:
        return self.frames[name]

    def get(self, name: str) -> TableFrame | None:
        return self.frames.get(name)


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read_tables(book: BookSnapshot, required: Iterable[str] = SCORING_TABLES) -> Tables:
    """Locate every kpibook table in `book`; problems for missing tables and columns.

    Tables not in `required` are read when present. A table whose required columns are missing
    is reported and left out of `frames`, so later steps never see a half-understood table.
    """
    tables = Tables()
    required = tuple(required)
    for name, spec in TABLES.items():
        found = book.find_table(name)
        if found is None:
            if name in required:
                tables.problems.append(Problem(
                    name, None, None,
                    f"the workbook has no table {name} (sheet {spec.zh} / {spec.en}): "
                    f"restore the sheet from the template or name its table {name} "
                    f"(Table Design > Table Name)"))
            continue
        sheet, table = found
        if table.header is None:
            tables.problems.append(Problem(
                name, None, None,
                f"table {name} hides its header row; turn on Table Design > Header Row",
                sheet=sheet.name))
            continue
        frame, problems = _read_table(spec, sheet.name, sheet.index, sheet, table)
        tables.problems.extend(problems)
        if frame is not None:
            tables.frames[name] = frame
    return tables


def _read_table(spec, sheet_name, sheet_index, sheet, table) -> tuple[TableFrame | None, list]:
    header_ref = table.header
    captions = sheet.block(header_ref)[0]
    columns: dict[str, tuple[str, int]] = {}
    extra: dict[str, int] = {}
    problems: list[Problem] = []
    for offset, caption in enumerate(captions):
        col = header_ref.col + offset
        text = "" if caption is None else str(caption).strip()
        column = match_column(spec, text) if text else None
        if column is None:
            extra[text or cell_address(header_ref.row, col)] = col
            continue
        if column.key in columns:
            first_caption, first_col = columns[column.key]
            problems.append(Problem(
                spec.name, header_ref.row + 1, text,
                f"columns '{first_caption}' ({cell_address(header_ref.row, first_col)}) and "
                f"'{text}' ({cell_address(header_ref.row, col)}) both mean "
                f"{column.caption}; rename or delete one of them",
                sheet=sheet_name, cell=cell_address(header_ref.row, col)))
            continue
        columns[column.key] = (text, col)
    for column in spec.columns:
        if column.required and column.key not in columns:
            accepted = ", ".join(f"'{n}'" for n in dict.fromkeys(
                (column.caption, column.zh, column.en, *column.aliases)))
            problems.append(Problem(
                spec.name, header_ref.row + 1, column.caption,
                f"table {spec.name} on sheet '{sheet_name}' has no column {column.caption}; "
                f"accepted captions: {accepted}",
                sheet=sheet_name))
    if problems:
        return None, problems

    records: list[list[object]] = []
    excel_rows: list[int] = []
    body = table.body
    n_body = body.n_rows if body is not None else 0
    for r in range(n_body):
        sheet_row = body.row + r
        values = [sheet.cell(sheet_row, col) for _, col in columns.values()]
        extras = [sheet.cell(sheet_row, col) for col in extra.values()]
        if all(_is_blank(v) for v in values + extras):
            continue  # wholly blank rows are spacing, not data
        records.append(values)
        excel_rows.append(sheet_row + 1)
    frame = pd.DataFrame(records, columns=list(columns), dtype=object)
    return TableFrame(spec, sheet_name, sheet_index, header_ref.row, table.range.col,
                      columns, extra, frame, excel_rows, n_body), []


def read_meta(tables: Tables) -> dict[str, str]:
    """kb_meta as plain strings (empty when the workbook has no metadata sheet)."""
    meta: dict[str, str] = {}
    frame = tables.get("kb_meta")
    if frame is None:
        return meta
    for i in range(len(frame.frame)):
        key = frame.value(i, "key")
        if _is_blank(key) or isinstance(key, CellError):
            continue
        value = frame.value(i, "value")
        meta[str(key).strip()] = "" if value is None else _plain_text(value)
    return meta


def _plain_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _folded(value: object) -> str:
    return fold(_plain_text(value)) if value is not None else ""
