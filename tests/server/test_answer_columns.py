"""The answer's kb_adjustments columns written a column at a time (services/answer.py) are
exactly what the former row-by-row code wrote: the same columns, values, colours, formats
and text columns, for random plans, adjustments of record, submission outcomes and
pressers (kept here as the reference)."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server import policy
from server.models import User
from server.scoring.model import Employee
from server.services import answer
from server.services.workbook import cell_value
from server.workbook.render import ADJUSTMENT_COLUMNS
from server.xlwire.plan import TableWrite, WritePlan
from tests.web.conftest import world_rules


def _old_adjustments_of_record(plan, rows, reports, lang, typed=None):
    write = next((t for t in plan.tables if t.table == "kb_adjustments"), None)
    if write is None:
        return
    if "points" not in write.columns:
        write.columns += ["points", "reason"]
        for row in write.rows:
            row += [None, None]
    p_at, r_at = write.columns.index("points"), write.columns.index("reason")
    status_at = write.columns.index("status")
    typed = typed or {}
    for n, row in enumerate(write.rows):
        key = (str(row[0]), str(row[3]))
        record = rows.get(key)
        row[p_at] = cell_value(Decimal(record.points)) if record is not None else None
        row[r_at] = record.reason if record is not None else None
        report = reports.get(key)
        if report is not None:
            if report.state == "rejected" and key in typed:
                row[p_at], row[r_at] = typed[key]
            row[status_at] = report.message
            for col in ("points", "reason", "status"):
                write.cell_fills[(n, col)] = answer.FILLS[report.state]
    write.number_formats.setdefault("points", "0.00")
    write.text_columns = write.text_columns | {"reason", "status"}


def _old_allowed_ranges(plan, user, inp, lang):
    write = next((t for t in plan.tables if t.table == "kb_adjustments"), None)
    if write is None or not policy.can(user, "adjustment.make"):
        return
    rows = write.rows
    e_at, c_at = write.columns.index("employee_id"), write.columns.index("indicator")
    people = {e.employee_id: e for e in inp.employees}
    seen: dict[tuple, str] = {}
    values = []
    for row in rows:
        eid, code = str(row[e_at]), str(row[c_at])
        emp = people.get(eid)
        department = emp.department if emp is not None else None
        key = (department, code, eid == user.employee_id)
        text = seen.get(key)
        if text is None:
            text = seen[key] = answer.allowed_text(user, eid, department, code, inp, lang)
        values.append(text)
    write.columns.append("allowed")
    for row, text in zip(rows, values, strict=True):
        row.append(text)
    write.text_columns = write.text_columns | {"allowed"}


PEOPLE = ["M1", "M2", "M3", "NOBODY"]
CODES = ["PROD_EFF", "QUALITY", "GONE"]
ROLES = ["hr_admin", "executive", "dept_head", "employee", "auditor"]


def _plan(keys, typed_columns, by_rows):
    columns = list(ADJUSTMENT_COLUMNS) + (["points", "reason"] if typed_columns else [])
    data = [[], [], [], [], [], [], [], []] + ([[], []] if typed_columns else [])
    for n, (eid, code) in enumerate(keys):
        row = [eid, eid.lower(), "D1", code, code.title(), 1.5, 2.5, "ok"]
        if typed_columns:
            row += [0.5 if n % 2 else None, "typed" if n % 3 else None]
        for values, value in zip(data, row, strict=True):
            values.append(value)
    if by_rows:
        return WritePlan([TableWrite("kb_adjustments", columns,
                                     [list(r) for r in zip(*data, strict=True)] if keys
                                     else [])])
    return WritePlan([TableWrite.from_columns("kb_adjustments", columns, data)])


def _contents(plan):
    (write,) = plan.tables
    return (write.columns, write.column_values(), write.cell_fills, write.number_formats,
            write.text_columns, write.n_rows)


KEYS = st.tuples(st.sampled_from(PEOPLE), st.sampled_from(CODES))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(KEYS, max_size=12), st.booleans(), st.booleans(),
       st.dictionaries(KEYS, st.sampled_from(["1.5", "-2", "0.25"]), max_size=4),
       st.dictionaries(KEYS, st.sampled_from(["accepted", "rejected", "conflict"]), max_size=4),
       st.dictionaries(KEYS, st.tuples(st.sampled_from([1, "x", None]), st.just("t")),
                       max_size=3),
       st.sampled_from(ROLES), st.sampled_from(["M1", "M2", ""]),
       st.sampled_from(["zh", "en"]))
def test_columns_of_the_answer_are_the_rows_of_before(keys, typed_columns, by_rows, record,
                                                     outcome, typed, role, own, lang):
    rows = {k: SimpleNamespace(points=Decimal(p), reason=f"why {p}") for k, p in record.items()}
    reports = {k: SimpleNamespace(state=s, message=f"{s}!") for k, s in outcome.items()}
    user = User(name="u", role=role, active=True, employee_id=own,
                authority={"departments": ["D1"], "max_points": "2"})
    inp = SimpleNamespace(rules=world_rules(), employees=(
        Employee("M1", "m1", "D1"), Employee("M2", "m2", "D2"), Employee("M3", "m3", "D1")))
    got, want = _plan(keys, typed_columns, by_rows), _plan(keys, typed_columns, by_rows)
    answer.write_adjustments_of_record(got, rows, reports, lang, typed)
    answer.write_allowed_ranges(got, user, inp, lang)
    _old_adjustments_of_record(want, rows, reports, lang, typed)
    _old_allowed_ranges(want, user, inp, lang)
    assert _contents(got) == _contents(want)
    assert got.tables[0].rows == want.tables[0].rows
