"""The cells of a change to adjustments: a cell's key (employee, indicator), what happened to
each cell (CellReport) and to the whole change (SubmitOutcome), and how a typed kb_adjustments
cell reads (text, number). Shared by Submit (services/submit.py), web adjustments and
reverts (services/adjust.py) and the workbook answer (services/answer.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from server.models import Adjustment as AdjustmentRow
from server.models import ScoreRun
from server.scoring.model import ScoreInput, ScoreResult
from server.workbook.contract import Tables

Key = tuple[str, str]


@dataclass
class CellReport:
    """What happened to one kb_adjustments cell of a submission."""

    key: Key
    state: str  # accepted | rejected | conflict
    message: str


@dataclass
class SubmitOutcome:
    submission_id: str
    commit: str | None  # the submission's commit (None: nothing committed)
    head: str | None  # the history head the answer was computed at (the new base_version)
    duplicate: bool
    run: ScoreRun | None
    result: ScoreResult
    inp: ScoreInput
    reports: dict[Key, CellReport] = field(default_factory=dict)
    restored: list[str] = field(default_factory=list)  # computed cells typed over
    authoritative: dict[Key, AdjustmentRow] = field(default_factory=dict)
    records: object = None  # the records.Resolution the submission was checked against

    def count(self, state: str) -> int:
        return sum(1 for r in self.reports.values() if r.state == state)


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def texts(values: list[object]) -> list[str]:
    """`cell_text` over a column, at C speed when it is all text."""
    if set(map(type, values)) <= {str}:
        return list(map(str.strip, values))  # type: ignore[arg-type]
    return list(map(cell_text, values))


def cell_number(value: object) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        d = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
        return d.quantize(Decimal("0.01")) if d.is_finite() else None
    except (ArithmeticError, ValueError):
        return None


def without_table(tables: Tables, name: str) -> Tables:
    return Tables({k: v for k, v in tables.frames.items() if k != name},
                  [p for p in tables.problems if p.table != name])
