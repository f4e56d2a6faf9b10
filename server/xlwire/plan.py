"""What the server wants written into the workbook, before it becomes protocol actions.

Scoring and validation code produce a `WritePlan` in terms of kpibook tables and column keys;
`server.xlwire.actions.plan_to_actions` turns it into the actions list for the client, touching
only kpibook's own tables and metadata so that HR's sheets, columns, formulas and colours
survive.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class TableWrite:
    """New contents for the body of one kpibook table, by column key.

    Only the columns named in `columns` are written; other columns of the table (HR's own
    additions) are left as they are. The table is resized to `len(rows)` data rows.
    """

    table: str  # kpibook table name, e.g. "kb_scores"
    columns: list[str]  # column keys (schema keys, or indicator codes for kb_summary)
    rows: list[list[object]]  # one list per data row, aligned with `columns`
    number_formats: dict[str, str] = field(default_factory=dict)  # column key -> Excel format
    row_fills: list[str | None] | None = None  # "#rrggbb" per data row, None: leave colour
    cell_fills: dict[tuple[int, str], str] = field(default_factory=dict)  # (row, key) -> colour
    text_columns: frozenset[str] = frozenset()  # untrusted text: always stored as text
    captions: dict[str, str] = field(default_factory=dict)  # header caption for new columns
    # True: a column whose every value the table already holds (same rows, values, types) is
    # not sent again (a re-score's kb_scores/kb_summary, the keys and names of
    # kb_adjustments); its rows are still coloured. Only when the table keeps its size.
    skip_unchanged: bool = False
    # column key -> one address per data row (None: no link). The cell's own value (written
    # text-safe like every string) is the link text; the column's old hyperlinks are cleared
    # first, so a row that lost its link loses it in the workbook too (docs/workbook.md).
    hyperlinks: dict[str, list[str | None]] = field(default_factory=dict)


@dataclass(slots=True)
class WritePlan:
    tables: list[TableWrite] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)  # kb_meta key -> value to set
    alert: tuple[str, str] | None = None  # (message, title) shown to the user
    activate_table: str | None = None  # bring this table's sheet to the front
    # Tables that plan_to_actions may create on a new sheet when the workbook lacks them
    # (otherwise a missing table is an error). kb_meta is always created when missing.
    create_missing: frozenset[str] = frozenset()
