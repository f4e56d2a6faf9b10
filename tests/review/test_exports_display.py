"""Exports read like the pages: times in the company's time zone (the header names it),
numbers in the one format (2 decimals, never "-0.00")."""

from __future__ import annotations

import csv
import io

import pytest

from tests.web.conftest import PERIOD

# stored times come back naive from SQLite and aware from PostgreSQL: both must read right
pytestmark = pytest.mark.both_databases


def test_history_export_times_are_in_the_company_time_zone(app, seeded, web_login):
    hr = app.test_client()
    web_login(hr, "hr")
    text = hr.get(f"/review/{PERIOD}/export/history").data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "时间 (Asia/Shanghai)"
    # the seeded history runs from 08:07 UTC on 2025-04-01: 16:07 in Beijing
    times = [r[0] for r in rows[1:]]
    assert times and all(t.startswith("2025-04-01 16:") for t in times), times
    changes = [r for r in rows[1:] if r[9] == "PROD_EFF" and r[6] == "M1001"]
    assert {r[11] for r in changes} == {"2.00", "3.00"}  # new points in the one format


def test_diff_export_times_and_numbers(app, seeded, web_login):
    hr = app.test_client()
    web_login(hr, "hr")
    c = seeded.commits
    app.config["TIMEZONE"] = "Europe/Berlin"  # UTC+2 in April
    text = hr.get(f"/review/{PERIOD}/export/diff?format=csv&a={c['baseline']}"
                  f"&b={c['both']}").data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][9] == "时间 (Europe/Berlin)"
    assert all(r[9].startswith("2025-04-01 10:") for r in rows[1:]), rows
    assert "-0.00" not in text and "2.00" not in [r[4] for r in rows[1:]]
    assert {r[6] for r in rows[1:]} >= {"3.00", "-1.00"}
