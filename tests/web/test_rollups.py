"""Quarter and year roll-ups (docs/rules.md, "Quarter and year"): the months' stored totals,
averaged per manager, ranked and graded, per scorecard and company-wide, on the page and in
the CSV export, filtered like every result."""

from __future__ import annotations

import csv
import io
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from server.db import session_scope
from server.models import Period, ScoreRun

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "workbook_templates" / "manufacturing.xlsx"
H = pytest.importorskip("addin.headless")


@pytest.fixture
def two_months(app, client, hr_token, tmp_path):
    """October and November scored from HR's workbook (December not scored)."""
    poster = H.flask_poster(client, headers={"Authorization": f"Bearer {hr_token}"})
    for month in ("2026-10", "2026-11"):
        book = tmp_path / f"{month}.xlsx"
        shutil.copy(TEMPLATE, book)
        for button in (f"new_period?period={month}", "pull", "score"):
            H.run_button(button, book, post=poster)
    with session_scope(app) as s:
        assert sorted(s.scalars(select(Period.code))) == ["2026-10", "2026-11"]
        runs = {}
        for p in s.scalars(select(Period)):
            run = s.scalar(select(ScoreRun).where(ScoreRun.period_id == p.id)
                           .order_by(ScoreRun.run_no.desc()).limit(1))
            runs[p.code] = {t["employee_id"]: t["total"] for t in run.totals}
    return runs


def expected_mean(*totals: str | None) -> str:
    counted = [Decimal(t) for t in totals if t]
    mean = sum(counted, Decimal(0)) / len(counted)
    return str(mean.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def test_quarter_is_the_mean_of_the_months(app, client, web_login, two_months):
    web_login(client, "hr", "hr_admin")
    body = client.get("/rollups/2026-Q4.csv").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert {r["employee_id"] for r in rows} == set(two_months["2026-10"])
    for r in rows:
        eid = r["employee_id"]
        oct_, nov = two_months["2026-10"][eid], two_months["2026-11"].get(eid)
        if oct_ or nov:
            assert r["total"] == expected_mean(oct_, nov)
            assert int(r["months_counted"]) == sum(1 for t in (oct_, nov) if t)
        assert r["2026-12"] == ""
    ranked = sorted((Decimal(r["total"]), int(r["rank"])) for r in rows if r["total"])
    assert ranked[-1][1] == 1  # the highest total ranks first
    page = client.get("/rollups/2026-Q4")
    assert page.status_code == 200 and "2026-11" in page.get_data(as_text=True)
    year = client.get("/rollups/2026.csv").get_data(as_text=True)
    assert "2026-01" in year and "2026-10" in year


def test_department_head_sees_only_his_managers(app, client, web_login, two_months):
    web_login(client, "zhangwei", "dept_head", authority={"departments": ["一车间"]})
    body = client.get("/rollups/2026-Q4.csv").get_data(as_text=True).lstrip("\ufeff")
    ids = {r["employee_id"] for r in csv.DictReader(io.StringIO(body))}
    assert ids == {"M1001", "M1004"}


@pytest.mark.parametrize("code", ["2026-Q5", "2026-13", "hello", "../../etc"])
def test_bad_codes_are_refused(client, web_login, code):
    web_login(client, "hr", "hr_admin")
    r = client.get(f"/rollups/{code}")
    assert r.status_code in (400, 404)
