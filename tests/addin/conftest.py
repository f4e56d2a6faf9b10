"""The add-in's server world: the review tests' period with a real git history (tests/review:
two departments, a user per role, adjustments, a re-score), source facts with provenance, and
a bearer token per role. Used by the endpoint tests and, through a live server on 127.0.0.1,
by the add-in's Node tests (test_node_suite.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.browser.conftest import live_server  # noqa: F401 - the same live server fixture
from tests.review.conftest import seed_history
from tests.web.conftest import OTHER, OTHER_DEPT, OWN, OWN_DEPT, PERIOD, make_world

ROLES = ("hr_admin", "executive", "dept_head", "employee", "auditor")
FETCHED = dt.datetime(2025, 4, 2, 1, 30, tzinfo=dt.UTC)


def seed_addin_world(app, state: str = "in_review") -> dict[str, str]:
    """The world, its history and facts; returns role -> a fresh bearer token (and
    "other_employee" for the manager of the other department)."""
    from sqlalchemy import select

    from server.auth import create_token
    from server.db import session_scope
    from server.models import Period, SourceFact, User

    world = make_world(app, state=state)
    seed_history(app)
    tokens = {}
    with session_scope(app) as s:
        period = s.scalar(select(Period).where(Period.code == PERIOD))
        s.add_all([
            SourceFact(period_id=period.id, employee_id=OWN, indicator="PROD_EFF",
                       field="actual", source="erp", raw_value="98.0%",
                       value_num=Decimal("0.98"), unit="%", fetched_at=FETCHED,
                       fetched_by="hr", request="GET /erp/output?dept=一车间&month=2025-03"),
            SourceFact(period_id=period.id, employee_id=OTHER, indicator="PROD_EFF",
                       field="actual", source="erp", raw_value="91%", value_num=Decimal("0.91"),
                       unit="%", fetched_at=FETCHED, fetched_by="hr",
                       request="GET /erp/output?dept=二车间&month=2025-03"),
        ])
        for role in ROLES:
            user = s.get(User, world.users[role])
            tokens[role] = create_token(s, user, "addin-test", days=30)
        other = s.scalar(select(User).where(User.name == OTHER))
        tokens["other_employee"] = create_token(s, other, "addin-test", days=30)
    return tokens


@pytest.fixture
def addin_tokens(app) -> dict[str, str]:
    return seed_addin_world(app)


__all__ = ["OTHER", "OTHER_DEPT", "OWN", "OWN_DEPT", "PERIOD", "seed_addin_world"]
