"""The roster in force: who belongs to which department (the policy module's data scope)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Employee
from server.scoring.model import Employee as RosterEntry


def remember_employees(session: Session, people: Iterable[RosterEntry]) -> int:
    """Insert or update Employee rows from a scored roster; returns how many changed."""
    people = list(people)
    ids = [p.employee_id for p in people]
    known = {e.employee_id: e for e in session.scalars(
        select(Employee).where(Employee.employee_id.in_(ids)))} if ids else {}
    changed = 0
    for p in people:
        row = known.get(p.employee_id)
        if row is None:
            row = Employee(employee_id=p.employee_id, name=p.name)
            session.add(row)
        new = (p.name, p.department, p.position or "", p.email or "")
        if (row.name, row.department, row.position, row.email) != new:
            row.name, row.department, row.position, row.email = new
            changed += 1
    session.flush()
    return changed


def departments_of(session: Session, employee_ids: Iterable[str] | None = None
                   ) -> dict[str, str]:
    """employee_id -> department for the given managers (all when None)."""
    stmt = select(Employee.employee_id, Employee.department)
    if employee_ids is not None:
        stmt = stmt.where(Employee.employee_id.in_(list(employee_ids)))
    return {k: v for k, v in session.execute(stmt).all()}


def names_of_employees(session: Session) -> dict[str, str]:
    return {k: v for k, v in session.execute(select(Employee.employee_id, Employee.name)).all()}
