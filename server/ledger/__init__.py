"""Git-backed history of KPI adjustments, scores and approvals (pure library).

No Flask, no database: the server calls `History` through a thin service. See
docs/history.md for the repository layout, commit format, write order and recovery.
"""

from .layout import LayoutError
from .lock import FileLock, Lock, LockTimeout
from .merge import apply_edits, edits_between, merge
from .model import (
    CellChange,
    CellDiff,
    CellKey,
    Cells,
    CellValue,
    CellVersion,
    CommitInfo,
    Conflict,
    DiffResult,
    Editor,
    EmployeeInfo,
    Kind,
    MergeResult,
    PeriodSnapshot,
    ScoreDiff,
    ScoreLine,
    ScoreSnapshot,
    SubmitResult,
    TotalDiff,
    TotalLine,
    make_score_lines,
)
from .store import ConcurrentUpdate, History, HistoryError, PeriodClosed

__all__ = [
    "CellChange", "CellDiff", "CellKey", "CellValue", "CellVersion", "Cells", "CommitInfo",
    "ConcurrentUpdate", "Conflict", "DiffResult", "Editor", "EmployeeInfo", "FileLock",
    "History", "HistoryError", "Kind", "LayoutError", "Lock", "LockTimeout", "MergeResult",
    "PeriodClosed", "PeriodSnapshot", "ScoreDiff", "ScoreLine", "ScoreSnapshot",
    "SubmitResult", "TotalDiff", "TotalLine", "apply_edits", "edits_between",
    "make_score_lines", "merge",
]
