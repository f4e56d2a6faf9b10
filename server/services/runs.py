"""Score runs: the engine over a period's inputs with the adjustments of record, the run's
number and its stored snapshot (ScoreRun).

The rules themselves live in server.scoring.engine; this module decides only what is stored
for a run and which adjustments it is scored with."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from enum import Enum
from operator import attrgetter

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.ledger import CellValue
from server.models import Adjustment as AdjustmentRow
from server.models import AdjustmentStatus, Period, ScoreRun, User
from server.scoring.model import (
    COMPANY_GROUP,
    Adjustment,
    ScoreInput,
    ScoreResult,
)
from server.services import stored_run
from server.services.cells import Key
from server.services.periods import digest, to_jsonable


def run_engine(inp: ScoreInput, lang: str, base: ScoreInput | None = None) -> ScoreResult:
    """`base`: the workbook's validated input when `inp` differs from it only in its
    adjustments (`authoritative_input`): the engine then re-scores only the people whose
    adjustments differ instead of everyone (engine.score)."""
    from server.scoring.engine import score

    return score(inp, lang, base=base)


def next_run_no(session: Session, period_id: int) -> int:
    """The next run number of a period, from `score_run_counters` (docs/deploy.md, Faults).

    Why a counter in its own transaction: `max(run_no) + 1` read inside the request's
    transaction gave concurrent Submits the same number (one failed on uq_score_runs_run
    after its git commit: 407 of 1,000 under bench/load_submit.py). Locking the period row
    (`SELECT ... FOR UPDATE`) instead deadlocked: by then the transaction already holds a
    FOR KEY SHARE lock on that row (the foreign-key checks of the Adjustment and
    HistoryCommit rows record_commit inserted), and two such transactions each wait for the
    other's share lock to upgrade theirs. A savepoint retry is no better: PostgreSQL makes the
    second inserter of a taken number wait for the first transaction, which may itself be
    waiting for the history lock (Score: store_run, then record_scores).

    On PostgreSQL the counter row is advanced in a separate, immediately committed
    transaction on its own connection: it locks only that row, for one statement, and waits
    only for another such statement, never for a request's transaction or the history lock,
    so no wait cycle can include it (it may even run under the history lock). The price:
    numbers are unique and increasing in the order they were handed out, but a request that
    fails after taking one leaves a gap, and runs may commit out of number order. SQLite
    (one process, one writer at a time) advances it in the session's own transaction: a
    second connection would wait for the session's write lock.

    The number is also at least the highest committed run's + 1, so rows written without the
    counter (older code, restored or hand-made data) never collide with it."""
    from sqlalchemy.dialects import postgresql, sqlite

    from server.models import ScoreRunCounter

    t = ScoreRunCounter.__table__
    engine = session.get_bind().engine
    pg = engine.dialect.name == "postgresql"
    committed = (select(func.coalesce(func.max(ScoreRun.run_no), 0) + 1)
                 .where(ScoreRun.period_id == period_id).scalar_subquery())
    stmt = (postgresql if pg else sqlite).insert(t).values(period_id=period_id,
                                                          last_run_no=committed)
    higher = func.greatest if pg else func.max  # SQLite's two-argument max() is greatest()
    stmt = stmt.on_conflict_do_update(
        index_elements=[t.c.period_id],
        set_={"last_run_no": higher(t.c.last_run_no + 1, stmt.excluded.last_run_no)},
    ).returning(t.c.last_run_no)
    if not pg:
        return int(session.execute(stmt).scalar_one())
    with engine.begin() as conn:
        return int(conn.execute(stmt).scalar_one())


def store_run(session: Session, period: Period, inp: ScoreInput, result: ScoreResult,
              user: User, lang: str, kind: str = "score", *, submission_id: str | None = None,
              commit: str | None = None, base_commit: str | None = None,
              add: bool = True) -> ScoreRun:
    """The run's row, added and flushed (its id known), with the ids given.

    `add=False` (Score, whose history commit comes after): the row is returned unadded, for
    the caller to add once its submission and commit are set (history_record.record_score),
    so that it is written once. Setting them on a stored row rewrote it whole: SQLite keeps
    a row's JSON in its record, and a 5,000-manager run's lines are megabytes (~45 ms)."""
    run = ScoreRun(
        period=period, run_no=next_run_no(session, period.id), kind=kind, lang=lang,
        created_by=user.name,
        rules_digest=digest(inp.rules), input_digest=digest(inp),
        employee_count=len(result.employees),
        lines=stored_run.encode_lines(result.lines),  # type: ignore[arg-type]
        totals=jsonable(result.employees),  # type: ignore[arg-type]
        submission_id=submission_id, commit=commit, base_commit=base_commit,
    )
    # The period keeps the rule set that produced its latest snapshot.
    period.rules = to_jsonable(inp.rules)  # type: ignore[assignment]
    if kind == "score":
        from server.workflow import advance

        advance(session, period, "score", user)
    if add:
        session.add(run)
        session.flush()
    return run


# `periods.to_jsonable` asks is_dataclass/fields and six isinstance questions of every value:
# 20 s for a 5,000-manager run (1,000,000 values). The same data, per class once:
_FIELDS: dict[type, tuple[str, ...]] = {}
_PLAIN = frozenset({str, int, float, bool, type(None)})


def jsonable(obj: object) -> object:
    """Exactly `periods.to_jsonable(obj)` (tested), for the engine's inputs and results."""
    cls = obj.__class__
    if cls in _PLAIN:
        return obj
    if cls is Decimal:
        return str(obj)
    # Plain values and Decimals inline, without a call each: a 5,000-manager input is
    # ~300,000 of them (the input digest of every Score, issue #3).
    plain, dec = _PLAIN, Decimal
    if cls is tuple or cls is list:
        if len(obj) > _BY_COLUMN and len(kinds := set(map(type, obj))) == 1:  # type: ignore[arg-type]
            (kind,) = kinds
            if kind in _FIELDS or dataclasses.is_dataclass(kind):
                return _records(obj, kind)  # type: ignore[arg-type]
        return [v if (c := v.__class__) in plain else str(v) if c is dec else jsonable(v)
                for v in obj]  # type: ignore[attr-defined]
    names = _FIELDS.get(cls)
    if names is None and dataclasses.is_dataclass(cls):
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    if names is not None:
        return {name: v if (c := (v := getattr(obj, name)).__class__) in plain else
                str(v) if c is dec else jsonable(v) for name in names}
    if cls is dict:
        return {str(k): jsonable(v) for k, v in obj.items()}  # type: ignore[attr-defined]
    if isinstance(obj, Enum):
        return obj.value
    return to_jsonable(obj)  # sets, dates, other mappings


_BY_COLUMN = 64  # a longer sequence of one dataclass is converted a field at a time


def _records(objs: list | tuple, kind: type) -> list[dict]:
    """`jsonable` of each of `objs` (all of class `kind`), a field at a time: a run's 5,000
    totals convert each column at C speed (a tuple of codes, a Decimal or None) and are then
    zipped into their objects, instead of one call per object and per nested value."""
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(kind))
    plain, dec = _PLAIN, Decimal
    columns = []
    for name in names:
        values = list(map(attrgetter(name), objs))
        columns.append([v if (c := v.__class__) in plain else str(v) if c is dec else
                        jsonable(v) for v in values])
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]




def active_adjustments(session: Session, period: Period) -> dict[Key, AdjustmentRow]:
    rows = session.scalars(select(AdjustmentRow).where(
        AdjustmentRow.period_id == period.id,
        AdjustmentRow.status == AdjustmentStatus.ACTIVE.value)).all()
    return {(r.employee_id, r.indicator): r for r in rows}


def authoritative_input(session: Session, period: Period, inp: ScoreInput
                         ) -> tuple[ScoreInput, dict[Key, AdjustmentRow]]:
    """The workbook's rules, roster and data with the adjustments of record (the database
    mirror of the history head) instead of whatever kb_adjustments says."""
    rows = active_adjustments(session, period)
    people = {e.employee_id: e for e in inp.employees}
    adjustments = []
    for (eid, code), row in sorted(rows.items()):
        emp = people.get(eid)
        try:
            ind = inp.rules.indicator(code)
        except KeyError:
            continue
        if emp is None or not ind.applies_to(emp):
            continue  # no longer on the roster / indicator: kept in history, not scored
        adjustments.append(Adjustment(eid, code, Decimal(row.points), row.reason, row.author))
    if inp.rules.distribution_group == COMPANY_GROUP:
        # company-wide ranks and quotas: the month's other scorecards as they last scored
        from server.services.scorecards import peer_totals

        peers = peer_totals(session, period)
        if peers != inp.peers:
            inp = dataclasses.replace(inp, peers=peers)
    if tuple(adjustments) == inp.adjustments:
        # The same input object: the engine keeps the run `to_score_input` validated
        # (engine._SCORED), so the button scores once instead of twice.
        return inp, rows
    return dataclasses.replace(inp, adjustments=tuple(adjustments)), rows


def adjustments_with(inp: ScoreInput, cells: dict[Key, CellValue | None]
                     ) -> dict[Key, Adjustment]:
    """`inp`'s adjustments by cell with `cells` over them (None: the cell's adjustment
    removed), in the order they came."""
    adjustments = {(a.employee_id, a.indicator): a for a in inp.adjustments}
    for (eid, code), value in cells.items():
        if value is None:
            adjustments.pop((eid, code), None)
        else:
            adjustments[(eid, code)] = Adjustment(eid, code, value.points, value.reason)
    return adjustments


def score_with_record(session: Session, period: Period, inp: ScoreInput, lang: str,
                      cells: dict[Key, CellValue | None] | None = None
                      ) -> tuple[ScoreInput, ScoreResult]:
    """The engine over `inp` (rules, roster, data) with the adjustments of record and
    `cells` over them (None: the cell's adjustment removed). ValidationError as the engine
    raises it (e.g. a line pushed past its cap)."""
    trial, _rows = authoritative_input(session, period, inp)
    if cells:
        adjustments = adjustments_with(trial, cells)
        trial = dataclasses.replace(trial, adjustments=tuple(
            adjustments[key] for key in sorted(adjustments)))
    return trial, run_engine(trial, lang, base=inp)
