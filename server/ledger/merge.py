"""Three-way merge of adjustment cells, cell by cell (pure).

A cell's value is its (points, reason) pair, or absent. For each cell:

* both sides equal (unchanged, or changed identically) -> that value;
* only one side changed -> that side's value (a removal is a change);
* both changed, differently -> a Conflict; the merged result keeps the branch's value so
  nothing already accepted is overwritten silently.
"""

from __future__ import annotations

from collections.abc import Mapping

from .model import CellKey, Cells, CellValue, Conflict, MergeResult


def merge(base: Cells, ours: Cells, theirs: Cells) -> MergeResult:
    """Merge `theirs` (a submission made against `base`) into `ours` (the branch head)."""
    merged: dict[CellKey, CellValue] = dict(ours)
    conflicts: list[Conflict] = []
    for cell in sorted(set(base) | set(ours) | set(theirs)):
        b, o, t = base.get(cell), ours.get(cell), theirs.get(cell)
        if o == t or t == b:
            continue  # nothing to take from theirs
        if o == b:
            if t is None:
                merged.pop(cell, None)
            else:
                merged[cell] = t
            continue
        conflicts.append(Conflict(cell=cell, base=b, head=o, submitted=t))
    return MergeResult(merged=merged, conflicts=tuple(conflicts))


def apply_edits(base: Cells, edits: Mapping[CellKey, CellValue | None]) -> dict[CellKey, CellValue]:
    """The submitter's full state: `base` with `edits` applied (None removes a cell)."""
    out = dict(base)
    for cell, value in edits.items():
        if value is None:
            out.pop(cell, None)
        else:
            out[cell] = value
    return out


def edits_between(base: Cells, submitted: Cells) -> dict[CellKey, CellValue | None]:
    """The edits that turn `base` into `submitted` (for clients that send the full list)."""
    edits: dict[CellKey, CellValue | None] = {
        cell: value for cell, value in submitted.items() if base.get(cell) != value}
    edits.update({cell: None for cell in base if cell not in submitted})
    return edits
