"""Plain data of the adjustment history: cells, editors, commits, merges, diffs.

Immutable dataclasses (and one named tuple) only, no I/O. A *cell* is one (employee,
indicator) pair; its value in the adjustment history is the executive's adjustment (points +
mandatory reason). Absence of a cell (``None``) means "no adjustment".
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

CellKey = tuple[str, str]  # (employee_id, indicator code)


class Kind(StrEnum):
    """What a commit records; written as the ``Kind:`` trailer."""

    ADJUSTMENT = "adjustment"
    BASELINE = "baseline"
    RESCORE = "rescore"
    REVERT = "revert"
    APPROVAL = "approval"
    REOPEN = "reopen"


@dataclass(frozen=True, slots=True)
class CellValue:
    """An adjustment: points added to (or, negative, taken from) a cell, and why."""

    points: Decimal
    reason: str


Cells = Mapping[CellKey, CellValue]


@dataclass(frozen=True, slots=True)
class Editor:
    """The person a commit is attributed to (git author and committer)."""

    name: str
    email: str


@dataclass(frozen=True, slots=True)
class Stamp:
    """Who set a cell's current value, when, in which submission (kept beside the value)."""

    editor: Editor
    when: dt.datetime
    submission_id: str


@dataclass(frozen=True, slots=True)
class CellChange:
    """One cell changed by one commit, as written in the commit's trailers."""

    employee_id: str
    indicator: str
    old: Decimal | None  # None: no adjustment before
    new: Decimal | None  # None: adjustment removed
    reason: str

    @property
    def cell(self) -> CellKey:
        return (self.employee_id, self.indicator)


@dataclass(frozen=True, slots=True)
class CommitInfo:
    """A commit of the history with its trailers parsed."""

    commit: str
    parent: str | None
    author: Editor
    when: dt.datetime
    kind: str  # a Kind value (kept as str so unknown kinds from the future still parse)
    period: str
    submission_id: str
    subject: str
    cells: tuple[CellChange, ...] = ()
    reverts: str | None = None  # for Kind.REVERT: the commit undone


@dataclass(frozen=True, slots=True)
class Conflict:
    """A cell both the branch and the submitter changed, to different values.

    `head_change` is the commit that last changed the cell on the branch: who and when made
    the value the submitter would have overwritten.
    """

    cell: CellKey
    base: CellValue | None
    head: CellValue | None
    submitted: CellValue | None
    head_change: CommitInfo | None = None


@dataclass(frozen=True, slots=True)
class MergeResult:
    merged: dict[CellKey, CellValue]
    conflicts: tuple[Conflict, ...] = ()


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """What happened to a submission.

    `commit` is None when nothing was committed (every edit conflicted or was already the
    branch's value). `duplicate` is True when this submission id was already on the branch
    (an idempotent retry); `commit` is then that earlier commit.
    """

    commit: str | None
    head: str | None  # branch head after the call
    applied: tuple[CellChange, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    duplicate: bool = False

    @property
    def complete(self) -> bool:
        return not self.conflicts


class ScoreLine(NamedTuple):
    """One employee x indicator line of a scoring run. A tuple: a Score writes 50,000 of
    them, which `make_score_lines` builds at C speed (a frozen dataclass costs ~1 µs each)."""

    base: Decimal | None  # rule result before adjustment; None when not scored
    adjustment: Decimal
    points: Decimal | None


def make_score_lines(bases: Iterable[Decimal | None], adjustments: Iterable[Decimal],
                     points: Iterable[Decimal | None]) -> Iterator[ScoreLine]:
    """ScoreLine(base, adjustment, points) for each triple, without a Python call each."""
    return map(_new_score_line, zip(bases, adjustments, points, strict=True))


_new_score_line = functools.partial(tuple.__new__, ScoreLine)


@dataclass(frozen=True, slots=True)
class TotalLine:
    total: Decimal | None
    grade: str | None
    rank: int | None
    group_rank: int | None


@dataclass(frozen=True, slots=True)
class EmployeeInfo:
    name: str
    department: str


@dataclass(frozen=True, slots=True)
class ScoreSnapshot:
    """Everything a baseline or re-score writes for a period."""

    lines: Mapping[CellKey, ScoreLine]
    totals: Mapping[str, TotalLine]
    employees: Mapping[str, EmployeeInfo] = field(default_factory=dict)
    rules: Mapping[str, object] | None = None  # JSON-serialisable rules snapshot


@dataclass(frozen=True, slots=True)
class PeriodSnapshot:
    """The full state of a period at one commit, rebuilt from the repository alone."""

    commit: str | None
    period: str
    adjustments: dict[CellKey, CellValue]
    scores: dict[CellKey, ScoreLine]
    totals: dict[str, TotalLine]
    employees: dict[str, EmployeeInfo]
    status: dict[str, object]
    rules: dict[str, object] | None


@dataclass(frozen=True, slots=True)
class CellDiff:
    employee_id: str
    indicator: str
    old: CellValue | None
    new: CellValue | None
    # who made the new value (for a removal: who removed it), from the stamp kept in the
    # file or, for removals, the newest commit between the two versions naming the cell
    changed_by: Stamp | None
    reason: str  # the new value's reason, or the removal's reason


@dataclass(frozen=True, slots=True)
class ScoreDiff:
    employee_id: str
    indicator: str
    old: ScoreLine | None
    new: ScoreLine | None


@dataclass(frozen=True, slots=True)
class TotalDiff:
    employee_id: str
    old: TotalLine | None
    new: TotalLine | None

    @property
    def total_delta(self) -> Decimal | None:
        if self.old is None or self.new is None or None in (self.old.total, self.new.total):
            return None
        return self.new.total - self.old.total  # type: ignore[operator]

    @property
    def rank_delta(self) -> int | None:
        """Positive when the employee moved up (rank number got smaller)."""
        if self.old is None or self.new is None or None in (self.old.rank, self.new.rank):
            return None
        return self.old.rank - self.new.rank  # type: ignore[operator]


@dataclass(frozen=True, slots=True)
class DiffResult:
    a: str | None
    b: str | None
    cells: tuple[CellDiff, ...]
    scores: tuple[ScoreDiff, ...]
    totals: tuple[TotalDiff, ...]


@dataclass(frozen=True, slots=True)
class CellVersion:
    """One value a cell had: set (or removed, value None) by `change`."""

    value: CellValue | None
    change: CommitInfo
