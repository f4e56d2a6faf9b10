"""Scoring and submission: call the engine, store score snapshots and adjustments.

The rules themselves live in server.scoring.engine; this module decides only what is stored,
who may change which adjustment, and in what transaction.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from itertools import compress, repeat
from operator import ne
from types import SimpleNamespace

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server import policy
from server.ledger import (
    CellValue,
    EmployeeInfo,
    Kind,
    ScoreSnapshot,
    TotalLine,
    make_score_lines,
)
from server.models import Adjustment as AdjustmentRow
from server.models import (
    AdjustmentStatus,
    HistoryCommit,
    Period,
    PeriodEvent,
    PeriodState,
    ScoreRun,
    User,
)
from server.scoring.messages import why_of
from server.scoring.model import (
    Adjustment,
    Problem,
    ScoreInput,
    ScoreResult,
    ValidationError,
    line_columns,
)
from server.scoring.numbers import checked_decimal
from server.services import stored_run
from server.services.errors import BadRequest, Forbidden, NotFound, Unprocessable
from server.services.errors import Conflict as ConflictError
from server.services.periods import digest, to_jsonable
from server.workbook.contract import Tables, to_score_input
from server.workbook.render import problems_message
from server.xlwire.textsafe import checked_text

log = logging.getLogger("kpibook.scoring")


def run_engine(inp: ScoreInput, lang: str, base: ScoreInput | None = None) -> ScoreResult:
    """`base`: the workbook's validated input when `inp` differs from it only in its
    adjustments (`_authoritative_input`): the engine then re-scores only the people whose
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
              user: User, lang: str, kind: str = "score") -> ScoreRun:
    run = ScoreRun(
        period=period, run_no=next_run_no(session, period.id), kind=kind, lang=lang,
        created_by=user.name,
        rules_digest=digest(inp.rules), input_digest=digest(inp),
        employee_count=len(result.employees),
        lines=stored_run.encode_lines(result.lines),  # type: ignore[arg-type]
        totals=_jsonable(result.employees),  # type: ignore[arg-type]
    )
    session.add(run)
    # The period keeps the rule set that produced its latest snapshot.
    period.rules = to_jsonable(inp.rules)  # type: ignore[assignment]
    if kind == "score":
        from server.workflow import advance

        advance(session, period, "score", user)
    session.flush()
    return run


# `periods.to_jsonable` asks is_dataclass/fields and six isinstance questions of every value:
# 20 s for a 5,000-manager run (1,000,000 values). The same data, per class once:
_FIELDS: dict[type, tuple[str, ...]] = {}
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _jsonable(obj: object) -> object:
    """Exactly `periods.to_jsonable(obj)` (tested), for the engine's inputs and results."""
    cls = obj.__class__
    if cls in _PLAIN:
        return obj
    if cls is Decimal:
        return str(obj)
    names = _FIELDS.get(cls)
    if names is None and dataclasses.is_dataclass(cls):
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    # Plain values and Decimals inline, without a call each: a 5,000-manager input is
    # ~300,000 of them (the input digest of every Score, issue #3).
    plain, dec = _PLAIN, Decimal
    if names is not None:
        return {name: v if (c := (v := getattr(obj, name)).__class__) in plain else
                str(v) if c is dec else _jsonable(v) for name in names}
    if cls is tuple or cls is list:
        return [v if (c := v.__class__) in plain else str(v) if c is dec else _jsonable(v)
                for v in obj]  # type: ignore[attr-defined]
    if cls is dict:
        return {str(k): _jsonable(v) for k, v in obj.items()}  # type: ignore[attr-defined]
    if isinstance(obj, Enum):
        return obj.value
    return to_jsonable(obj)  # sets, dates, other mappings


# --- submission --------------------------------------------------------------------------

Key = tuple[str, str]


def active_adjustments(session: Session, period: Period) -> dict[Key, AdjustmentRow]:
    rows = session.scalars(select(AdjustmentRow).where(
        AdjustmentRow.period_id == period.id,
        AdjustmentRow.status == AdjustmentStatus.ACTIVE.value)).all()
    return {(r.employee_id, r.indicator): r for r in rows}


# The authority rules live in the policy module (the one place deciding who may do what);
# these names stay importable from here.
ROLE_NAMES = policy.ROLE_NAMES
names_of = policy.names_of


def _locate_adjustment(tables: Tables, employee_id: str, code: str, message: str) -> Problem:
    frame = tables.get("kb_adjustments")
    if frame is not None:
        for i in range(len(frame.frame)):
            if (str(frame.value(i, "employee_id") or "").strip() == employee_id
                    and str(frame.value(i, "indicator") or "").strip() == code):
                return frame.problem(i, "points", message)
    return Problem("kb_adjustments", None, None, f"{employee_id} / {code}: {message}",
                   key=(employee_id, code))


# --- the git history (docs/history.md): Submit, Score, web adjustments, reverts -----------------

OK_FILL = "#E2EFDA"  # green: accepted in this submission
REJECTED_FILL = "#F8CBAD"  # red: refused, reverted to the server's value
CONFLICT_FILL = "#FFD966"  # yellow: someone else changed the cell first
RESTORED_FILL = "#BDD7EE"  # blue: a computed cell typed over, restored


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


def _zh(lang: str) -> bool:
    return lang == "zh"


def _fmt(points: Decimal | None) -> str:
    if points is None:
        return "—"
    return f"{points:+.2f}"


def _value_text(value: CellValue | None, lang: str) -> str:
    if value is None:
        return "无调整" if _zh(lang) else "no adjustment"
    return f"{_fmt(value.points)}（{value.reason}）" if _zh(lang) else \
        f"{_fmt(value.points)} ({value.reason})"


def record_commit(session: Session, period: Period, info_or_result, kind: str,
                  submission_id: str, author: str, author_id: int | None = None,
                  recovered: bool = False) -> bool:
    """Write the database side of a history commit, idempotently (keyed by Submission-Id).

    `info_or_result` is a SubmitResult or CommitInfo (their `applied`/`cells` changes are
    applied to the Adjustment rows). Returns False when the id was already recorded."""
    if session.scalar(select(HistoryCommit.id).where(
            HistoryCommit.submission_id == submission_id)) is not None:
        return False
    commit = getattr(info_or_result, "commit", None)
    cells = getattr(info_or_result, "applied", None)
    if cells is None:
        cells = getattr(info_or_result, "cells", ())
    for change in cells:
        for old in session.scalars(select(AdjustmentRow).where(
                AdjustmentRow.period_id == period.id,
                AdjustmentRow.employee_id == change.employee_id,
                AdjustmentRow.indicator == change.indicator,
                AdjustmentRow.status == AdjustmentStatus.ACTIVE.value)):
            old.status = AdjustmentStatus.SUPERSEDED.value
        if change.new is not None:
            session.add(AdjustmentRow(
                period_id=period.id, employee_id=change.employee_id,
                indicator=change.indicator, points=change.new, reason=change.reason,
                author=author, author_id=author_id, status=AdjustmentStatus.ACTIVE.value,
                submission_id=submission_id, commit=commit))
    session.add(HistoryCommit(submission_id=submission_id, commit=commit, kind=kind,
                              period_id=period.id, author=author, recovered=recovered))
    session.flush()
    return True


def _submission_id(requested: str | None) -> str:
    from server.services import history as hist

    return hist.valid_submission_id(requested) or hist.new_submission_id()


def _typed_cells(frame, inp: ScoreInput, lang: str
                 ) -> tuple[dict[Key, tuple[int, CellValue | None]], dict[Key, tuple[int, str]]]:
    """kb_adjustments as typed: key -> (row, value or None for blank/0), and rows refused
    with the reason (number, decimals, reason missing, unknown person/indicator, limits)."""
    zh = _zh(lang)
    typed: dict[Key, tuple[int, CellValue | None]] = {}
    bad: dict[Key, tuple[int, str]] = {}
    if frame is None:
        return typed, bad
    people = {e.employee_id: e for e in inp.employees}
    for i in range(len(frame.excel_rows)):
        eid = _text(frame.value(i, "employee_id"))
        code = _text(frame.value(i, "indicator"))
        if not eid or not code:
            continue
        key = (eid, code)
        raw, reason = frame.value(i, "points"), _text(frame.value(i, "reason"))
        if key in typed or key in bad:
            bad.setdefault(key, (i, "同一员工和指标有多行调整" if zh else
                                 "more than one row for this employee and indicator"))
            continue
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            typed[key] = (i, None)
            continue
        try:  # the one number check: finite, 2 decimals, fits Numeric(9, 2)
            points = checked_decimal(raw, places=2, whole=7)
        except ValueError as exc:
            bad[key] = (i, ("调整分：" if zh else "points: ") + why_of(exc).text(lang))
            continue
        if points == 0:
            typed[key] = (i, None)
            continue
        try:  # the reason goes to git and to the database as it is
            checked_text(reason, "理由" if zh else "the reason")
        except ValueError as exc:
            bad[key] = (i, why_of(exc).text(lang))
            continue
        emp = people.get(eid)
        try:
            ind = inp.rules.indicator(code)
        except KeyError:
            ind = None
        if emp is None:
            bad[key] = (i, f"{eid} 不在人员名单中" if zh else f"{eid} is not on the roster")
            continue
        if ind is None or not ind.applies_to(emp):
            bad[key] = (i, f"指标 {code} 不适用于 {eid}" if zh else
                        f"indicator {code} does not apply to {eid}")
            continue
        if not reason:
            bad[key] = (i, "调整必须填写理由" if zh else "an adjustment needs a reason")
            continue
        # the rules table's Max up/down: policy.change_refusals, from the rules of record
        typed[key] = (i, CellValue(points, reason))
    return typed, bad


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def texts(values: list[object]) -> list[str]:
    """`_text` over a column, at C speed when it is all text."""
    if set(map(type, values)) <= {str}:
        return list(map(str.strip, values))  # type: ignore[arg-type]
    return list(map(_text, values))


def _without(tables: Tables, name: str) -> Tables:
    return Tables({k: v for k, v in tables.frames.items() if k != name},
                  [p for p in tables.problems if p.table != name])


def _authoritative_input(session: Session, period: Period, inp: ScoreInput
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
    if tuple(adjustments) == inp.adjustments:
        # The same input object: the engine keeps the run `to_score_input` validated
        # (engine._SCORED), so the button scores once instead of twice.
        return inp, rows
    return dataclasses.replace(inp, adjustments=tuple(adjustments)), rows


def _engine_refusals(session: Session, period: Period, inp: ScoreInput,
                     accepted: dict[Key, CellValue | None], lang: str
                     ) -> tuple[dict[Key, str], tuple | None]:
    """Edits the engine refuses, and when there are none the (result, input, adjustment rows)
    the submission would produce."""
    from server.services.workbook import invalid

    trial, rows = _authoritative_input(session, period, inp)
    adjustments = {(a.employee_id, a.indicator): a for a in trial.adjustments}
    for (eid, code), value in accepted.items():
        if value is None:
            adjustments.pop((eid, code), None)
        else:
            adjustments[(eid, code)] = Adjustment(eid, code, value.points, value.reason)
    trial = dataclasses.replace(trial, adjustments=tuple(adjustments.values()))
    try:
        result = run_engine(trial, lang, base=inp)
    except ValidationError as exc:
        refused: dict[Key, str] = {}
        for p in exc.problems:
            key = tuple(p.key[:2]) if p.key and len(p.key) >= 2 else None
            if p.table == "kb_adjustments" and key in accepted:
                refused[key] = p.message  # type: ignore[index]
        if not refused:
            raise invalid(list(exc.problems), lang) from None
        return refused, None
    return {}, (result, trial, rows)


def submit_workbook(session: Session, period: Period, tables: Tables, user: User, lang: str,
                    base_version: str | None, requested_id: str | None,
                    app=None, check_answer=None) -> SubmitOutcome:
    """Submit through the history: diff kb_adjustments against the workbook's base version,
    check each changed cell, merge three-way with the head, commit (git, then database),
    recompute with the adjustments of record. See docs/history.md for the rules.

    `check_answer(result, inp, adjustment_rows)`: called with the result the submission
    would produce before anything is committed; it raises to refuse (e.g. PlanError when the
    answer cannot be written into the workbook), and then nothing is stored."""
    from server.ledger import HistoryError, PeriodClosed
    from server.services import history as hist
    from server.services.workbook import invalid

    zh = _zh(lang)
    history = hist.history_for(app)
    sid = _submission_id(requested_id)
    try:
        bare = to_score_input(_without(tables, "kb_adjustments"), lang)
    except ValidationError as exc:
        raise invalid(exc.problems, lang) from None
    # Authority, limits and departments come from the inputs of record, never from the
    # workbook (docs/records.md).
    from server.services import records

    resolution = records.resolve(session, period, user, bare, tables, lang)
    inp = resolution.inp
    frame = tables.get("kb_adjustments")
    typed, bad = _typed_cells(frame, inp, lang)

    base = (base_version or "").strip() or None
    if base is not None:
        try:
            base_cells = history.cells_at(base, period.code)
        except (HistoryError, ValueError, KeyError, LookupError) as exc:
            log.info("unknown base_version %r: %s", base, exc)
            base_cells = None
        if base_cells is None or not re.fullmatch(r"[0-9a-f]{40}", base):
            raise Unprocessable(
                f"工作表“_kpibook”kb_meta 的 base_version（{base[:40]}）不是本服务器历史中的版本："
                f"请先按“获取数据”或“计算得分”取得最新版本，再输入调整。\n" if zh else
                f"Sheet '_kpibook', kb_meta base_version ({base[:40]}) is not a version of this "
                f"server's history: press Pull or Score to get the current version, then "
                f"type the adjustments again.\n")
    else:
        base_cells = {}

    # what the executive changed relative to the version the workbook was built from
    edits: dict[Key, CellValue | None] = {}
    reports: dict[Key, CellReport] = {}
    problems: list[tuple[Key, Problem, str]] = []  # (key, located problem, kind)
    for key, (i, message) in bad.items():
        problems.append((key, frame.problem(i, "points" if "理由" not in message and "reason"
                                            not in message else "reason", message, lang),
                         "input"))
    for key, (_i, value) in typed.items():
        old = base_cells.get(key)
        if value == old or (value is not None and old is not None
                            and value.points == old.points and value.reason == old.reason):
            continue
        edits[key] = value
    accepted: dict[Key, CellValue | None] = {}
    refusals_of = policy.change_refusals(session, user, period, {
        key: value.points if value is not None else base_cells[key].points
        for key, value in edits.items()}, lang)
    for key, value in sorted(edits.items()):
        eid, code = key
        refusals = refusals_of.get(key)
        if refusals:
            i = typed[key][0]
            problems.append((key, frame.problem(
                i, "points", f"{eid} {code}：" + "；".join(refusals) if zh else
                f"{eid} {code}: " + "; ".join(refusals), lang), "authority"))
        else:
            accepted[key] = value
    # Edits the engine refuses (e.g. pushing a line past its cap) are per-cell rejections too:
    # try the adjustments of record with the accepted edits before anything is written.
    trial = None
    for _attempt in range(3):
        refused, trial = _engine_refusals(session, period, inp, accepted, lang)
        if not refused:
            break
        for key, message in refused.items():
            accepted.pop(key, None)
            problems.append((key, frame.problem(typed[key][0], "points", message, lang),
                             "input"))
    for key, problem, _kind in problems:
        reports[key] = CellReport(key, "rejected", problem.message)

    if problems and not accepted:
        # Nothing in this submission can be taken: answer as before, nothing stored.
        located = [p for _k, p, _kind in problems]
        if any(kind == "authority" for _k, _p, kind in problems):
            head = ("以下调整超出您的权限，未保存任何内容：" if zh else
                    "These adjustments are outside your authority; nothing was saved:")
            raise Forbidden(problems_message(located, lang, intro=head))
        raise invalid(located, lang)

    if check_answer is not None and trial is not None:
        check_answer(*trial)
    result = None
    commit = None
    duplicate = False
    removal_reasons = {key: ("撤销调整" if zh else "adjustment withdrawn")
                       for key, value in accepted.items() if value is None}
    if accepted or history.commit_of(sid):
        if history.status(period.code).get("status") == "approved":
            # The workflow allows Submit after approval (it goes back to review): say so in
            # the history first, or the library refuses adjustments to an approved period.
            history.set_status(period.code, PeriodState.IN_REVIEW.value, hist.editor_of(user),
                               "提交调整 / adjustments submitted", f"{sid}.review",
                               kind=Kind.REOPEN)
        try:
            result = history.submit(period.code, base, accepted, hist.editor_of(user), sid,
                                    reasons=removal_reasons,
                                    note=f"Submit via {requested_id and 'client' or 'server'}",
                                    rescore=_workbook_rescore(session, period, inp, lang))
        except PeriodClosed:
            raise ConflictError(
                f"期间 {period.code} 已审批，历史记录拒绝调整：请人力资源部重新打开期间。"
                if zh else
                f"Period {period.code} is approved; the history refuses adjustments: HR must "
                f"reopen it.") from None
        hist.fault("after_git_commit")
        commit, duplicate = result.commit, result.duplicate
        for conflict in result.conflicts:
            who = conflict.head_change
            by = (f"{who.author.name} <{who.author.email}>，{who.when:%Y-%m-%d %H:%M} UTC" if zh
                  else f"{who.author.name} <{who.author.email}> at {who.when:%Y-%m-%d %H:%M} UTC"
                  ) if who else "?"
            msg = (f"冲突：{by} 已先将此项改为 {_value_text(conflict.head, lang)}；您提交的 "
                   f"{_value_text(conflict.submitted, lang)} 未保存，单元格已恢复为服务器值。"
                   if zh else
                   f"conflict: {by} changed this first to {_value_text(conflict.head, lang)}; "
                   f"your {_value_text(conflict.submitted, lang)} was not saved and the cell "
                   f"shows the server's value again.")
            reports[conflict.cell] = CellReport(conflict.cell, "conflict", msg)
        for change in result.applied:
            reports[change.cell] = CellReport(
                change.cell, "accepted",
                (f"已接受（{_fmt(change.old)} → {_fmt(change.new)}）" if zh else
                 f"accepted ({_fmt(change.old)} -> {_fmt(change.new)})"))
        if commit is not None:
            record_commit(session, period, result, Kind.ADJUSTMENT.value, sid, user.name,
                          user.id)

    head = history.head()
    scored_inp, rows = _authoritative_input(session, period, inp)
    engine_result = run_engine(scored_inp, lang, base=inp)
    run = None
    if commit is not None:
        run = session.scalar(select(ScoreRun).where(ScoreRun.submission_id == sid))
        if run is None:
            run = store_run(session, period, scored_inp, engine_result, user, lang,
                            kind="submit")
            run.submission_id, run.commit, run.base_commit = sid, commit, base
            for row in rows.values():
                if row.submission_id == sid:
                    row.score_run_id = run.id
            from server.workflow import advance

            advance(session, period, "submit", user)
        session.flush()
    return SubmitOutcome(sid, commit, head, duplicate, run, engine_result, scored_inp,
                         reports, authoritative=rows, records=resolution)


def overwritten_cells(session: Session, tables: Tables, base: str | None, lang: str
                      ) -> list[tuple[str, int, str, str]]:
    """Computed cells (kb_scores adjustment/points, kb_summary total) whose workbook value
    differs from what the server wrote for `base`: (table, row index, key, message)."""
    if not base:
        return []
    run = session.scalar(select(ScoreRun).where(ScoreRun.commit == base)
                         .order_by(ScoreRun.run_no.desc()).limit(1))
    if run is None:
        return []
    zh = _zh(lang)
    lines = {(ln["employee_id"], ln["indicator"]): ln for ln in stored_run.lines(run)}
    totals = {t["employee_id"]: t for t in stored_run.totals(run)}
    out = []
    checks = (("kb_scores", ("adjustment", "points"), lambda f, i: lines.get(
        (_text(f.value(i, "employee_id")), _text(f.value(i, "indicator"))))),
              ("kb_summary", ("total",), lambda f, i: totals.get(
                  _text(f.value(i, "employee_id")))))
    for table, keys, stored_of in checks:
        frame = tables.get(table)
        if frame is None:
            continue
        for i in range(len(frame.excel_rows)):
            stored = stored_of(frame, i)
            if stored is None:
                continue
            for key in keys:
                if key not in frame.columns:
                    continue
                typed = _number(frame.value(i, key))
                wrote = _number(stored.get(key if key != "points" else "points"))
                if typed == wrote:
                    continue
                where = frame.cell(i, key)
                out.append((table, i, key, (
                    f"工作表“{frame.sheet}”单元格 {where}（{frame.caption(key)}）是计算结果，"
                    f"不能直接修改：已恢复为服务器的值。调整请在“调整”表（kb_adjustments）"
                    f"填写调整分和理由后提交。"
                    if zh else
                    f"Sheet '{frame.sheet}' cell {where} ({frame.caption(key)}) is computed and "
                    f"cannot be typed over: it was restored to the server's value. To change a "
                    f"score, enter points and a reason in kb_adjustments and Submit.")))
    return out


def _number(value: object) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        d = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
        return d.quantize(Decimal("0.01")) if d.is_finite() else None
    except (ArithmeticError, ValueError):
        return None


def record_score(session: Session, period: Period, inp: ScoreInput, result: ScoreResult,
                 run: ScoreRun, user: User, requested_id: str | None, app=None,
                 note: str = "") -> str | None:
    """Score: a baseline commit (the period's first scores in the history) or a re-score.
    Git first (under the history lock), then the run's ids; the caller commits the session.
    `note`: why the inputs changed (a change to the records), kept in the commit message."""
    from server.services import history as hist

    history = hist.history_for(app)
    sid = _submission_id(requested_id)
    known = session.scalar(select(HistoryCommit.id).where(
        HistoryCommit.period_id == period.id,
        HistoryCommit.kind.in_([Kind.BASELINE.value, Kind.RESCORE.value])).limit(1))
    kind = Kind.RESCORE if known is not None else Kind.BASELINE
    # The engine is a pure function of its input: scores recorded for this very input at
    # the current head are recorded already (a re-score of an unchanged month).
    fingerprint = f"{run.rules_digest}:{run.input_digest}"
    if requested_id is None and not note and history.holds_scores(period.code, fingerprint):
        commit = None
    else:
        commit = history.record_scores(period.code, score_snapshot(inp, result),
                                       hist.editor_of(user), sid, kind=kind,
                                       fingerprint=fingerprint, note=note)
    hist.fault("after_git_commit")
    head = history.head()
    if commit is not None:
        # idempotent: after a crash between git and the database, start-up recovery has
        # already written this Submission-Id's row
        record_commit(session, period, SimpleNamespace(commit=commit), kind.value, sid,
                      user.name, user.id)
    run.submission_id, run.commit = sid, commit or head
    session.flush()
    return head


def score_snapshot(inp: ScoreInput, result: ScoreResult) -> ScoreSnapshot:
    # `status != "not_applicable"`, not str(status): the same test for a StrEnum or a text,
    # without a Python-level __str__ call per line (50,000 at 5,000 managers). NB: the value
    # of LineStatus.NOT_APPLICABLE is "n/a", so this keeps every line (as it always has).
    eids, codes, bases, adjustments, points, statuses = line_columns(
        result.lines, "employee_id", "indicator", "base_points", "adjustment", "points", "status")
    lines = dict(compress(zip(zip(eids, codes, strict=True),
                              make_score_lines(bases, adjustments, points), strict=True),
                          map(ne, statuses, repeat("not_applicable"))))
    totals = {e.employee_id: TotalLine(e.total, e.grade, e.rank, e.group_rank)
              for e in result.employees}
    employees = {e.employee_id: EmployeeInfo(e.name, e.department or "")
                 for e in inp.employees}
    return ScoreSnapshot(lines, totals, employees, _jsonable(inp.rules))


def _workbook_rescore(session: Session, period: Period, inp: ScoreInput, lang: str,
                      scored: list | None = None):
    """Submit's `rescore` for History.submit (called under the history lock once the merge
    is known): the engine over the workbook's rules, roster and data with the adjustments of
    record plus the cells being committed — what the answer computes right after the commit
    (`_authoritative_input`), so the commit's score lines, totals and ranks are its ScoreRun's.
    The whole snapshot: the workbook may carry newer data than the last Score, and the
    library writes only the files that differ from the head. Web changes pass the stored
    run's input as `inp` and a `scored` list, which gets the (input, result) to store."""

    def rescore(applied) -> ScoreSnapshot:
        trial, result = score_with_record(session, period, inp, lang, {
            c.cell: None if c.new is None else CellValue(c.new, c.reason) for c in applied})
        if scored is not None:
            scored.append((trial, result))
        return score_snapshot(trial, result)

    return rescore


def score_with_record(session: Session, period: Period, inp: ScoreInput, lang: str,
                      cells: dict[Key, CellValue | None] | None = None
                      ) -> tuple[ScoreInput, ScoreResult]:
    """The engine over `inp` (rules, roster, data) with the adjustments of record and
    `cells` over them (None: the cell's adjustment removed). ValidationError as the engine
    raises it (e.g. a line pushed past its cap)."""
    trial, _rows = _authoritative_input(session, period, inp)
    if cells:
        adjustments = {(a.employee_id, a.indicator): a for a in trial.adjustments}
        for (eid, code), value in cells.items():
            if value is None:
                adjustments.pop((eid, code), None)
            else:
                adjustments[(eid, code)] = Adjustment(eid, code, value.points, value.reason)
        trial = dataclasses.replace(trial, adjustments=tuple(
            adjustments[key] for key in sorted(adjustments)))
    return trial, run_engine(trial, lang, base=inp)


def _reopen_if_approved(history, period: Period, user: User, why: str, sid: str) -> None:
    """The history refuses adjustments to an approved period (PeriodClosed) while the
    workflow lets an adjustment or a revert take it back to review: say so in git first
    (a `reopen` status commit `<sid>.review`); the database's move follows with the change."""
    from server.services import history as hist

    if history.status(period.code).get("status") == PeriodState.APPROVED.value:
        history.set_status(period.code, PeriodState.IN_REVIEW.value, hist.editor_of(user),
                           why, f"{sid}.review", kind=Kind.REOPEN)


# --- web changes: adjustments, appeal answers, reverts -------------------------------------------
#
# The same path as Submit: the period's inputs of record (records.current) with the
# adjustments of record and the changed cells -> the engine -> a history commit carrying the
# engine's lines and totals -> a stored run. The one authority check is
# policy.change_refusals; the engine is the one scorer.

def web_input(session: Session, period: Period, lang: str) -> ScoreInput:
    """The period's inputs of record (records.current: rules, roster, data, targets; no
    adjustments), validated so that the engine keeps its run and re-scores only the adjusted
    people; 409 before HR's first Score has made a record."""
    from server.scoring.engine import validate
    from server.services import records

    found = records.current(session, period)
    if found is None:
        raise ConflictError(
            f"期间 {period.code} 还没有记录在案的计算输入：请人力资源部先按“计算得分”。"
            if _zh(lang) else
            f"Period {period.code} has no inputs of record yet: HR must press Score first.")
    inp = found[1]
    validate(inp, lang)  # kept by the engine for score(..., base=inp); problems surface later
    return inp


def check_with_engine(session: Session, period: Period, inp: ScoreInput,
                      cells: dict[Key, CellValue | None], lang: str) -> None:
    """Before anything is written: the engine's verdict on the changed cells, as a located
    400 (who, which indicator, why) when it refuses them."""
    try:
        score_with_record(session, period, inp, lang, cells)
    except ValidationError as exc:
        raise BadRequest(_engine_refusal(exc, lang)) from None


def _engine_refusal(exc: ValidationError, lang: str) -> str:
    zh = _zh(lang)
    where = "调整分" if zh else "Points"
    lines = [f"{where}（{' '.join(p.key[:2]) if p.key else p.table}）：{p.text(lang)}" if zh else
             f"{where} ({' '.join(p.key[:2]) if p.key else p.table}): {p.text(lang)}"
             for p in exc.problems]
    head = "调整未保存：" if zh else "Nothing was saved: "
    return head + ("；".join(lines) if zh else "; ".join(lines))


def commit_web_adjustment(session: Session, period: Period, user: User, key: Key,
                          value: CellValue, lang: str, requested_id: str | None = None,
                          app=None) -> AdjustmentRow:
    """A web adjustment (result page, appeal answer), checked by the caller with
    `policy.require_changes` and `check_with_engine`: the same history commit as a ribbon
    Submit (git first; the caller commits the database), re-scored by the engine from the
    inputs of record with the adjustments of record, and a stored run naming the commit.
    Returns the new Adjustment row."""
    from server.services import history as hist

    zh = _zh(lang)
    inp = web_input(session, period, lang)
    history = hist.history_for(app)
    sid = _submission_id(requested_id)
    _reopen_if_approved(history, period, user, "网页调整 / web adjustment", sid)
    scored: list[tuple[ScoreInput, ScoreResult]] = []
    try:
        result = history.submit(period.code, history.head(), {key: value},
                                hist.editor_of(user), sid, note="web",
                                rescore=_workbook_rescore(session, period, inp, lang, scored))
    except ValidationError as exc:
        raise BadRequest(_engine_refusal(exc, lang)) from None
    hist.fault("after_git_commit")
    if result.commit is None:
        raise ConflictError("该单元格已是此值，或刚被他人修改：请刷新后重试。" if zh else
                            "The cell already holds this value or was just changed by "
                            "someone else: reload and try again.")
    record_commit(session, period, result, Kind.ADJUSTMENT.value, sid, user.name, user.id)
    _store_web_run(session, period, user, lang, scored, sid, result.commit, "adjust")
    return session.scalar(select(AdjustmentRow).where(
        AdjustmentRow.submission_id == sid, AdjustmentRow.employee_id == key[0],
        AdjustmentRow.indicator == key[1]))


def _store_web_run(session: Session, period: Period, user: User, lang: str,
                   scored: list, sid: str, commit: str, kind: str) -> ScoreRun | None:
    if not scored:
        return None
    trial, result = scored[-1]
    run = store_run(session, period, trial, result, user, lang, kind=kind)
    run.submission_id, run.commit = sid, commit
    for row in active_adjustments(session, period).values():
        if row.submission_id == sid:
            row.score_run_id = run.id
    session.flush()
    return run


def revert_points(cells) -> dict[Key, Decimal]:
    """What a revert of `cells` asks of the one check: each restored value (a removal: the
    value being removed)."""
    return {c.cell: c.old if c.old is not None else (c.new or Decimal(0)) for c in cells}


def revert_submission(session: Session, period: Period, commit: str, user: User, reason: str,
                      lang: str = "zh", requested_id: str | None = None, app=None
                      ) -> SubmitOutcome:
    """Undo one commit's cells (History.revert): a cell changed since is a conflict, not
    overwritten. Authority as for every change (`policy.change_refusals` on each restored
    value); 400 without a reason; 409 once the period is published or closed (frozen).

    After approval a revert is allowed like any adjustment: git first says the period is
    back in review (`reopen` commit `<sid>.review`), then the revert commit; the database
    moves approved -> in_review with the reason (workflow.advance) in the caller's
    transaction. The revert commit carries the engine's lines and totals: the inputs of
    record with the adjustments of record and the restored values (as Submit)."""
    from server import workflow
    from server.ledger import HistoryError, PeriodClosed
    from server.services import history as hist

    zh = _zh(lang)
    reason = (reason or "").strip()
    if not reason:
        raise BadRequest("撤销必须填写原因。" if zh else "A revert needs a reason.")
    workflow.require_allowed(period, "adjust", lang)
    history = hist.history_for(app)
    try:
        info = history.commit_info(commit)
    except (HistoryError, ValueError, LookupError) as exc:
        raise NotFound(f"历史中没有提交 {commit[:12]}。" if zh else
                       f"No commit {commit[:12]} in the history.") from exc
    if info.period != period.code or not info.cells:
        raise BadRequest(f"提交 {commit[:12]} 不是期间 {period.code} 的调整。" if zh else
                         f"Commit {commit[:12]} is not an adjustment of period {period.code}.")
    policy.require_changes(session, user, period, revert_points(info.cells), lang)
    inp = web_input(session, period, lang)
    check_with_engine(session, period, inp, {
        c.cell: None if c.old is None else CellValue(c.old, reason) for c in info.cells}, lang)
    sid = _submission_id(requested_id)
    why = f"撤销 {commit[:10]}：{reason}" if zh else f"revert {commit[:10]}: {reason}"
    was_approved = period.state == PeriodState.APPROVED.value
    if history.status(period.code).get("status") == PeriodState.APPROVED.value:
        # Reopening is a commit of its own: not for a revert that would change nothing
        # (every cell changed since), which would leave git in review and the database
        # approved.
        then, now = history.cells_at(commit, period.code), history.cells_at(None, period.code)
        if all(now.get(c.cell) != then.get(c.cell) for c in info.cells):
            cells = ", ".join(f"{c.employee_id} {c.indicator}" for c in info.cells)
            raise ConflictError(f"这些单元格在该版本之后又被修改过，未撤销：{cells}" if zh else
                                f"These cells were changed again since; nothing reverted: "
                                f"{cells}")
    _reopen_if_approved(history, period, user, why, sid)
    scored: list[tuple[ScoreInput, ScoreResult]] = []
    try:
        result = history.revert(period.code, commit, hist.editor_of(user), reason, sid,
                                rescore=_workbook_rescore(session, period, inp, lang, scored))
    except PeriodClosed:
        # approved again between our reopen and the revert
        raise ConflictError(f"期间 {period.code} 已审批，不能撤销。" if zh else
                            f"Period {period.code} is approved; nothing can be reverted.") from None
    except ValidationError as exc:
        raise BadRequest(_engine_refusal(exc, lang)) from None
    hist.fault("after_git_commit")
    run = None
    if result.commit is not None:
        record_commit(session, period, result, Kind.REVERT.value, sid, user.name, user.id)
        run = _store_web_run(session, period, user, lang, scored, sid, result.commit,
                             "revert")
        workflow.advance(session, period, "adjust", user,
                         reason=why if was_approved else "")
    reports = {c.cell: CellReport(c.cell, "conflict", "changed since" if not zh else "之后已被修改")
               for c in result.conflicts}
    for change in result.applied:
        reports[change.cell] = CellReport(change.cell, "accepted", "reverted")
    if run is None:
        run = workflow_latest(session, period)
    return SubmitOutcome(sid, result.commit, history.head(), result.duplicate, run,
                         scored[-1][1] if scored else None,  # type: ignore[arg-type]
                         scored[-1][0] if scored else None,  # type: ignore[arg-type]
                         reports)


def workflow_latest(session: Session, period: Period) -> ScoreRun | None:
    from server.workflow import latest_run

    return latest_run(session, period)


# --- recovery and workflow events ----------------------------------------------------------------


def recover(app) -> list[str]:
    """Start-up: commits on the history branch the database does not know (a crash between
    the git commit and the database write) are written to the database, idempotently."""
    from server.db import session_scope
    from server.services import history as hist

    history = hist.history_for(app)
    with session_scope(app) as session:
        known = set(session.scalars(select(HistoryCommit.submission_id)))
        known |= {f"event-{i}" for i in session.scalars(select(PeriodEvent.id))}
        missing = history.recover(known)
        replayed: list[str] = []
        unknown: dict[str, int] = {}
        for info in missing:
            if info.submission_id.endswith(".review"):
                continue  # the status half of a submission after approval
            period = session.scalar(select(Period).where(Period.code == info.period))
            if period is None:
                unknown[info.period] = unknown.get(info.period, 0) + 1
                continue
            author = hist.user_of(session, info.author)
            if record_commit(session, period, info, info.kind, info.submission_id,
                             author.name if author else info.author.name,
                             author.id if author else None, recovered=True):
                replayed.append(info.submission_id)
                log.warning("recovered history commit %s (%s, %s) into the database",
                            info.commit[:12], info.kind, info.submission_id)
        for code, n in sorted(unknown.items()):
            log.warning("%s history commit(s) name period %s, which the database lacks",
                        n, code)
        # Workflow moves are written the other way round (database, then the subscriber's
        # git commit): a move the history missed is replayed as the period's latest status.
        for period in session.scalars(select(Period)):
            event = session.scalar(select(PeriodEvent).where(
                PeriodEvent.period_id == period.id, PeriodEvent.action != "create")
                .order_by(PeriodEvent.id.desc()).limit(1))
            if event is None or history.status(period.code).get("status") == event.to_state:
                continue
            if history.commit_of(f"event-{event.id}") is None:
                user = session.get(User, event.actor_id) if event.actor_id else None
                history.set_status(period.code, event.to_state,
                                   hist.editor_of(user) if user else hist.SYSTEM,
                                   event.reason or f"{event.action} (recovered)",
                                   f"event-{event.id}",
                                   kind=STATUS_KINDS.get(event.action, Kind.APPROVAL))
                replayed.append(f"event-{event.id}")
    return replayed


def install_history(app, recover_now: bool = True) -> None:
    """create_app: every workflow move becomes a history commit; recover a crash (only
    when the repository exists: a new instance has nothing to recover; not in a gunicorn
    worker, whose master recovered once before forking: server/app.py)."""
    import os

    from server import workflow

    workflow.subscribe(on_period_event)
    if recover_now and os.path.exists(os.path.join(str(app.config["HISTORY_DIR"]), "HEAD")):
        try:
            replayed = recover(app)
            log.info("start-up recovery (pid %d): %d commit(s) replayed", os.getpid(),
                     len(replayed))
        except Exception:  # noqa: BLE001 - an unmigrated database must not stop the app
            log.exception("history recovery at start-up failed")


STATUS_KINDS = {"reopen": Kind.REOPEN, "return": Kind.REOPEN}


def on_period_event(info) -> None:
    """workflow subscriber: every state change of a period is a history commit (after the
    database committed it; a failure is logged and retried at the next start-up)."""
    from flask import current_app, has_app_context

    from server.services import history as hist

    if not has_app_context() or info.action == "create":
        return
    history = hist.history_for(current_app)
    if history.status(info.period_code).get("status") == info.to_state:
        return  # already said by the submission that moved it
    from server.db import get_engine

    with Session(get_engine(current_app)) as db:
        user = db.scalar(select(User).where(User.name == info.actor))
    editor = hist.editor_of(user) if user is not None else hist.SYSTEM
    history.set_status(info.period_code, info.to_state, editor,
                       info.reason or f"{info.action}: {info.from_state} -> {info.to_state}",
                       f"event-{info.event_id}",
                       kind=STATUS_KINDS.get(info.action, Kind.APPROVAL))
