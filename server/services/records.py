"""The inputs of record: the rules, roster, source data and targets a period is scored with.

The server owns them (docs/records.md); a workbook is a client's copy, checked against them:

* HR's first Score of a period adopts its workbook's inputs as the first record.
* HR's later Score takes its source data (data entry is HR's job) and shows how its rules,
  targets and roster differ from the record; those differences are applied only with a reason
  (`apply_reason`), recorded with who, when and why. Until then the record is scored.
* Anyone else's Score or Submit is scored with the record. A differing rule, setting or target
  is refused with its located cell; a differing roster row or data value is ignored (the
  record wins and the answer writes it back). Nothing of theirs is ever stored as a record.

Every version is an `InputRecord` row (the latest in force), so the record's own history says
who changed what and why; the roster of record (`Employee` rows) changes only here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from server import policy
from server.models import InputRecord, Period, User
from server.scoring.codec import input_from_json, input_to_json, rules_to_json
from server.scoring.messages import msg
from server.scoring.model import Employee, Fact, Problem, ScoreInput
from server.services import scorecards
from server.services.cells import cell_text
from server.services.errors import Conflict
from server.services.periods import digest
from server.workbook.contract import Tables

# Which workbook table holds each part of the input, and the columns that identify a row.
RULE_TABLES = ("kb_rules", "kb_settings", "kb_targets")
_INDICATOR_FIELDS = ("name", "kind", "weight", "source", "rule", "params", "departments",
                     "positions", "missing", "unit", "adjust_roles", "adjust_max_up",
                     "adjust_max_down")
# engine field -> kb_rules column key (None: the column of the same name)
_RULE_COLUMN = {"adjust_roles": "adjust_by", "params": "params"}
_SETTINGS = ("missing_default", "grading", "bands", "quotas", "distribution_group",
             "total_cap", "weight_tolerance")
_ROSTER_FIELDS = ("name", "department", "position", "email")
LIST_LIMIT = 20  # differences listed in an alert; the rest are counted


@dataclass(frozen=True, slots=True)
class Difference:
    """One way a workbook differs from the record, located where HR sees it."""

    table: str  # kb_rules | kb_settings | kb_targets | kb_roster | kb_data
    key: tuple[str, ...]  # (code,), (setting,), (employee,), (employee, code[, field])
    column: str  # column key of `table`
    record: str  # the record's value as text ("" when the record has none)
    workbook: str  # the workbook's value as text ("" when it has none)

    @property
    def is_rule(self) -> bool:
        return self.table in RULE_TABLES


@dataclass(slots=True)
class Resolution:
    """What a button scores with, and what became of the workbook's differences."""

    inp: ScoreInput  # the engine's input (adjustments not yet of record)
    record: InputRecord
    applied: list[Difference]  # HR applied these with this press (a new record)
    pending: list[Difference]  # HR's rule/roster differences not applied (no reason given)
    ignored: list[Difference]  # someone else's roster/data differences: the record won
    created: bool = False  # this press made a new version of the rules or roster of record


# --- reading the record ------------------------------------------------------------------

# input digest -> the decoded input: content-addressed, so a row id reused after a rolled-back
# insert (SQLite) can never bring back another version's input
_DECODED: dict[str, ScoreInput] = {}


def current(session: Session, period: Period) -> tuple[InputRecord, ScoreInput] | None:
    """The record in force for `period` and its decoded input, or None before HR's first
    Score."""
    row = latest(session, period)
    return None if row is None else (row, decoded(row))


def latest(session: Session, period: Period) -> InputRecord | None:
    # The payload (a 5,000-manager month is ~4 MB of JSON) is read only when it is decoded:
    # the everyday press compares digests and never needs it.
    return session.scalars(select(InputRecord).options(defer(InputRecord.payload))
                           .where(InputRecord.period_id == period.id)
                           .order_by(InputRecord.id.desc()).limit(1)).first()


def decoded(row: InputRecord) -> ScoreInput:
    """The row's input, decoded once per process (a 5,000-manager month is ~45,000 facts)."""
    inp = _DECODED.get(row.input_digest)
    if inp is None:
        if len(_DECODED) > 32:  # a few periods' inputs, not every version ever read
            _DECODED.clear()
        inp = _DECODED[row.input_digest] = input_from_json(row.payload)
    return inp


def versions(session: Session, period: Period) -> list[InputRecord]:
    """Every version of the record, oldest first (the record's history)."""
    return list(session.scalars(select(InputRecord).where(InputRecord.period_id == period.id)
                                .order_by(InputRecord.id)))


def roster_digest(employees: Iterable[Employee]) -> str:
    return digest(sorted((e.employee_id, e.name, e.department, e.position, e.email)
                         for e in employees))


def rules_digest(inp: ScoreInput) -> str:
    return digest([rules_to_json(inp.rules),
                   sorted((o.employee_id, o.indicator, repr(sorted(o.params.items())))
                          for o in inp.overrides)])


# --- comparing a workbook with the record --------------------------------------------------


def _shown(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, frozenset | set):
        return ", ".join(sorted(map(str, value)))
    if isinstance(value, (tuple, list)):
        return ", ".join(_shown(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}={_shown(v)}" for k, v in sorted(value.items()))
    if hasattr(value, "value") and not isinstance(value, str):  # an enum
        return str(value.value)  # type: ignore[attr-defined]
    return str(value)


def rule_differences(record: ScoreInput, workbook: ScoreInput) -> list[Difference]:
    """Indicators, settings and per-person targets that differ."""
    out: list[Difference] = []
    mine = {i.code: i for i in record.rules.indicators}
    theirs = {i.code: i for i in workbook.rules.indicators}
    for code in sorted(mine.keys() | theirs.keys()):
        a, b = mine.get(code), theirs.get(code)
        if a is None or b is None:
            out.append(Difference("kb_rules", (code,), "code", code if a else "",
                                  code if b else ""))
            continue
        for name in _INDICATOR_FIELDS:
            va, vb = getattr(a, name), getattr(b, name)
            if name == "params":
                va, vb = dict(va), dict(vb)
            if va != vb:
                out.append(Difference("kb_rules", (code,), _RULE_COLUMN.get(name, name),
                                      _shown(va), _shown(vb)))
    for name in _SETTINGS:
        va, vb = getattr(record.rules, name), getattr(workbook.rules, name)
        if va != vb:
            out.append(Difference("kb_settings", (name,), "value", _shown(va), _shown(vb)))
    ours = {(o.employee_id, o.indicator): dict(o.params) for o in record.overrides}
    yours = {(o.employee_id, o.indicator): dict(o.params) for o in workbook.overrides}
    for key in sorted(ours.keys() | yours.keys()):
        if ours.get(key) != yours.get(key):
            out.append(Difference("kb_targets", key, "target", _shown(ours.get(key)),
                                  _shown(yours.get(key))))
    return out


def roster_differences(record: Sequence[Employee], workbook: Sequence[Employee]
                       ) -> list[Difference]:
    mine = {e.employee_id: e for e in record}
    theirs = {e.employee_id: e for e in workbook}
    out: list[Difference] = []
    for eid in sorted(mine.keys() | theirs.keys()):
        a, b = mine.get(eid), theirs.get(eid)
        if a is None or b is None:
            out.append(Difference("kb_roster", (eid,), "employee_id", eid if a else "",
                                  eid if b else ""))
            continue
        for name in _ROSTER_FIELDS:
            if getattr(a, name) != getattr(b, name):
                out.append(Difference("kb_roster", (eid,), name, getattr(a, name),
                                      getattr(b, name)))
    return out


def _fact_key(f: Fact) -> tuple[str, str, str]:
    return f.employee_id, f.indicator, f.field


def data_differences(record: Sequence[Fact], workbook: Sequence[Fact]) -> list[Difference]:
    mine = {_fact_key(f): f.value for f in record}
    theirs = {_fact_key(f): f.value for f in workbook}
    if mine == theirs:
        return []
    return [Difference("kb_data", key, "value", _shown(mine.get(key)), _shown(theirs.get(key)))
            for key in sorted(mine.keys() | theirs.keys()) if mine.get(key) != theirs.get(key)]


# --- deciding ----------------------------------------------------------------------------------


def resolve(session: Session, period: Period, user: User, workbook: ScoreInput,
            tables: Tables, lang: str, apply_reason: str | None = None) -> Resolution:
    """The input a Score or Submit by `user` is scored with (see the module docstring).

    Raises Conflict before HR's first Score of the period, and Unprocessable (located) when
    someone other than HR sends rules, settings or targets that differ from the record."""
    row = latest(session, period)
    owner = user.role == policy.HR
    if row is None:
        if not owner:
            raise Conflict(msg("records.none_yet", lang, period=period.code))
        _check_members(session, period, workbook, tables, lang)
        row = _store(session, period, workbook, "adopted", [], user,
                     apply_reason or msg("records.adopted_reason", "zh"))
        return Resolution(workbook, row, [], [], [], created=True)
    whole = digest(workbook)
    if whole == row.input_digest:
        # The everyday press: the workbook is the record. The same object goes on to the
        # engine, which keeps the run `to_score_input` validated (one engine run).
        return Resolution(workbook, row, [], [], [])
    record = decoded(row)
    # the workbook's digests, worked out once: a new version of its own inputs carries them
    digests = (rules_digest(workbook), roster_digest(workbook.employees), whole)
    same_rules = row.rules_digest == digests[0]
    same_roster = row.roster_digest == digests[1]
    if owner:
        differences = ([] if same_rules else rule_differences(record, workbook)) + \
            ([] if same_roster else roster_differences(record.employees, workbook.employees))
        if differences and apply_reason:
            if not same_roster:
                _check_members(session, period, workbook, tables, lang)
            new = _store(session, period, workbook, "applied", differences, user, apply_reason,
                         digests)
            return Resolution(workbook, new, differences, [], [], created=True)
        if not differences:  # only HR's data differs: a new version of the data
            return Resolution(workbook, _store(session, period, workbook, "data", [], user,
                                               "", digests), [], [], [])
        # scored with the record's rules and roster, HR's data where it fits them
        inp = dataclasses.replace(record, facts=_hr_data(record, workbook.facts))
        if digest(inp) != row.input_digest:
            row = _store(session, period, inp, "data", [], user, "")
        return Resolution(inp, row, [], differences, [])
    # Compared only for the people the caller may see: other people's rows in their
    # workbook are ignored without a word, and no message shows a value of theirs.
    people = visible_people(user, record)
    mine, theirs = _narrowed(record, people), _narrowed(workbook, people)
    # A person left out of the workbook is a roster difference (ignored below), not also a
    # target difference for each of their targets.
    present = {e.employee_id for e in theirs.employees}
    rules = [] if same_rules else rule_differences(
        dataclasses.replace(mine, overrides=tuple(o for o in mine.overrides
                                                  if o.employee_id in present)), theirs)
    if rules:
        from server.services.workbook import invalid

        raise invalid(locate(rules, tables, lang, refused=True), lang)
    ignored = ([] if same_roster else roster_differences(mine.employees, theirs.employees))
    ignored += data_differences(mine.facts, theirs.facts)
    return Resolution(record, row, [], [], ignored)


def _check_members(session: Session, period: Period, workbook: ScoreInput, tables: Tables,
                   lang: str) -> None:
    """A manager belongs to one scorecard a month: refuse (located at their kb_roster row)
    a roster that takes in someone another scorecard of the month scores."""
    taken = scorecards.taken_elsewhere(session, period, (e.employee_id for e in
                                                         workbook.employees))
    if taken:
        from server.services.workbook import invalid

        raise invalid(scorecards.taken_problems(taken, tables, lang), lang)


def _narrowed(inp: ScoreInput, people: frozenset[str] | None) -> ScoreInput:
    if people is None:
        return inp
    return dataclasses.replace(
        inp, employees=tuple(e for e in inp.employees if e.employee_id in people),
        facts=tuple(f for f in inp.facts if f.employee_id in people),
        overrides=tuple(o for o in inp.overrides if o.employee_id in people))


def with_data(record: ScoreInput, facts: Iterable[Fact]) -> tuple[Fact, ...]:
    """`facts` for the record's people and indicators over the record's own values: the data
    a Score with these values would be computed from (server/services/restatement.py)."""
    return _hr_data(record, facts)


def _hr_data(record: ScoreInput, facts: Iterable[Fact]) -> tuple[Fact, ...]:
    """HR's data for the record's people and indicators, the record's values for the rest."""
    people = {e.employee_id for e in record.employees}
    codes = {i.code for i in record.rules.indicators}
    merged = {_fact_key(f): f for f in record.facts}
    merged.update((_fact_key(f), f) for f in facts
                  if f.employee_id in people and f.indicator in codes)
    return tuple(merged.values())


def _store(session: Session, period: Period, inp: ScoreInput, kind: str,
           changes: list[Difference], user: User, reason: str,
           digests: tuple[str, str, str] | None = None) -> InputRecord:
    """`digests`: (rules, roster, input) digests of `inp` when they are known already."""
    bare = dataclasses.replace(inp, adjustments=()) if inp.adjustments else inp
    if digests is None or inp.adjustments:  # the input digest is of the bare input
        digests = (rules_digest(bare), roster_digest(bare.employees), digest(bare))
    row = InputRecord(period_id=period.id, kind=kind, rules_digest=digests[0],
                      roster_digest=digests[1], input_digest=digests[2],
                      payload=input_to_json(bare),
                      changes=[dataclasses.asdict(d) for d in changes[:1000]],
                      reason=reason, created_by=user.name)
    session.add(row)
    if kind != "data":
        # The roster of record: departments decide who may read and adjust whom
        # (server/policy.py), so it changes only with HR's record.
        from server.services.roster import remember_employees

        remember_employees(session, bare.employees)
        scorecards.set_members(session, period, (e.employee_id for e in bare.employees))
    session.flush()
    _DECODED[row.input_digest] = bare
    return row


# --- words -------------------------------------------------------------------------------------


def history_note(resolution: Resolution) -> str:
    """The history commit's note when this press changed the rules or roster of record:
    who applied what and why sits next to the totals it produced (docs/records.md)."""
    row = resolution.record
    if not resolution.created:
        return ""
    changes = "; ".join(f"{' '.join(d.key)} {d.column}: {d.record or '-'} -> {d.workbook or '-'}"
                        for d in resolution.applied[:LIST_LIMIT])
    more = len(resolution.applied) - LIST_LIMIT
    return (f"Records {row.kind} (version {row.id}): {row.reason}"
            + (f"\nChanges: {changes}" if changes else "")
            + (f" (+{more} more)" if more > 0 else ""))


_KEY_COLUMNS = {"kb_rules": ("code",), "kb_settings": ("key",), "kb_targets":
                ("employee_id", "indicator"), "kb_roster": ("employee_id",),
                "kb_data": ("employee_id", "indicator", "field")}


def locate(differences: Sequence[Difference], tables: Tables, lang: str, *,
           refused: bool = False) -> list[Problem]:
    """Each difference as a Problem at the workbook cell where HR sees it."""
    rows: dict[str, dict[tuple[str, ...], int]] = {}
    out = []
    for d in differences:
        frame = tables.get(d.table)
        index = rows.get(d.table)
        if index is None and frame is not None:
            index = rows[d.table] = _row_index(frame, d.table)
        i = (index or {}).get(d.key if d.table != "kb_data" or len(d.key) == 3
                              else (*d.key, "actual"))
        if i is None and d.table == "kb_data":
            i = (index or {}).get(d.key[:2] + ("actual",))
        text = msg("records.refused" if refused else "records.differs", lang,
                   what=" ".join(d.key), record=d.record or "—", workbook=d.workbook or "—")
        column = d.column if frame is not None and d.column in frame.columns else None
        if frame is not None and i is not None:
            out.append(frame.problem(i, column, text, lang))
        else:
            out.append(Problem(d.table, None, None, text, key=d.key))
    return out


def _row_index(frame, table: str) -> dict[tuple[str, ...], int]:
    keys = _KEY_COLUMNS[table]
    index: dict[tuple[str, ...], int] = {}
    for i in range(len(frame.excel_rows)):
        key = tuple(cell_text(frame.value(i, k)) for k in keys)
        if table == "kb_data" and not key[2]:
            key = (*key[:2], "actual")
        index.setdefault(key, i)
    return index


def summary(resolution: Resolution, tables: Tables, lang: str) -> str | None:
    """The alert lines about the record for this press (None: nothing to say)."""
    from server.workbook.render import problems_message

    parts = []
    for key, items in (("records.applied", resolution.applied),
                       ("records.pending", resolution.pending),
                       ("records.ignored", resolution.ignored)):
        if items:
            parts.append(problems_message(locate(items[:LIST_LIMIT], tables, lang), lang,
                                          intro=msg(key, lang, n=len(items))))
    return "\n\n".join(parts) or None


def visible_people(user: User, inp: ScoreInput) -> frozenset[str] | None:
    """Employee ids of `inp` the user may see; None: all of them."""
    if policy.department_scope(user) is None and user.role != policy.EMP:
        return None
    return frozenset(e.employee_id for e in inp.employees
                     if policy.visible(user, e.employee_id, e.department))


# --- the record's history on the web -----------------------------------------------------------


@dataclass(slots=True)
class VersionView:
    """One version of the record as a page shows it: who, when, why, what changed, and the
    totals of the run just before it and of the latest run while its rules and roster were
    in force (a rule change next to what it did, also once the data of a new indicator
    was pulled after it)."""

    row: InputRecord
    changes: list[dict]
    totals: list[tuple[str, str | None, str | None]]  # (employee, before, after), changed only


def history(session: Session, period: Period, user: User) -> list[VersionView]:
    """Every version of the period's record, newest first, with only what `user` may see:
    changes about a person (roster, targets, data) and their totals are shown only when the
    policy lets the user read that person's result."""
    from server.models import ScoreRun
    from server.services import stored_run
    from server.services.roster import departments_of

    departments = departments_of(session)

    def may_see(employee_id: str) -> bool:
        return policy.visible(user, employee_id, departments.get(employee_id))

    runs = session.execute(select(ScoreRun.id, ScoreRun.created_at, ScoreRun.totals)
                           .where(ScoreRun.period_id == period.id)
                           .order_by(ScoreRun.id)).all()
    out = []
    every = versions(session, period)
    for n, row in enumerate(reversed(every)):
        before = next((r for r in reversed(runs) if r.created_at < row.created_at), None)
        # the next change of the rules or roster ends this version's time in force
        until = next((v.created_at for v in every[len(every) - n:] if v.kind != "data"),
                     None)
        after = next((r for r in reversed(runs) if r.created_at >= row.created_at
                      and (until is None or r.created_at < until)), None)
        totals = []
        if before is not None and after is not None and row.kind != "data":
            old = {t["employee_id"]: t.get("total") for t in stored_run.totals(before)}
            new = {t["employee_id"]: t.get("total") for t in stored_run.totals(after)}
            totals = [(eid, old.get(eid), new.get(eid)) for eid in sorted(old.keys() | new.keys())
                      if old.get(eid) != new.get(eid) and may_see(eid)]
        changes = [c for c in row.changes
                   if c["table"] in ("kb_rules", "kb_settings") or may_see(c["key"][0])]
        out.append(VersionView(row, changes, totals))
    return out
