"""What people read on the pages (issue 15, items 6 and 7): times in the company's time zone,
percentages for ratio indicators, one number format without "-0.00", display names instead of
logins, appeal states that match what happened, charts that stay readable for small groups,
and the provenance pages in the site's layout and language, in words."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from server import display
from server.services import stored_run
from tests.web.conftest import OTHER, OWN, PERIOD, csrf_from
from tests.web.test_feedback_notify import robot  # noqa: F401 - the webhook receiver fixture

# stored times come back naive from SQLite and aware from PostgreSQL: both must read right
pytestmark = pytest.mark.both_databases

UTC_1612 = dt.datetime(2025, 4, 1, 16, 12, tzinfo=dt.UTC)  # 00:12 the next day in Beijing


def _html(resp) -> str:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    return resp.get_data(as_text=True)


def _update(app, fn) -> None:
    from server.db import session_scope

    with session_scope(app) as s:
        fn(s)


def _period(s):
    from sqlalchemy import select

    from server.models import Period

    return s.scalar(select(Period).where(Period.code == PERIOD))


# --- the one formatting of times and numbers -----------------------------------------------


def test_local_time_is_the_company_time_zone():
    assert display.local_time(UTC_1612, "Asia/Shanghai") == "2025-04-02 00:12"
    assert display.local_time(UTC_1612.replace(tzinfo=None), "Asia/Shanghai") == \
        "2025-04-02 00:12"  # the database's naive UTC
    assert display.local_time(UTC_1612, "UTC") == "2025-04-01 16:12"
    assert display.local_time(UTC_1612, "Asia/Shanghai", zone_label=True) == \
        "2025-04-02 00:12 UTC+08:00"
    assert display.local_time(None, "Asia/Shanghai") == ""
    assert display.local_time("2025-04-01T16:12:00+00:00", "Asia/Shanghai") == \
        "2025-04-02 00:12"  # JSON status records keep ISO text


def test_the_time_zone_setting_is_checked():
    from server.config import from_environ

    assert from_environ({"KPIBOOK_TIMEZONE": "Europe/Berlin"})["TIMEZONE"] == "Europe/Berlin"
    with pytest.raises(ValueError, match="KPIBOOK_TIMEZONE"):
        from_environ({"KPIBOOK_TIMEZONE": "Mars/Olympus"})


@pytest.mark.parametrize(("value", "shown"), [
    (Decimal("-0.001"), "0.00"), (Decimal("-0.004"), "0.00"), ("-0.00", "0.00"),
    (Decimal("2.675"), "2.68"), (Decimal("-2.675"), "-2.68"), ("85.5", "85.50"), (90, "90.00")])
def test_one_number_format(value, shown):
    assert display.number(value) == shown


def test_points_never_show_minus_zero(app):
    pts = app.jinja_env.filters["pts"]
    assert pts(Decimal("-0.001")) == "0.00"
    assert pts(Decimal("2")) == "+2.00" and pts("-1.5") == "-1.50" and pts(None) == "—"


def test_ratio_values_are_percentages():
    assert display.measure("0.855", "%") == "85.50%"
    assert display.measure("0.9", "%") == "90.00%"
    assert display.measure("500", "万元") == "500.00"


# --- pages -----------------------------------------------------------------------------------


@pytest.fixture
def hr(app, world, web_login):
    client = app.test_client()
    web_login(client, "hr")
    return client


def test_appeal_times_are_in_the_company_time_zone(app, world, hr):
    from server.models import Appeal

    _update(app, lambda s: setattr(s.get(Appeal, world.appeals["own"]), "created_at",
                                   UTC_1612))
    html = _html(hr.get(f"/appeals/{world.appeals['own']}"))
    assert "2025-04-02 00:12" in html and "16:12" not in html
    assert "时区 Asia/Shanghai" in html  # the page says which zone its times are in
    app.config["TIMEZONE"] = "UTC"
    assert "2025-04-01 16:12" in _html(hr.get(f"/appeals/{world.appeals['own']}"))


def test_result_shows_percentages_and_no_minus_zero(app, world, hr):
    from server.models import ScoreRun

    def change(s):
        period = _period(s)
        period.rules = {**period.rules, "indicators": [
            {**ind, "unit": "%"} for ind in period.rules["indicators"]]}
        run = s.query(ScoreRun).filter_by(period_id=period.id).one()
        lines = [dict(ln) for ln in stored_run.lines(run)]
        for ln in lines:
            if ln["employee_id"] == OWN and ln["indicator"] == "PROD_EFF":
                ln.update(actual="0.855", target="0.9", base_points="-0.004")
            if ln["employee_id"] == OWN and ln["indicator"] == "QUALITY":
                ln.update(actual="0.02", target="0.03")
        run.lines = lines

    _update(app, change)
    html = _html(hr.get(f"/periods/{PERIOD}/results/{OWN}"))
    row = re.search(r"<strong>PROD_EFF</strong>.*?</tr>", html, re.S).group(0)
    cells = re.findall(r'<td class="num[^"]*"[^>]*>(?:<strong>)?([^<]*)', row)
    assert cells[:3] == ["85.50%", "90.00%", "45.00"], cells  # weight 45 (the test world)
    assert cells[3] == "0.00"  # base points -0.004
    assert "0.855" not in html and "-0.00" not in html
    assert "2.00%" in html and "3.00%" in html  # QUALITY: 0.02 against 0.03


def test_people_are_shown_by_display_name(app, world, hr):
    from server.models import Adjustment, Appeal

    def change(s):
        period = _period(s)
        s.add(Adjustment(period_id=period.id, employee_id=OWN, indicator="PROD_EFF",
                         points=Decimal("2"), reason="大客户", author="gm",
                         author_id=world.users["executive"], status="active"))
        a = s.get(Appeal, world.appeals["own"])
        a.answer, a.answered_by, a.status = "已核实", "hr", "answered"

    _update(app, change)
    for url in (f"/periods/{PERIOD}/results/{OWN}", f"/periods/{PERIOD}",
                f"/appeals/{world.appeals['own']}", f"/review/{PERIOD}/people/{OWN}"):
        html = _html(hr.get(url))
        assert ">gm<" not in html and "· gm ·" not in html, url
        assert "总经理 周建国" in html or "人力资源部 李娜" in html, url
    html = _html(hr.get(f"/periods/{PERIOD}/results/{OWN}"))
    assert "<td>总经理 周建国</td>" in html
    assert "人力资源部 李娜" in _html(hr.get(f"/appeals/{world.appeals['own']}"))


def test_an_answered_appeal_is_not_shown_as_in_progress(app, world, web_login):
    hr_client, manager = app.test_client(), app.test_client()
    web_login(hr_client, "hr")
    web_login(manager, OWN)
    before = _html(manager.get(f"/me/{PERIOD}"))
    assert "等待人力资源部答复" in before
    page = hr_client.get(f"/appeals/{world.appeals['own']}")
    resp = hr_client.post(f"/appeals/{world.appeals['own']}/answer", data={
        "answer": "已核实，维持原分数。", "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert resp.status_code == 302
    html = _html(manager.get(f"/me/{PERIOD}"))
    assert "正在处理中" not in html and "等待人力资源部答复" not in html
    assert "人力资源部已答复" in html and 'id="confirm-answer"' in html
    assert "人力资源部已答复，待经理确认" in _html(manager.get("/me"))
    assert "人力资源部已答复，待经理确认" in _html(hr_client.get(f"/periods/{PERIOD}"))
    english = _html(manager.get(f"/me/{PERIOD}?lang=en"))
    assert "being handled" not in english and "HR answered your appeal" in english


# --- charts ----------------------------------------------------------------------------------


def test_small_groups_get_dots_and_every_department_one_axis(app, world, hr):
    from server import charts

    two = charts.distribution([Decimal(85), Decimal(90)], title="一车间")
    assert 'class="chart dots"' in two and two.count("<circle") == 2
    many = charts.distribution([Decimal(60 + i) for i in range(12)], title="x")
    assert 'class="chart histogram"' in many
    html = _html(hr.get(f"/review/{PERIOD}"))
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(svgs) == 2 and all('class="chart dots"' in s for s in svgs)

    def ticks(svg: str) -> list[str]:
        return re.findall(r'text-anchor="middle" fill="#616e7c">([^<]+)</text>', svg)

    assert ticks(svgs[0]) == ticks(svgs[1]) and ticks(svgs[0])  # one axis: 85 and 90 fit
    one = _html(hr.get(f"/review/{PERIOD}/chart.svg?department=二车间"))
    assert ticks(one) == ticks(svgs[0])


# --- provenance ------------------------------------------------------------------------------

HTTP_REQUEST = ("GET https://erp.example.com:8443/api/v2/kpi "
                "{'period': '2025-03', 'page_size': 500}")


@pytest.fixture
def facts(app, world):
    from server.models import SourceFact

    def add(s):
        period = _period(s)
        s.add_all([
            SourceFact(period_id=period.id, employee_id=OWN, indicator="PROD_EFF",
                       field="actual", value_num=Decimal("0.855"), raw_value="85.5%",
                       unit="%", source="erp", request=HTTP_REQUEST, fetched_at=UTC_1612,
                       fetched_by="hr"),
            SourceFact(period_id=period.id, employee_id=OWN, indicator="QUALITY",
                       field="actual", value_num=Decimal("0.02"), raw_value="0.02", unit="%",
                       source="qms", request="SQL postgresql+psycopg://kpi@qms/qms: SELECT "
                       "emp, rate FROM defects WHERE month = :month with month=2025-03",
                       fetched_at=UTC_1612, fetched_by="hr"),
            SourceFact(period_id=period.id, employee_id=OTHER, indicator="PROD_EFF",
                       field="actual", value_num=Decimal("0.9"), raw_value="0.9", unit="%",
                       source="<script>alert(1)</script>",
                       request="<script>alert(2)</script>", fetched_at=UTC_1612,
                       fetched_by="gm")])

    _update(app, add)


def test_the_provenance_page_is_in_the_site_layout_and_in_words(facts, hr):
    html = _html(hr.get(f"/sync/{PERIOD}"))
    assert 'class="topbar"' in html and "kpibook.css" in html  # the site's layout
    assert "GET https" not in html and "{&#39;" not in html and "{'" not in html
    assert "查询了 erp.example.com:8443/api/v2/kpi，条件：period = 2025-03，page_size = 500" \
        in html
    assert "数据库 qms/qms 上的查询：SELECT emp, rate FROM defects WHERE month = :month" in html
    assert "2025-04-02 00:12" in html and "16:12" not in html
    assert "人力资源部 李娜" in html and "总经理 周建国" in html  # who pulled, by name
    assert "85.50%" in html and "0.855" not in html
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'id="fact-M1001-PROD_EFF-actual"' in html


def test_the_provenance_page_speaks_the_site_language(facts, hr):
    html = _html(hr.get(f"/sync/{PERIOD}?lang=en"))
    assert "What was asked" in html and "asked erp.example.com:8443/api/v2/kpi for " \
        "period = 2025-03, page_size = 500" in html
    for chinese in ("来源系统", "获取时间", "数值与出处", "查询了"):
        assert chinese not in html


def test_the_facts_behind_one_line_are_in_words(facts, hr):
    html = _html(hr.get(f"/sync/{PERIOD}/facts/{OWN}/PROD_EFF"))
    assert 'class="topbar"' in html and 'id="PROD_EFF"' in html
    assert "查询了 erp.example.com:8443/api/v2/kpi" in html and "GET https" not in html
    assert "2025-04-02 00:12" in html and "人力资源部 李娜" in html and "85.50%" in html
    assert "生产效率" in html  # the indicator's name from the rules


def test_request_words_for_each_connector_shape():
    words = display.request_words
    assert words("POST https://crm.example.com/api/orders {'month': '2025-03'}", "en") == \
        "sent a request to crm.example.com/api/orders for month = 2025-03"
    assert words("GET https://user:secret@erp.example.com/kpi?month=2025-03", "en") == \
        "asked erp.example.com/kpi for month = 2025-03"  # no credentials
    assert words("Jira search https://jira.example.com/rest/api/2/search JQL: project = KPI",
                 "zh") == "在 Jira（jira.example.com/rest/api/2/search）中检索问题：project = KPI"
    assert words("DingTalk https://oapi.dingtalk.com/attendance/list 2025-03-01..2025-03-31 "
                 "for 12 users", "en") == ("attendance records of 12 people from 2025-03-01 "
                                           "to 2025-03-31 on oapi.dingtalk.com/attendance/list")
    assert words("files attendance-2025-03.csv", "en") == \
        "the uploaded file(s) attendance-2025-03.csv"
    assert words("push records received for 2025-03 (7 external ids)", "zh") == \
        "源系统为期间 2025-03 推送的记录（7 个人员或条目）"
    assert words("simulator erp 2025-03 M1001", "en") == "simulator erp 2025-03 M1001"


# --- workbook stamps and messages ------------------------------------------------------------


def test_workbook_stamps_carry_the_company_time_zone(app):
    from server.blueprints.xl import _now

    with app.app_context():
        assert _now().endswith(" UTC+08:00")
        app.config["TIMEZONE"] = "UTC"
        assert _now().endswith(" UTC+00:00")


def test_notifications_use_local_times_and_display_names(app, world, robot):  # noqa: F811
    from server import notify, workflow
    from server.models import PeriodEvent

    url, received = robot
    app.config.update(WEBHOOK_URL=url, WEBHOOK_STYLE="plain")

    def event(s):
        row = PeriodEvent(period_id=_period(s).id, action="submit", from_state="scored",
                          to_state="in_review", reason="", actor="gm",
                          actor_id=world.users["executive"], created_at=UTC_1612)
        s.add(row)
        s.flush()
        return row.id

    from server.db import session_scope

    with session_scope(app) as s:
        event_id = event(s)
    with app.test_request_context():
        notify.on_period_event(workflow.PeriodEventInfo(PERIOD, "submit", "scored",
                                                        "in_review", "", "gm", event_id))
        notify.appeal_answered(world.appeals["own"], UTC_1612)
    submitted, answered = received
    assert submitted["text_zh"].startswith("总经理 周建国 已提交")
    assert "gm " not in submitted["text"] and "2025-04-02 00:12 UTC+08:00" in submitted["text"]
    assert "时间：2025-04-02 00:12 UTC+08:00" in answered["text_zh"]
