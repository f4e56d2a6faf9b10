"""The workbook answer of Score and Submit: what is written back, for whom.

The results of the people the caller may see (server/services/scope.py), the adjustments of
record with this submission's outcome per cell (refused cells keep what was typed), the
allowed range of each line for the person who pressed, and for anyone but HR the records
written back into kb_roster, kb_data and kb_targets (docs/records.md).
"""

from __future__ import annotations

from decimal import Decimal
from itertools import compress, repeat
from operator import add, is_not, mul

from sqlalchemy.orm import Session

from server import policy
from server.models import Period, User
from server.scoring.messages import msg
from server.scoring.model import ScoreInput, ScoreResult
from server.scoring.numbers import fmt
from server.services import records, scope
from server.services.cells import cell_number, cell_text, texts
from server.services.facts import fact_links
from server.services.workbook import Workbook, cell_value
from server.workbook.render import score_plan
from server.xlwire.plan import WritePlan


def stamp(plan: WritePlan, **meta: str) -> WritePlan:
    plan.meta.update(meta)
    return plan


def results_plan(session: Session, period: Period, wb: Workbook, result: ScoreResult,
                 inp: ScoreInput, lang: str, base_url: str) -> WritePlan:
    """kb_scores, kb_summary and kb_adjustments for `result`; each explanation links to the
    page of the facts behind its line (docs/workbook.md)."""
    link, linked = fact_links(session, period, base_url)
    return score_plan(result, inp, wb.tables, lang, link, linked)


def answer_plan(session: Session, user: User, wb: Workbook, period: Period, inp: ScoreInput,
                result: ScoreResult, rows: dict, reports: dict, lang: str,
                base_url: str) -> tuple[WritePlan, int]:
    """What Score and Submit write back: the results of the people `user` may see, the
    adjustments of record with this submission's outcome, and (for anyone but HR) the
    records in kb_roster/kb_data/kb_targets. Also the count of typed, unsent adjustments."""
    people = records.visible_people(user, inp)
    shown_result, shown_inp = scope.scoped(result, inp, people)
    plan = results_plan(session, period, wb, shown_result, shown_inp, lang, base_url)
    scope.drop_rows_of_others(plan, people)
    rows = scope.scoped_rows(rows, people)
    unsent = unsent_adjustments(wb, rows)
    refused = [k for k, r in reports.items() if r.state == "rejected"]
    write_adjustments_of_record(plan, rows, reports, lang, typed_adjustments(wb, refused))
    write_allowed_ranges(plan, user, inp, lang)
    if user.role != policy.HR:
        scope.write_back_records(plan, wb, shown_inp)
    return plan, unsent


def unsent_adjustments(wb: Workbook, rows: dict) -> int:
    """kb_adjustments rows whose typed points differ from the adjustment of record.

    Only a row with typed points or with an adjustment of record can differ, and those are
    few: they are found a column at a time (43,000 rows at 5,000 managers), the keys read
    only when there are adjustments of record."""
    frame = wb.tables.get("kb_adjustments")
    if frame is None:
        return 0
    points = frame.column("points")
    candidates = set(compress(range(len(points)), map(is_not, points, repeat(None))))
    if rows:
        keys = zip(texts(frame.column("employee_id")),
                   texts(frame.column("indicator")), strict=True)
        candidates.update(i for i, key in enumerate(keys) if key in rows)
    n = 0
    for i in candidates:
        key = (cell_text(frame.value(i, "employee_id")),
               cell_text(frame.value(i, "indicator")))
        typed = cell_number(points[i]) or None
        record = rows.get(key)
        if typed != (cell_number(record.points) if record is not None else None):
            n += 1
    return n


OK_FILL = "#E2EFDA"  # green: accepted in this submission
REJECTED_FILL = "#F8CBAD"  # red: refused, reverted to the server's value
CONFLICT_FILL = "#FFD966"  # yellow: someone else changed the cell first
RESTORED_FILL = "#BDD7EE"  # blue: a computed cell typed over, restored

FILLS = {"accepted": OK_FILL, "rejected": REJECTED_FILL, "conflict": CONFLICT_FILL}


def write_adjustments_of_record(plan: WritePlan, rows: dict, reports: dict,
                                 lang: str, typed: dict | None = None) -> None:
    """kb_adjustments shows the adjustments of record (points, reason) on every row, and
    for the cells of this submission what happened (status column, colour). A refused cell
    keeps what was typed (`typed`: key -> (points, reason)), marked with why: nothing an
    executive typed is erased (docs/workbook.md, "Submit").

    Column by column: every row's points and reason are those of record (none, usually);
    only the rows of adjustments of record and of this submission's cells are looked at."""
    write = next((t for t in plan.tables if t.table == "kb_adjustments"), None)
    if write is None:
        return
    n = write.n_rows
    points: list[object] = [None] * n
    reasons: list[object] = [None] * n
    status = list(write.column("status"))
    typed = typed or {}
    if rows or reports:
        keys = zip(map(str, write.column("employee_id")), map(str, write.column("indicator")),
                   strict=True)
        for i, key in enumerate(keys):
            record = rows.get(key)
            if record is not None:
                points[i] = cell_value(Decimal(record.points))
                reasons[i] = record.reason
            report = reports.get(key)
            if report is not None:
                if report.state == "rejected" and key in typed:
                    points[i], reasons[i] = typed[key]
                status[i] = report.message
                for col in ("points", "reason", "status"):
                    write.cell_fills[(i, col)] = FILLS[report.state]
    write.set_column("points", points)
    write.set_column("reason", reasons)
    write.set_column("status", status)
    write.number_formats.setdefault("points", "0.00")
    write.text_columns = write.text_columns | {"reason", "status"}


def typed_adjustments(wb: Workbook, keys) -> dict:
    """What was typed in kb_adjustments for `keys`: key -> (points, reason) as in the cells."""
    frame = wb.tables.get("kb_adjustments")
    wanted = set(keys)
    out: dict = {}
    if frame is None or not wanted:
        return out
    for i in range(len(frame.excel_rows)):
        key = (cell_text(frame.value(i, "employee_id")),
               cell_text(frame.value(i, "indicator")))
        if key in wanted and key not in out:
            out[key] = (frame.value(i, "points"), frame.value(i, "reason"))
    return out


def write_allowed_ranges(plan: WritePlan, user: User, inp, lang: str) -> None:
    """kb_adjustments' "Allowed range" column, for the person who pressed: how far they may
    adjust each line (their authority within the rules of record), so that nobody types +5
    where +2 is the limit; "—" with why where they may not adjust at all.

    The text depends on the line's department and indicator (and whether it is the
    presser's own line) only: worked out once per such key, then looked up per row."""
    write = next((t for t in plan.tables if t.table == "kb_adjustments"), None)
    if write is None or not policy.can(user, "adjustment.make"):
        return
    eids = list(map(str, write.column("employee_id")))
    codes = list(map(str, write.column("indicator")))
    if len(eids) != len(codes):
        raise ValueError("kb_adjustments: one indicator per employee id")
    department_of = {e.employee_id: e.department for e in inp.employees}
    own = user.employee_id
    # A line's key, (department, own line?, indicator), as one small int: each employee's
    # (department, own line?) numbered once, each indicator numbered once, then per line
    # group * k + code at C speed (no tuple made or hashed per line: 43,000 lines).
    code_no = dict.fromkeys(codes)
    for j, code in enumerate(code_no):
        code_no[code] = j
    k = max(len(code_no), 1)
    groups: dict[tuple[object, bool], int] = {}
    group_no = {eid: groups.setdefault((department_of.get(eid), eid == own), len(groups))
                for eid in dict.fromkeys(eids)}
    keys = list(map(add, map(mul, map(group_no.__getitem__, eids), repeat(k)),
                    map(code_no.__getitem__, codes)))
    # each key with its first row (the later rows of a reversed walk lose)
    first = dict(zip(reversed(keys), reversed(range(len(keys))), strict=True))
    group_of = list(groups)
    texts = {key: allowed_text(user, eids[row], group_of[key // k][0], codes[row], inp, lang)
             for key, row in first.items()}
    write.set_column("allowed", list(map(texts.__getitem__, keys)))
    write.text_columns = write.text_columns | {"allowed"}


def allowed_text(user: User, eid: str, department, code: str, inp, lang: str) -> str:
    try:
        ind = inp.rules.indicator(code)
    except KeyError:
        return "—"
    authority = policy.adjustment_range(user, policy.Change(
        eid, department, code, Decimal(0), frozenset(ind.adjust_roles)), lang)
    if not authority.allowed:
        return msg("answer.not_allowed", lang,
                   reasons=msg("glue.clauses", lang).join(authority.reasons))
    ups = [v for v in (authority.max_up, ind.adjust_max_up) if v is not None]
    downs = [v for v in (authority.max_down, ind.adjust_max_down) if v is not None]
    low = f"-{fmt(min(downs))}" if downs else msg("answer.no_limit", lang)
    high = f"+{fmt(min(ups))}" if ups else msg("answer.no_limit", lang)
    return f"{low} … {high}"


def mark_restored(plan: WritePlan, wb: Workbook, restored: list) -> None:
    """Colour computed cells that had been typed over (their value is rewritten anyway)."""
    for table, i, key, _message in restored:
        write = next((t for t in plan.tables if t.table == table), None)
        frame = wb.tables.get(table)
        if write is None or frame is None or key not in write.columns:
            continue
        eid = cell_text(frame.value(i, "employee_id"))
        code = cell_text(frame.value(i, "indicator")) if table == "kb_scores" \
            else None
        e_at = write.columns.index("employee_id")
        c_at = write.columns.index("indicator") if code is not None else None
        for n, row in enumerate(write.rows):
            if str(row[e_at]) == eid and (c_at is None or str(row[c_at]) == code):
                write.cell_fills[(n, key)] = RESTORED_FILL
                break
