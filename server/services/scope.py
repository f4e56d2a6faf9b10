"""What a button's answer may carry: the caller's people only, and the records written back.

The engine always scores the whole record (ranks and forced distribution need everyone);
an executive or department head limited to some departments then gets an answer about their
own managers only: kb_scores, kb_summary and kb_adjustments hold nobody else, and their
kb_roster and kb_data are rewritten from the record for those people (docs/records.md), so
the workbook they keep is a workbook of their own managers and never shows a value the
server did not score.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping

from server.scoring.model import LineTable, ScoreInput, ScoreResult
from server.services.cells import cell_text
from server.services.facts import DATA_COLUMNS
from server.services.workbook import Workbook, cell_value
from server.xlwire.plan import TableWrite, WritePlan

ROSTER_COLUMNS = ["employee_id", "name", "department", "position", "email"]


def scoped(result: ScoreResult, inp: ScoreInput, people: Collection[str] | None
           ) -> tuple[ScoreResult, ScoreInput]:
    """The result and input narrowed to `people` (None: unchanged)."""
    if people is None:
        return result, inp
    keep = frozenset(people)
    rows = [r for r in getattr(result.lines, "rows", None) or
            (tuple(getattr(ln, f) for f in ln.__slots__) for ln in result.lines)
            if r[0] in keep]
    narrowed = ScoreResult(LineTable(rows),
                           tuple(e for e in result.employees if e.employee_id in keep))
    return narrowed, dataclasses.replace(
        inp, employees=tuple(e for e in inp.employees if e.employee_id in keep),
        facts=tuple(f for f in inp.facts if f.employee_id in keep),
        overrides=tuple(o for o in inp.overrides if o.employee_id in keep),
        adjustments=tuple(a for a in inp.adjustments if a.employee_id in keep))


def scoped_rows(rows: Mapping, people: Collection[str] | None) -> dict:
    """Adjustments of record (key (employee, indicator) -> row) narrowed to `people`."""
    if people is None:
        return dict(rows)
    return {key: row for key, row in rows.items() if key[0] in people}


def drop_rows_of_others(plan: WritePlan, people: Collection[str] | None) -> None:
    """Remove rows about anyone but `people` from kb_adjustments' write: the renderer keeps
    every typed row of the workbook ("never drop typed input"), which for a scoped caller
    would carry other departments' rows back."""
    if people is None:
        return
    for n, write in enumerate(plan.tables):
        if write.table != "kb_adjustments":
            continue
        values = write.column_values()
        at = write.columns.index("employee_id")
        keep = [i for i, eid in enumerate(values[at]) if eid in people]
        if len(keep) == write.n_rows:
            continue
        at_new = {i: m for m, i in enumerate(keep)}
        narrowed = TableWrite.from_columns(
            write.table, list(write.columns), [[col[i] for i in keep] for col in values],
            number_formats=write.number_formats,
            row_fills=[write.row_fills[i] for i in keep] if write.row_fills else None,
            cell_fills={(at_new[i], key): fill for (i, key), fill in write.cell_fills.items()
                        if i in at_new},
            text_columns=write.text_columns, captions=write.captions,
            hyperlinks={k: [v[i] for i in keep] for k, v in write.hyperlinks.items()})
        plan.tables[n] = narrowed


def write_back_records(plan: WritePlan, wb: Workbook, record: ScoreInput) -> None:
    """Rewrite kb_roster and kb_data from `record` (already narrowed to the caller's
    people): what the workbook showed that differs from the record, or belongs to people
    the caller may not see, is replaced. Columns the record does not hold (unit, provenance,
    manager...) keep the workbook's value of the same person and line."""
    keep_rows_of(plan, wb, "kb_targets", {e.employee_id for e in record.employees})
    roster = wb.tables.get("kb_roster")
    if roster is not None:
        kept = _rows_by_key(roster, ("employee_id",), ["manager"])
        rows = [[e.employee_id, e.name, e.department, e.position, e.email,
                 *kept.get((e.employee_id,), [None])] for e in record.employees]
        plan.tables.append(TableWrite("kb_roster", [*ROSTER_COLUMNS, "manager"], rows,
                                      text_columns=frozenset(ROSTER_COLUMNS + ["manager"])))
    data = wb.tables.get("kb_data")
    if data is not None:
        others = [c for c in DATA_COLUMNS if c not in ("employee_id", "indicator", "field",
                                                       "value", "source")]
        kept = _rows_by_key(data, ("employee_id", "indicator", "field"), others)
        rows = []
        for f in record.facts:
            extra = kept.get((f.employee_id, f.indicator, f.field)) or [None] * len(others)
            rows.append([f.employee_id, f.indicator, f.field, cell_value(f.value), f.source,
                         *extra])
        plan.tables.append(TableWrite(
            "kb_data", ["employee_id", "indicator", "field", "value", "source", *others], rows,
            text_columns=frozenset({"employee_id", "indicator", "field", "source", "unit",
                                    "status", "provenance"})))


def keep_rows_of(plan: WritePlan, wb: Workbook, table: str, people: Collection[str]) -> None:
    """Keep only the rows of `table` (e.g. kb_targets) that belong to `people`, as typed."""
    frame = wb.tables.get(table)
    if frame is None:
        return
    columns = list(frame.columns)
    rows = [[frame.value(i, c) for c in columns] for i in range(len(frame.excel_rows))
            if cell_text(frame.value(i, "employee_id")) in people]
    if len(rows) != len(frame.excel_rows):
        plan.tables.append(TableWrite(table, columns, rows))


def _rows_by_key(frame, keys: tuple[str, ...], columns: list[str]
                 ) -> dict[tuple[str, ...], list[object]]:
    out: dict[tuple[str, ...], list[object]] = {}
    for i in range(len(frame.excel_rows)):
        key = tuple(cell_text(frame.value(i, k)) for k in keys)
        if len(keys) == 3 and not key[2]:
            key = (*key[:2], "actual")
        out.setdefault(key, [frame.value(i, c) if c in frame.columns else None
                             for c in columns])
    return out
