"""Pull data, then Score, through the headless client on the shipped templates, against the
simulated source systems on 127.0.0.1 — and again with a source down."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from server.db import session_scope
from server.models import Period, SourceFact

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "workbook_templates"

# Hand-checked totals (docs/rules.md rules; weights in brackets).
# M1001: PROD_EFF 0.988/0.95=1.04 x30 = 31.20; QUALITY (0.04-0.02)/(0.04-0.015)=0.8 x25 = 20;
#        SALES 450/500=0.9 x20 = 18; ATTEND 10-2x2 = 6; TEAMWORK B 85% x15 = 12.75;
#        SAFETY_AWARD +2; QUALITY_INCIDENT 0                               -> 89.95
# M1002: PROD_EFF 1.178/0.95=1.24 capped 1.2 x30 = 36; QUALITY 1.2% <= 1.5% -> 25;
#        SALES 560/500 capped 1 -> 20; ATTEND 0 -> 10; TEAMWORK A 15; +1; incident -2 -> 105
# M1003: PROD_EFF personal target 0.9: 0.855/0.9=0.95 x30 = 28.50; QUALITY 4.5% >= 4% -> 0;
#        SALES 380/500 x20 = 15.20; ATTEND 10-12 -> 0; TEAMWORK C 70% x15 = 10.50;
#        2 incidents -4                                                     -> 50.20
# M1005: PROD_EFF 0.97/0.95 x30 = 30.63; QUALITY 25; SALES personal 300: 320/300 capped 20;
#        ATTEND 10; TEAMWORK A 15; no safety award (质量部 not eligible)          -> 100.63
MANUFACTURING = {"M1001": Decimal("89.95"), "M1002": Decimal("105.00"),
                 "M1003": Decimal("50.20"), "M1005": Decimal("100.63")}
# R2001: PROJ_PROGRESS 96/100 x25 = 24; DEFECT_ESCAPE (0.2-0.08)/0.15=0.8 x20 = 16;
#        ON_TIME 92% -> step 0.9 = 80% x20 = 16; CODE_REVIEW (0.88-0.6)/0.35=0.8 x15 = 12;
#        TEAMWORK A 20; PATENT 1 x2 = +2; no incident                         -> 90.00
# R2002: 105/100 x25 = 26.25 (cap 1.1); 4% <= 5% -> 20; 100% -> 20; 97% >= 95% -> 15;
#        TEAMWORK B 17                                                          -> 98.25
# R2003: 82/100 x25 = 20.50; (0.2-0.12)/0.15 x20 = 10.67; 85% -> 60% x20 = 12;
#        (0.75-0.6)/0.35 x15 = 6.43; B 17; PATENT 2 -> +4; 1 incident -3         -> 67.60
RND = {"R2001": Decimal("90.00"), "R2002": Decimal("98.25"), "R2003": Decimal("67.60")}


def headless():
    return pytest.importorskip("addin.headless")


@pytest.fixture
def press(client, hr_token):
    h = headless()

    def press(button: str, path: Path):
        poster = h.flask_poster(client, headers={"Authorization": f"Bearer {hr_token}"})
        return h.run_button(button, path, post=poster)

    return press


def _table(ws_book, name):
    for ws in ws_book.worksheets:
        if name in ws.tables:
            cells = list(ws[ws.tables[name].ref])
            return ws, [c.value for c in cells[0]], cells[1:]
    raise KeyError(name)


def blank_book(tmp_path: Path, template: str) -> Path:
    """The template with every kb_data value removed: the scores can only come from Pull."""
    path = tmp_path / f"{template}.xlsx"
    shutil.copy(TEMPLATES / f"{template}.xlsx", path)
    wb = openpyxl.load_workbook(path)
    ws, header, rows = _table(wb, "kb_data")
    col = next(i for i, h in enumerate(header) if "数值" in str(h) or "Value" in str(h))
    for row in rows:
        row[col].value = None
    wb.save(path)
    return path


def rows(path: Path, table: str) -> list[dict]:
    wb = openpyxl.load_workbook(path)
    _ws, header, cells = _table(wb, table)
    return [dict(zip(header, [c.value for c in r], strict=False)) for r in cells]


def col(row: dict, *names: str):
    for key, value in row.items():
        if any(n in str(key) for n in names):
            return value
    raise KeyError(names)


def totals(path: Path) -> dict[str, Decimal]:
    out = {}
    for r in rows(path, "kb_summary"):
        total = col(r, "总分", "Total")
        if total is not None:
            out[col(r, "工号", "Employee")] = Decimal(repr(total)).quantize(Decimal("0.01"))
    return out


@pytest.mark.skipif(not (TEMPLATES / "manufacturing.xlsx").is_file(), reason="no templates")
def test_manufacturing_pull_score_then_source_down(app, tmp_path, press, sources):
    book = blank_book(tmp_path, "manufacturing")
    press("new_period?period=2026-10", book)
    result = press("pull", book)
    alert = "\n".join(m for m, _ in result.alerts)
    assert "erp" in alert and "FAILED" not in alert and "失败" not in alert, alert
    data = rows(book, "kb_data")
    assert len(data) == 8 * 7 - 3  # 3 managers outside the safety award's departments
    m1001 = {col(r, "指标", "Indicator"): r for r in data if col(r, "工号", "Employee") == "M1001"}
    assert m1001["PROD_EFF"][next(k for k in m1001["PROD_EFF"] if "数值" in str(k))] \
        == pytest.approx(0.988)
    prov = col(m1001["PROD_EFF"], "出处", "Provenance")
    assert "ratio 1976 / 2000" in prov and "/sync/2026-10#fact-M1001-PROD_EFF" in prov
    assert col(m1001["TEAMWORK"], "数值", "Value") == "B"

    press("score", book)
    got = totals(book)
    for emp, expected in MANUFACTURING.items():
        assert got[emp] == expected, emp

    # The ERP goes down: its values are kept, marked stale with the reason, and still score.
    sources.fault("/oauth/token", "down", times=None)
    sources.fault("/erp/", "down", times=None)
    result = press("pull", book)
    alert = "\n".join(m for m, _ in result.alerts)
    assert "erp" in alert and "失败" in alert, alert
    data = rows(book, "kb_data")
    erp_rows = [r for r in data if col(r, "指标", "Indicator") == "PROD_EFF"]
    assert len(erp_rows) == 8
    for r in erp_rows:
        status = col(r, "状态", "Status")
        assert status.startswith("过期 / erp failed at") and "沿用" in status, status
    assert all(col(r, "数值", "Value") is not None for r in erp_rows)
    wb = openpyxl.load_workbook(book)
    ws, header, cells = _table(wb, "kb_data")
    stale_fills = {c[0].fill.fgColor.rgb for c in cells
                   if str(c[header.index(next(h for h in header if "指标" in str(h)))].value)
                   == "PROD_EFF"}
    assert {f[-6:] for f in stale_fills} == {"FFE699"}, stale_fills  # amber
    others = [r for r in data if col(r, "指标", "Indicator") == "SALES"]
    assert all(col(r, "状态", "Status") == "已获取" for r in others)

    press("score", book)
    assert totals(book) == got  # same values, still scored
    explanations = [col(r, "计算说明", "Explanation") for r in rows(book, "kb_scores")
                    if col(r, "指标代码", "Indicator") == "PROD_EFF"]
    assert explanations and all("沿用" in e for e in explanations), explanations[:2]
    with session_scope(app) as s:
        fact = s.scalar(select(SourceFact).where(SourceFact.employee_id == "M1001",
                                                 SourceFact.indicator == "PROD_EFF"))
        assert fact.stale and "erp failed" in fact.error and fact.value == Decimal("0.988")
        assert fact.raw_value == "0.988" and fact.fetched_by == "hr"


@pytest.mark.skipif(not (TEMPLATES / "rnd.xlsx").is_file(), reason="no templates")
def test_rnd_pull_and_score(tmp_path, press):
    book = blank_book(tmp_path, "rnd")
    press("new_period?period=2026-10", book)
    result = press("pull", book)
    alert = "\n".join(m for m, _ in result.alerts)
    assert "jira" in alert and "gitlab" in alert and "erp" not in alert, alert
    press("score", book)
    got = totals(book)
    summary = [(col(r, "工号", "Employee"), col(r, "状态", "Status"))
               for r in rows(book, "kb_summary")]
    assert {emp: got.get(emp) for emp in RND} == RND, (summary, result.alerts)


def test_frozen_period_keeps_its_facts(app, client, tmp_path, press, hr_token, sources):
    book = blank_book(tmp_path, "manufacturing")
    press("new_period?period=2026-10", book)
    press("pull", book)
    with session_scope(app) as s:
        s.scalar(select(Period)).state = "approved"
        before = {(f.employee_id, f.indicator): (f.value, f.fetched_at)
                  for f in s.scalars(select(SourceFact))}
    sources.data.erp_production[0]["output_qty"] += 500  # the ERP changes its mind
    from server.services import pull as pull_service
    from server.services.errors import Conflict

    with session_scope(app) as s:
        period = s.scalar(select(Period))
        config = pull_service.sync_config(app.config)
        with pytest.raises(Conflict):
            pull_service.run_pull(s, period, "hr", config, app.config)
    with session_scope(app) as s:
        after = {(f.employee_id, f.indicator): (f.value, f.fetched_at)
                 for f in s.scalars(select(SourceFact))}
    assert after == before


def test_pull_status_and_facts_api(app, client, tmp_path, press, hr_token):
    auth = {"Authorization": f"Bearer {hr_token}"}
    book = blank_book(tmp_path, "manufacturing")
    press("new_period?period=2026-10", book)
    idle = client.get("/api/v1/periods/2026-10/pull-status", headers=auth).get_json()
    assert idle["state"] in ("idle", "done")
    press("pull", book)
    status = client.get("/api/v1/periods/2026-10/pull-status", headers=auth).get_json()
    assert status["state"] == "done"
    by_source = {s["source"]: s for s in status["sources"]}
    assert set(by_source) == {"erp", "crm", "attendance", "qms", "rating"}
    assert all(s["state"] == "done" and s["records"] > 0 for s in by_source.values()), by_source
    facts = client.get("/api/v1/periods/2026-10/facts", headers=auth).get_json()["facts"]
    eff = next(f for f in facts if f["employee_id"] == "M1001" and f["indicator"] == "PROD_EFF")
    assert eff["value"] == "0.988" and eff["raw_value"] == "0.988" and eff["fetched_by"] == "hr"
    assert "oauth" not in eff["request"].lower() or "secret" not in eff["request"].lower()
    page = client.get("/sync/2026-10", headers=auth)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="fact-M1001-PROD_EFF-actual"' in html and "qms" in html
    assert client.get("/api/v1/periods/2026-10/pull-status").status_code == 401



def test_values_the_workbook_cannot_use_stay_on_the_server(app, tmp_path, press):
    book = blank_book(tmp_path, "manufacturing")
    press("new_period?period=2026-10", book)
    with session_scope(app) as s:
        period = s.scalar(select(Period))
        s.add(SourceFact(period_id=period.id, employee_id="M1001", indicator="OVERTIME",
                         source="hr_system", raw_value="12", value_num=Decimal(12)))
        s.add(SourceFact(period_id=period.id, employee_id="X9999", indicator="PROD_EFF",
                         source="erp_old", raw_value="1", value_num=Decimal(1)))
    result = press("pull", book)
    alert = "\n".join(m for m, _ in result.alerts)
    assert "2 个服务器上的值不属于本工作簿" in alert, alert
    written = {(col(r, "工号", "Employee"), col(r, "指标", "Indicator"))
               for r in rows(book, "kb_data")}
    assert ("M1001", "OVERTIME") not in written and ("X9999", "PROD_EFF") not in written
    press("score", book)
    assert totals(book)["M1001"] == MANUFACTURING["M1001"]


def test_score_explanations_link_to_their_facts(client, tmp_path, press, hr_token):
    auth = {"Authorization": f"Bearer {hr_token}"}
    book = blank_book(tmp_path, "manufacturing")
    press("new_period?period=2026-10", book)
    press("pull", book)
    press("score", book)
    lines = client.get("/api/v1/periods/2026-10/explanations?employee=M1001",
                       headers=auth).get_json()["lines"]
    eff = next(ln for ln in lines if ln["indicator"] == "PROD_EFF")
    assert eff["points"] == "31.20" and eff["explanation"]
    [fact] = eff["facts"]
    assert fact["url"].endswith("/sync/2026-10#fact-M1001-PROD_EFF-actual")
    assert "ratio 1976 / 2000" in fact["request"]
    html = client.get("/sync/2026-10", headers=auth).get_data(as_text=True)
    assert eff["explanation"] in html
