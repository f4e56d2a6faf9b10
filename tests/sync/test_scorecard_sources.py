"""Each scorecard of the demo's October is pulled from its own source systems
(sync/demo_connectors.toml), through the headless client against the simulators on
127.0.0.1: the sales scorecard from the CRM's customer report, the finance system's
receivables and sales operations' file drop; and an indicator HR adds to the manufacturing
scorecard mid-month (issue #13 item 7) is pulled from the CRM once, and only once, it is in
the rules of record (docs/records.md "A changing month")."""

from __future__ import annotations

import subprocess
from decimal import Decimal
from urllib.parse import quote

import pytest
from sqlalchemy import select

from server.db import session_scope
from server.models import InputRecord, Period, ScoreRun, SourceFact
from server.workbook.template_content import SALES
from sync.simulators.data import MANUFACTURING_REPURCHASE
from tests.server.test_records_of_record import append_rows, set_cell
from tests.sync.test_pull_e2e import MANUFACTURING, blank_book, col, rows, totals

MONTH = "2026-10"
CUSTOMER_REPORT = "/crm/api/v2/reports/customers"


def alert_of(result) -> str:
    return "\n".join(m for m, _ in result.alerts)


def data_rows(book) -> dict[tuple[str, str], dict]:
    return {(col(r, "工号", "Employee"), col(r, "指标", "Indicator")): r
            for r in rows(book, "kb_data")}


def facts_of(app, scorecard: str) -> list[tuple]:
    with session_scope(app) as s:
        period = s.scalar(select(Period).where(Period.code == MONTH,
                                               Period.scorecard == scorecard))
        return sorted((f.employee_id, f.indicator, f.field, f.value, f.source, f.stale,
                       f.fetched_at, f.request)
                      for f in s.scalars(select(SourceFact).where(
                          SourceFact.period_id == period.id)))


def runs_of(app, scorecard: str) -> list[ScoreRun]:
    with session_scope(app) as s:
        period = s.scalar(select(Period).where(Period.code == MONTH,
                                               Period.scorecard == scorecard))
        runs = list(s.scalars(select(ScoreRun).where(ScoreRun.period_id == period.id)
                              .order_by(ScoreRun.id)))
        for run in runs:
            s.expunge(run)
        return runs


def total_of(run: ScoreRun, employee_id: str) -> str | None:
    return next(t["total"] for t in run.totals if t["employee_id"] == employee_id)


def asked(sources, path: str) -> list[str]:
    return [r for r in sources.requests if r.split(" ", 1)[1].startswith(path)]


def test_the_sales_scorecard_is_pulled_from_its_own_sources(app, tmp_path, press, sources):
    """Every sales indicator comes from the simulated CRM, finance system and file drop with
    the template's demo figures, with no problem; the manufacturing scorecard's facts of the
    same month are untouched."""
    (tmp_path / "m").mkdir()
    (tmp_path / "s").mkdir()
    plant = blank_book(tmp_path / "m", "manufacturing")
    press(f"new_period?period={MONTH}", plant)
    press("pull", plant)
    press("score", plant)
    plant_facts = facts_of(app, "manufacturing")
    assert plant_facts and not [f for f in plant_facts if f[1] == "CUST_REPURCHASE"]

    book = blank_book(tmp_path / "s", "sales")
    assert all(col(r, "数值", "Value") is None for r in rows(book, "kb_data"))
    press(f"new_period?period={MONTH}", book)
    result = press("pull", book)
    alert = alert_of(result)
    for source in ("crm_sales", "finance", "sales_ops"):
        assert f"· {source}：" in alert and f"· {source}：失败" not in alert, alert
    assert "问题（" not in alert and "0 个问题" in alert, alert
    with session_scope(app) as s:
        period = s.scalar(select(Period).where(Period.scorecard == "sales"))
        pulled = {(f.employee_id, f.indicator): f for f in s.scalars(
            select(SourceFact).where(SourceFact.period_id == period.id))}
        for eid, values in SALES.values.items():
            for code, value in values.items():
                fact = pulled.pop((eid, code))
                expected = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
                assert fact.value == expected, (eid, code, fact.value, value)
                assert not fact.stale and fact.source in ("crm_sales", "finance", "sales_ops")
        assert not pulled  # nothing beyond the template's figures
    data = data_rows(book)
    assert len(data) == sum(len(v) for v in SALES.values.values())
    assert all(col(r, "状态", "Status") == "已获取" for r in data.values())
    revenue = data[("S3001", "REVENUE")]
    assert col(revenue, "数值", "Value") == 920 and col(revenue, "单位", "Unit") == "万元"
    assert "raw 9200000" in col(revenue, "出处", "Provenance")
    assert "ratio 43 / 100" in col(data[("S3001", "REPURCHASE")], "出处", "Provenance")
    assert "ratio 930000" in col(data[("S3001", "COLLECTION")], "出处", "Provenance")
    assert "销售运营部通报_2026-10.xlsx" in col(data[("S3004", "COMPLIANCE")], "出处",
                                                 "Provenance")
    assert asked(sources, CUSTOMER_REPORT) and all(
        "team=sales" in r for r in asked(sources, CUSTOMER_REPORT))

    press("score", book)
    # S3001: REVENUE 920/800 = 1.15 x35 = 40.25; COLLECTION (0.93-0.7)/0.25 = 0.92 x20 = 18.40;
    # NEW_CUSTOMERS 6 -> step 5 = 80% x15 = 12; REPURCHASE 43% within 40% +-5 -> 15;
    # COMPLAINTS 15 - 5 = 10; KEY_ACCOUNT +3                                   -> 98.65
    # S3004: REVENUE 280/300 x35 = 32.67; COLLECTION 0.06/0.25 x20 = 4.80; NEW 2 < 3 -> 0;
    # REPURCHASE 28%: 12 pts off, 7 beyond tolerance of 15 -> 8/15 x15 = 8;
    # COMPLAINTS 15 - 10 = 5; COMPLIANCE -5                                  -> 45.47
    got = totals(book)
    assert got["S3001"] == Decimal("98.65") and got["S3004"] == Decimal("45.47"), got
    assert facts_of(app, "manufacturing") == plant_facts


def test_an_indicator_added_mid_month_is_pulled_from_its_source_mapping(
        app, client, tmp_path, press, sources, web_login):
    """The executive asks for 客户复购率 after scoring started. The connectors file already
    maps CUST_REPURCHASE for the manufacturing scorecard to the CRM's customer report, but
    nothing fetches it while the rules lack it; HR adds the rule with a reason, Pull fills it
    from the CRM, Score recomputes; the records page and the history show the change, the
    reason and the totals before -> after."""
    from server.services.history import history_for

    book = blank_book(tmp_path, "manufacturing")
    press(f"new_period?period={MONTH}", book)
    alert = alert_of(press("pull", book))
    assert "crm_customers：未获取（CUST_REPURCHASE 不在本考核表的规则中）" in alert, alert
    press("score", book)  # version 1 of the record
    assert totals(book)["M1001"] == MANUFACTURING["M1001"]
    alert = alert_of(press("pull", book))
    assert "crm_customers：未获取" in alert
    assert not asked(sources, CUSTOMER_REPORT)  # the mapping alone asks nothing
    assert not [f for f in facts_of(app, "manufacturing") if f[1] == "CUST_REPURCHASE"]
    before = runs_of(app, "manufacturing")[-1]

    # HR adds the rule in the workbook, rebalancing the weights, and applies it with a reason
    set_cell(book, "kb_rules", {"Code": "PROD_EFF"}, "Weight", 20)
    append_rows(book, "kb_rules", [[
        "CUST_REPURCHASE", "客户复购率", "定量", 10, "crm", "ratio", 0.3, None, 1.2, None, "%",
        None, None, None, "部门总监", 2, 2, "复购客户 ÷ 老客户数 / repeat ÷ existing customers"]])
    reason = "总经理要求增加客户复购率指标"
    press(f"score?apply_reason={quote(reason)}", book)
    with session_scope(app) as s:
        applied = s.scalars(select(InputRecord).order_by(InputRecord.id.desc())).first()
        assert (applied.kind, applied.reason) == ("applied", reason)
    blocked = runs_of(app, "manufacturing")[-1]  # no data yet: 阻断 (the settings' default)
    assert total_of(blocked, "M1001") is None

    # Pull now asks the CRM for the new indicator, and only for the manufacturing team
    result = press("pull", book)
    alert = alert_of(result)
    assert "· crm_customers：8 个值，0 个问题" in alert and "未获取" not in alert, alert
    assert asked(sources, CUSTOMER_REPORT) and all(
        "team=manufacturing" in r for r in asked(sources, CUSTOMER_REPORT))
    data = data_rows(book)
    for eid, rate in MANUFACTURING_REPURCHASE.items():
        row = data[(eid, "CUST_REPURCHASE")]
        assert Decimal(repr(col(row, "数值", "Value"))) == rate
        assert col(row, "数据来源", "Source") == "crm_customers"
        assert col(row, "状态", "Status") == "已获取"
    assert f"ratio {int(MANUFACTURING_REPURCHASE['M1001'] * 100)} / 100" in col(
        data[("M1001", "CUST_REPURCHASE")], "出处", "Provenance")

    press("score", book)
    # M1001: PROD_EFF 1.04 x20 = 20.80 (was x30 = 31.20); CUST_REPURCHASE 0.32/0.3 = 1.0667
    # x10 = 10.67; the rest as before: 89.95 - 31.20 + 20.80 + 10.67           -> 90.22
    after = runs_of(app, "manufacturing")[-1]
    assert totals(book)["M1001"] == Decimal("90.22")
    from server.services import stored_run

    assert {ln["indicator"] for ln in stored_run.lines(after)} >= {"CUST_REPURCHASE"}
    assert total_of(before, "M1001") == "89.95" and total_of(after, "M1001") == "90.22"

    web_login(client, "hr", "hr_admin")
    page = client.get(f"/periods/{MONTH}/records?scorecard=manufacturing",
                      base_url="https://localhost").get_data(as_text=True)
    assert reason in page and "CUST_REPURCHASE" in page and "应用更改" in page
    assert "89.95" in page and "90.22" in page
    history_for(app)
    log = subprocess.run(["git", "-C", app.config["HISTORY_DIR"], "log", "--all",
                          "--format=%B"], capture_output=True, text=True, check=True).stdout
    assert reason in log and "PROD_EFF weight: 30 -> 20" in log and "CUST_REPURCHASE" in log


@pytest.fixture
def press(client, hr_token):
    h = pytest.importorskip("addin.headless")

    def press(button, path):
        poster = h.flask_poster(client, headers={"Authorization": f"Bearer {hr_token}"})
        return h.run_button(button, path, post=poster)

    return press


def test_cli_pull_fills_each_scorecard_from_its_own_sources(app, db_url, tmp_path, monkeypatch,
                                                            sources):
    """`kpibook pull 2026-10` before any Score: each scorecard gets the mappings of its
    template's rules; the 客户复购率 mapping ahead of the rules asks nothing."""
    from click.testing import CliRunner

    from server.commands import pull_command
    from sync.simulators.demo import DEMO_CONFIG

    with session_scope(app) as s:
        s.add(Period(code=MONTH, template_code="manufacturing", scorecard="manufacturing",
                     state="collecting", history_key=MONTH))
        s.add(Period(code=MONTH, template_code="sales", scorecard="sales",
                     state="collecting", history_key=f"{MONTH}.sales"))
    monkeypatch.setenv("KPIBOOK_DATABASE_URL", db_url)
    monkeypatch.setenv("KPIBOOK_INSTANCE_PATH", str(tmp_path / "inst"))
    result = CliRunner().invoke(pull_command, [MONTH, "--config", str(DEMO_CONFIG)])
    assert result.exit_code == 0, result.output
    assert ("crm_customers: not asked (CUST_REPURCHASE not in this scorecard's rules)"
            in result.output)
    assert not asked(sources, CUSTOMER_REPORT + "?month=2026-10&team=manufacturing")
    assert "period 2026-10 sales: 42 stored, 0 unchanged, 0 kept stale, 0 problems" \
        in result.output, result.output
    sales = facts_of(app, "sales")
    assert {(f[0], f[1]) for f in sales} == {
        (eid, code) for eid, values in SALES.values.items() for code in values}
    assert not [f for f in facts_of(app, "manufacturing") if f[1] == "CUST_REPURCHASE"]
