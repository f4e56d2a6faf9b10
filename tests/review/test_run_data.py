"""The latest run's totals and lines, decoded once per process (feedback.run_data): the same
as reading the stored run, and a new run (an adjustment) is never served from the old one."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from server.db import session_scope
from server.models import Period, ScoreRun, User
from server.services import feedback, stored_run
from tests.web.conftest import OTHER, OWN, make_world


def _scan(run: ScoreRun, employee_id: str) -> tuple[dict | None, list[dict]]:
    """What result_of read before: a scan of the stored JSON."""
    total = next((t for t in run.totals if t["employee_id"] == employee_id), None)
    return total, [ln for ln in stored_run.lines(run) if ln["employee_id"] == employee_id]


def test_result_of_equals_a_scan_of_the_run_and_follows_new_runs(app):
    make_world(app, state="in_review")
    with app.test_request_context(), session_scope(app) as s:
        period = s.scalar(select(Period))
        run = s.scalar(select(ScoreRun).order_by(ScoreRun.run_no.desc()).limit(1))
        for emp in (OWN, OTHER, "nobody"):
            view = feedback.result_of(s, period, emp)
            total, lines = _scan(run, emp)
            assert view.total == total
            assert [{k: v for k, v in ln.items() if k not in ("name", "unit")}
                    for ln in view.lines] == lines
            assert view.run.run_no == run.run_no
        data = feedback.run_data(s, feedback.latest_run_light(s, period))
        assert data is feedback.run_data(s, feedback.latest_run_light(s, period))  # cached
        assert list(data.totals) == run.totals
        # a web adjustment makes a new run: the next read is that run's, not the cached one
        hr = s.scalar(select(User).where(User.name == "hr"))
        feedback.adjust(s, period, hr, OWN, "PROD_EFF", "1.5", "补录", "zh")
        view = feedback.result_of(s, period, OWN)
        assert view.run.run_no == run.run_no + 1
        assert Decimal(view.total["total"]) == Decimal(run.totals[0]["total"]) + Decimal("1.5")
        s.rollback()
