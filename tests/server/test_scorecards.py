"""A month holds several scorecards (issue #13, docs/records.md "Scorecards"): manufacturing,
R&D and sales are each pulled and scored from their own workbook in October, side by side;
a workbook of another scorecard is refused with nothing stored; a manager belongs to one
scorecard a month; the month's page shows them all and the company as a whole."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from server.db import session_scope
from server.models import (
    InputRecord,
    Period,
    ScorecardMember,
    ScoreRun,
    SourceFact,
    User,
)
from tests.server.books import meta, set_meta

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "workbook_templates"
H = pytest.importorskip("addin.headless")
MONTH = "2026-10"
CARDS = ("manufacturing", "rnd", "sales")


@pytest.fixture
def october(press, tmp_path) -> dict[str, Path]:
    """The three template workbooks, each New period'd into October, pulled and scored."""
    books = {}
    for card in CARDS:
        books[card] = tmp_path / f"{card}.xlsx"
        shutil.copy(TEMPLATES / f"{card}.xlsx", books[card])
        press(f"new_period?period={MONTH}", books[card])
        press("pull", books[card])
        press("score", books[card])
    return books


def stored(app) -> tuple:
    with session_scope(app) as s:
        return tuple(s.scalar(select(func.count()).select_from(m))
                     for m in (ScoreRun, SourceFact, InputRecord, ScorecardMember))


def scored_people(app) -> dict[str, set[str]]:
    with session_scope(app) as s:
        out = {}
        for period in s.scalars(select(Period).where(Period.code == MONTH)):
            run = s.scalars(select(ScoreRun).where(ScoreRun.period_id == period.id)
                            .order_by(ScoreRun.run_no.desc())).first()
            out[period.scorecard] = {t["employee_id"] for t in run.totals}
        return out


def test_october_holds_three_scorecards_each_scored_from_its_own_workbook(app, october):
    people = scored_people(app)
    assert set(people) == set(CARDS)
    assert people["rnd"] == {f"R200{i}" for i in range(1, 7)}
    assert people["sales"] == {f"S300{i}" for i in range(1, 7)}
    assert "M1001" in people["manufacturing"] and not people["manufacturing"] & people["rnd"]
    bindings = {card: meta(path)["binding"] for card, path in october.items()}
    assert len(set(bindings.values())) == 3  # each workbook is bound to its own scorecard
    assert {card: meta(path)["scorecard"] for card, path in october.items()} == {
        c: c for c in CARDS}
    with session_scope(app) as s:
        keys = sorted(s.scalars(select(Period.history_key).where(Period.code == MONTH)))
    assert keys == [MONTH, f"{MONTH}.rnd", f"{MONTH}.sales"]


def test_pulling_and_scoring_one_scorecard_leaves_the_others_alone(app, press, october):
    with session_scope(app) as s:
        manufacturing = s.scalar(select(Period).where(Period.scorecard == "manufacturing"))
        facts = sorted((f.employee_id, f.indicator, f.value, f.stale, f.fetched_at)
                       for f in s.scalars(select(SourceFact).where(
                           SourceFact.period_id == manufacturing.id)))
        runs = s.scalar(select(func.count()).where(ScoreRun.period_id == manufacturing.id))
    press("pull", october["rnd"])
    press("score", october["rnd"])
    with session_scope(app) as s:
        manufacturing = s.scalar(select(Period).where(Period.scorecard == "manufacturing"))
        assert sorted((f.employee_id, f.indicator, f.value, f.stale, f.fetched_at)
                      for f in s.scalars(select(SourceFact).where(
                          SourceFact.period_id == manufacturing.id))) == facts
        assert s.scalar(select(func.count()).where(
            ScoreRun.period_id == manufacturing.id)) == runs
    assert scored_people(app)["manufacturing"] >= {"M1001", "M1002"}


@pytest.mark.parametrize("tamper", ["scorecard", "binding"])
def test_a_workbook_of_another_scorecard_is_refused_naming_both(app, press, october, tamper):
    before = stored(app)
    book = october["rnd"]
    if tamper == "scorecard":  # the R&D workbook says it is manufacturing's
        set_meta(book, "scorecard", "manufacturing")
    else:  # manufacturing's binding pasted into the R&D workbook
        set_meta(book, "binding", meta(october["manufacturing"])["binding"])
        set_meta(book, "scorecard", "rnd")
    for button in ("pull", "score", "submit"):
        with pytest.raises(H.ServerError) as exc:
            press(button, book)
        assert exc.value.status == 409
        text = str(exc.value)
        assert f"{MONTH} rnd" in text and f"{MONTH} manufacturing" in text
    assert stored(app) == before


def test_a_manager_belongs_to_one_scorecard_a_month(app, press, tmp_path, october):
    """A new scorecard whose roster takes in a manager another scorecard scores is refused
    at that manager's roster row, and nothing is stored."""
    book = tmp_path / "plant2.xlsx"
    shutil.copy(TEMPLATES / "manufacturing.xlsx", book)
    press(f"new_period?period={MONTH}&scorecard=plant2", book)
    before = stored(app)
    with pytest.raises(H.ServerError) as exc:
        press("score", book)
    assert exc.value.status == 422
    text = str(exc.value)
    assert "M1001" in text and "manufacturing" in text and "花名册" in text or "kb_roster" in text
    assert stored(app) == before


def test_new_period_refuses_a_bad_scorecard_code(press, tmp_path):
    book = tmp_path / "x.xlsx"
    shutil.copy(TEMPLATES / "rnd.xlsx", book)
    with pytest.raises(H.ServerError) as exc:
        press(f"new_period?period={MONTH}&scorecard=../etc", book)
    assert exc.value.status == 400


def test_the_month_page_shows_every_scorecard_and_the_company(app, client, web_login, october):
    web_login(client, "hr")
    page = client.get(f"/periods/{MONTH}", base_url="https://localhost")
    assert page.status_code == 200, page.text
    html = page.text
    for card in CARDS:
        assert f"scorecard={card}" in html
    for eid in ("M1001", "R2001", "S3001"):  # the company-wide table holds everyone
        assert eid in html
    # a scorecard's own page, and the month asked without one
    assert client.get(f"/review/{MONTH}?scorecard=rnd",
                      base_url="https://localhost").status_code == 200
    ambiguous = client.get(f"/review/{MONTH}", base_url="https://localhost")
    assert ambiguous.status_code == 409
    assert "rnd" in ambiguous.text and "sales" in ambiguous.text
    assert f"/review/{MONTH}?scorecard=rnd" in ambiguous.text  # links to choose from
    # a person's page finds their scorecard without being told
    person = client.get(f"/review/{MONTH}/people/R2001", base_url="https://localhost")
    assert person.status_code == 200
    csv = client.get(f"/periods/{MONTH}/export.csv", base_url="https://localhost")
    assert csv.status_code == 200
    body = csv.data.decode("utf-8-sig")
    assert "R2001" in body and "S3001" in body and "M1001" in body


def test_company_wide_ranks_take_in_the_other_scorecards(app, press, october):
    """Distribution group 公司 (company): the sales managers' group ranks count the month's
    other scorecards too."""
    book = october["sales"]
    wb = openpyxl.load_workbook(book)
    ws = wb["设置"]
    for row in ws.iter_rows(min_row=2):
        if str(row[0].value or "").startswith("分布分组"):
            row[1].value = "公司"
    wb.save(book)
    from urllib.parse import quote

    press(f"score?apply_reason={quote('按公司排名')}", book)
    with session_scope(app) as s:
        totals = []
        for period in s.scalars(select(Period).where(Period.code == MONTH)):
            run = s.scalars(select(ScoreRun).where(ScoreRun.period_id == period.id)
                            .order_by(ScoreRun.run_no.desc())).first()
            totals += [(t["total"], period.scorecard, t["employee_id"], t["group_rank"])
                       for t in run.totals if t.get("total") is not None]
    from decimal import Decimal

    everyone = sorted((Decimal(str(t)) for t, *_ in totals), reverse=True)
    for total, card, _eid, group_rank in totals:
        if card == "sales":  # its rank among all 20 managers of the month
            assert group_rank == everyone.index(Decimal(str(total))) + 1


def test_the_demo_serves_october_with_three_scorecards(app, client, tmp_path, web_login):
    """`kpibook demo` (scripts/run): October holds manufacturing, R&D and sales, each bound,
    pulled and scored from its own workbook the demo wrote, with the company-wide page."""
    from server.demo import DEMO_SCORECARDS, setup_demo

    info = setup_demo(app, tmp_path / "workbooks")
    assert info["period"] == MONTH
    poster = H.flask_poster(client, headers={"Authorization": f"Bearer {info['tokens']['hr']}"})
    for card in DEMO_SCORECARDS:
        book = next(p for p in info["workbooks"] if Path(p).stem == card)
        result = H.run_button(f"new_period?period={MONTH}", book, post=poster)
        assert any("already exists" in m or "已存在" in m for m, _ in result.alerts)
        H.run_button("pull", book, post=poster)
        H.run_button("score", book, post=poster)
    assert set(scored_people(app)) == set(DEMO_SCORECARDS)
    web_login(client, "hr")
    page = client.get(f"/periods/{MONTH}", base_url="https://localhost")
    assert page.status_code == 200
    assert all(eid in page.text for eid in ("M1001", "R2001", "S3001"))


def test_messages_about_a_scorecard_link_to_its_pages(app, client, web_login, october):
    """In a month with several scorecards, the executives' "to approve" message names the
    scorecard and opens its review page (not the month's 409 choice)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict] = []

    class Robot(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server API
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"errcode":0}')

        def log_message(self, *args):
            pass

    robot = ThreadingHTTPServer(("127.0.0.1", 0), Robot)
    threading.Thread(target=robot.serve_forever, daemon=True).start()
    try:
        app.config.update(WEBHOOK_URL=f"http://127.0.0.1:{robot.server_port}/robot",
                          WEBHOOK_STYLE="dingtalk", BASE_URL="https://kpi.example.com")
        from server import workflow
        from server.auth import create_user

        with app.app_context(), session_scope(app) as s:
            create_user(s, "gm", "executive", "总经理", {})
        with app.app_context(), session_scope(app) as s:
            hr = s.scalar(select(User).where(User.name == "hr"))
            rnd = s.scalar(select(Period).where(Period.scorecard == "rnd"))
            workflow.transition(s, rnd, "send_for_review", hr, "", None, "zh")
    finally:
        robot.shutdown()
        robot.server_close()
    text = json.dumps(received, ensure_ascii=False)
    assert f"/review/{MONTH}?scorecard=rnd" in text
    assert f"{MONTH} rnd" in text
