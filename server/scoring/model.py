"""Plain data the rules engine works on: rules, people, facts, adjustments and results.

Everything here is immutable and free of I/O. Adapters (workbook reader, database, wire
protocol) build these objects; the engine (`server.scoring.engine.score`) turns them into a
`ScoreResult`. Numbers are `Decimal` so that rounding matches HR's Excel exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from itertools import starmap
from operator import attrgetter

from server.scoring.messages import Message


class IndicatorKind(StrEnum):
    """How an indicator counts towards the total."""

    QUANTITATIVE = "quantitative"  # measured value scored by a rule, inside the 100 weights
    QUALITATIVE = "qualitative"  # rating (A/B/C/D, stars) scored by a scale, inside the weights
    BONUS = "bonus"  # extra points outside the weights, capped
    PENALTY = "penalty"  # deducted points outside the weights, capped


class MissingPolicy(StrEnum):
    """What happens when an employee has no value for an applicable indicator.

    Missing data is never silently zero: the policy is chosen explicitly per indicator (or
    for the whole rule set) and every use of it is written into the explanation.
    """

    BLOCK = "block"  # the employee gets no total; status names the missing indicators
    ZERO = "zero"  # the indicator scores 0 points, explanation says why
    EXCLUDE = "exclude"  # the indicator is dropped for that employee, weights re-normalised


class GradingMethod(StrEnum):
    BANDS = "bands"  # fixed score bands, e.g. S >= 95, A >= 85 ...
    FORCED = "forced"  # forced distribution by quota within a group (e.g. department)


@dataclass(frozen=True, slots=True)
class Indicator:
    """One row of the KPI rules table.

    `params` holds the rule's parameters (target, floor, cap, steps, scale, expr, per, ...)
    already parsed: numbers as Decimal, tables as tuples, text as str. See
    `server.scoring.rules` for the parameters each rule takes.
    """

    code: str
    name: str
    kind: IndicatorKind
    weight: Decimal  # points out of 100; 0 for bonus/penalty items
    source: str  # erp, qms, crm, attendance, rating, jira, equipment, manual, ...
    rule: str  # rule type, a key of server.scoring.rules.RULES
    params: Mapping[str, object] = field(default_factory=dict)
    departments: frozenset[str] = frozenset()  # empty: applies to every department
    positions: frozenset[str] = frozenset()  # empty: applies to every position
    missing: MissingPolicy | None = None  # None: use RuleSet.missing_default
    unit: str = ""  # "%", "件", "万元", ... shown in explanations
    adjust_roles: frozenset[str] = frozenset()  # who may adjust (role or user names)
    adjust_max_up: Decimal | None = None  # largest positive adjustment in points
    adjust_max_down: Decimal | None = None  # largest negative adjustment, as a positive number

    def applies_to(self, employee: Employee) -> bool:
        if self.departments and employee.department not in self.departments:
            return False
        return not (self.positions and employee.position not in self.positions)

    @property
    def weighted(self) -> bool:
        """True when the indicator shares the 100 weights (not a bonus/penalty item)."""
        return self.kind in (IndicatorKind.QUANTITATIVE, IndicatorKind.QUALITATIVE)


@dataclass(frozen=True, slots=True)
class GradeBand:
    grade: str
    min_score: Decimal  # inclusive lower bound


@dataclass(frozen=True, slots=True)
class GradeQuota:
    grade: str
    share: Decimal  # fraction of the group, e.g. Decimal("0.2")


SCORECARD_GROUP, COMPANY_GROUP = "scorecard", "company"


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The whole scoring configuration of one template/period."""

    indicators: tuple[Indicator, ...]
    missing_default: MissingPolicy = MissingPolicy.BLOCK
    grading: GradingMethod = GradingMethod.BANDS
    bands: tuple[GradeBand, ...] = ()  # best grade first
    quotas: tuple[GradeQuota, ...] = ()  # best grade first, shares sum to 1
    # Employee attribute the quotas and group ranks apply within, or SCORECARD (the whole
    # scorecard) or COMPANY (every scorecard of the month: ScoreInput.peers)
    distribution_group: str = "department"
    total_cap: Decimal | None = None  # optional ceiling for the total (after bonus)
    weight_tolerance: Decimal = Decimal("0.01")  # |sum(weights) - 100| allowed

    def indicator(self, code: str) -> Indicator:
        for ind in self.indicators:
            if ind.code == code:
                return ind
        raise KeyError(code)


@dataclass(frozen=True, slots=True)
class Employee:
    employee_id: str
    name: str
    department: str
    position: str = ""
    email: str = ""


@dataclass(slots=True, unsafe_hash=True)  # not frozen: one per data line, see IndicatorScore
class Fact:
    """One input value for (employee, indicator, field).

    `field` is "actual" for the measured value; formula rules may read further named inputs
    (e.g. "resolved" and "total"). `value` is a Decimal for numbers or a str for ratings.
    """

    employee_id: str
    indicator: str
    value: Decimal | str
    field: str = "actual"
    source: str = ""
    stale: bool = False  # last good value kept after a failed pull


@dataclass(frozen=True, slots=True)
class TargetOverride:
    """Per-employee parameters that replace the indicator's (target, floor, cap, ...)."""

    employee_id: str
    indicator: str
    params: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Adjustment:
    employee_id: str
    indicator: str
    points: Decimal
    reason: str
    author: str = ""


@dataclass(frozen=True, slots=True, weakref_slot=True)  # weakref: engine's one-run memo
class ScoreInput:
    rules: RuleSet
    employees: tuple[Employee, ...]
    facts: tuple[Fact, ...] = ()
    overrides: tuple[TargetOverride, ...] = ()
    adjustments: tuple[Adjustment, ...] = ()
    # The totals of the month's other scorecards, when ranks and quotas are company-wide
    # (distribution group "company"): they take part in ranks and forced distribution but
    # produce no result here.
    peers: tuple[Decimal, ...] = ()


class LineStatus(StrEnum):
    OK = "ok"
    MISSING = "missing"  # no data, policy BLOCK: not scored
    ZEROED = "zeroed"  # no data, policy ZERO
    EXCLUDED = "excluded"  # no data, policy EXCLUDE
    NOT_APPLICABLE = "n/a"  # indicator does not apply to this employee


# The result classes are built once per line (100,000 in a month), so they are not frozen: a
# frozen dataclass's __init__ sets every field through object.__setattr__, which made building
# them ~7x slower. unsafe_hash keeps them hashable exactly as the frozen versions were (a hash
# of all fields); treat them as read-only all the same.
@dataclass(slots=True, unsafe_hash=True)
class IndicatorScore:
    """The score of one employee on one indicator, with how it was reached (read-only)."""

    employee_id: str
    indicator: str
    actual: Decimal | str | None
    target: Decimal | None
    weight: Decimal  # effective weight after re-normalisation (0 for bonus/penalty)
    base_points: Decimal | None  # rounded rule result before adjustment
    adjustment: Decimal  # points added by adjustments (0 when none)
    points: Decimal | None  # base_points + adjustment; None when not scored
    explanation: str
    status: LineStatus = LineStatus.OK
    stale: bool = False


LINE_FIELDS: tuple[str, ...] = tuple(IndicatorScore.__dataclass_fields__)
"""The fields of a line, in order: what each row of a `LineTable` holds."""


class LineTable(Sequence[IndicatorScore]):
    """The lines of a result as the engine makes them, read as a sequence of IndicatorScore
    objects: one tuple of field values per line (`LINE_FIELDS` order), or one list per field.

    A month is 50,000 lines and what reads them mostly wants whole columns (kb_scores, the
    stored run, the history's score files): `column` gives one without building an object
    per line (issue #3). The engine hands over columns (`from_columns`), some of them made
    only when first read (the explanations: text for 50,000 lines costs more than their
    figures, and a Score that shows some lines should not pay for all, issue #16). Rows and
    objects are made, all at once, only when a line is asked for. Read-only, like the
    lines themselves."""

    __slots__ = ("_rows", "_objects", "_columns", "_lazy", "_n")

    def __init__(self, rows: Iterable[tuple]) -> None:
        self._rows: tuple[tuple, ...] | None = tuple(rows)
        self._objects: tuple[IndicatorScore, ...] | None = None
        self._columns: dict[str, list] | None = None
        self._lazy: dict[str, Callable[[], list]] = {}
        self._n = len(self._rows)

    @classmethod
    def from_columns(cls, columns: Mapping[str, list],
                     lazy: Mapping[str, Callable[[], list]] | None = None,
                     n: int | None = None) -> LineTable:
        """Lines given as one list per field (every field of `LINE_FIELDS`, each either in
        `columns` or made by its function in `lazy` when first read); `n`: the number of
        lines, needed only when every column is lazy."""
        table = cls.__new__(cls)
        table._rows = None
        table._objects = None
        table._columns = dict(columns)
        table._lazy = dict(lazy or {})
        if set(table._columns) | set(table._lazy) != set(LINE_FIELDS):
            raise ValueError("a LineTable needs every field of LINE_FIELDS")
        table._n = n if n is not None else len(next(iter(table._columns.values())))
        return table

    @property
    def rows(self) -> tuple[tuple, ...]:
        if self._rows is None:
            columns = [self.column(name) for name in LINE_FIELDS]
            self._rows = tuple(zip(*columns, strict=True))
        return self._rows

    def column(self, field_name: str) -> list:
        """The values of one field, one per line (a shared list: do not edit it)."""
        if self._columns is None:
            transposed = zip(*self._rows, strict=True) if self._rows else \
                ((),) * len(LINE_FIELDS)
            self._columns = dict(zip(LINE_FIELDS, map(list, transposed), strict=True))
        found = self._columns.get(field_name)
        if found is None:
            make = self._lazy.get(field_name)
            if make is None:  # another thread made it meanwhile, or no such field
                return self._columns[field_name]
            found = self._columns.setdefault(field_name, make())
            self._lazy.pop(field_name, None)  # what made it (the engine's run) can go
        return found

    def _lines(self) -> tuple[IndicatorScore, ...]:
        if self._objects is None:
            self._objects = tuple(starmap(IndicatorScore, self.rows))
        return self._objects

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index):  # type: ignore[override]
        return self._lines()[index]

    def __iter__(self) -> Iterator[IndicatorScore]:
        return iter(self._lines())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LineTable):
            return self.rows == other.rows
        if isinstance(other, Sequence) and not isinstance(other, str):
            return self._lines() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._lines())

    def __repr__(self) -> str:
        return f"LineTable({self._n} lines)"


def line_columns(lines: Sequence[IndicatorScore], *field_names: str) -> list[list]:
    """The values of each named field, one list per field and a value per line: straight from
    a LineTable, attribute by attribute from any other sequence of lines."""
    if isinstance(lines, LineTable):
        return [lines.column(name) for name in field_names]
    return [list(map(attrgetter(name), lines)) for name in field_names]


@dataclass(slots=True, unsafe_hash=True)  # not frozen, for speed: see IndicatorScore
class EmployeeResult:
    employee_id: str
    total: Decimal | None  # None when blocked by missing data
    grade: str | None
    rank: int | None  # competition rank over everyone scored ("1224")
    group_rank: int | None  # rank within the distribution group (department)
    status: str  # "ok" or a human-readable reason the total is missing
    missing: tuple[str, ...] = ()  # indicator codes that blocked the total


@dataclass(frozen=True, slots=True)
class ScoreResult:
    lines: Sequence[IndicatorScore]  # the engine's: a LineTable
    employees: tuple[EmployeeResult, ...]

    def line(self, employee_id: str, indicator: str) -> IndicatorScore:
        for ln in self.lines:
            if ln.employee_id == employee_id and ln.indicator == indicator:
                return ln
        raise KeyError((employee_id, indicator))

    def employee(self, employee_id: str) -> EmployeeResult:
        for emp in self.employees:
            if emp.employee_id == employee_id:
                return emp
        raise KeyError(employee_id)


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation problem, located the way HR finds it in the workbook."""

    table: str  # kpibook table name, e.g. "kb_rules"
    row: int | None  # Excel row number on the sheet (1-based), None for table-level problems
    column: str | None  # header caption as HR sees it
    message: str  # why, in words HR understands
    sheet: str | None = None  # sheet name when known
    cell: str | None = None  # A1 address when known, e.g. "D7"
    key: tuple[str, ...] | None = None  # (employee_id[, indicator]) or (code,): lets an
    # adapter that knows where rows sit fill in sheet/row/cell for engine-found problems
    why: Message | None = None  # `message` unrendered: the same reason in any language

    def text(self, lang: str) -> str:
        """The message in `lang` ("zh"/"en") when it came from the catalogue, else as is."""
        return self.why.text(lang) if self.why is not None else self.message

    def __str__(self) -> str:
        where = [f"sheet '{self.sheet}'" if self.sheet else f"table {self.table}"]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column '{self.column}'")
        if self.cell:
            where.append(f"cell {self.cell}")
        return ", ".join(where) + f": {self.message}"


class ValidationError(Exception):
    """Raised with every problem found; nothing is scored when it is raised."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
