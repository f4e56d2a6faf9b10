"""A period with a real git history for the review pages: the web world of tests/web (two
departments, a user per role, a published period) plus, written through server.ledger
(the library, never mocked): a baseline, adjustments in both departments (one reason is a
`<script>`), a commit touching both departments, and a re-score that swaps the ranks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from tests.web.conftest import OTHER, OTHER_DEPT, OTHER_NAME, OWN, OWN_DEPT, PERIOD, make_world

SCRIPT_REASON = '<script>alert("xss")</script> 返工 & <b>粗体</b>'
OTHER_REASON = "王芳的机密原因"  # must never reach a page/export of OWN_DEPT's head


@dataclass
class Seeded:
    world: object
    commits: dict[str, str] = field(default_factory=dict)


def _clock():
    t = [dt.datetime(2025, 4, 1, 8, 0, tzinfo=dt.UTC)]

    def now() -> dt.datetime:
        t[0] += dt.timedelta(minutes=7)
        return t[0]

    return now


def seed_history(app) -> dict[str, str]:
    from server.ledger import (
        CellValue,
        Editor,
        EmployeeInfo,
        Kind,
        ScoreLine,
        ScoreSnapshot,
        TotalLine,
    )

    app.config["HISTORY_DURABLE"] = False
    from server.services.history import history_for

    h = history_for(app)
    h._clock = _clock()  # deterministic, ordered times (the library's documented `clock`)
    hr = Editor("人力资源部 李娜", "hr@example.com")
    gm = Editor("总经理 周建国", "gm@example.com")
    head = Editor("一车间主任", "head@example.com")
    employees = {OWN: EmployeeInfo("张伟", OWN_DEPT), OTHER: EmployeeInfo(OTHER_NAME, OTHER_DEPT)}

    def lines(own_eff: str, other_eff: str) -> dict:
        return {(OWN, "PROD_EFF"): ScoreLine(Decimal(own_eff), Decimal(0), Decimal(own_eff)),
                (OWN, "QUALITY"): ScoreLine(Decimal(50), Decimal(0), Decimal(50)),
                (OTHER, "PROD_EFF"): ScoreLine(Decimal(other_eff), Decimal(0),
                                               Decimal(other_eff)),
                (OTHER, "QUALITY"): ScoreLine(Decimal(50), Decimal(0), Decimal(50))}

    c = {}
    c["baseline"] = h.record_scores(PERIOD, ScoreSnapshot(
        lines("40", "35"), {OWN: TotalLine(Decimal(90), "A", 1, 1),
                            OTHER: TotalLine(Decimal(85), "B", 2, 1)}, employees,
        {"indicators": ["PROD_EFF", "QUALITY"]}), hr, "seed-baseline", kind=Kind.BASELINE)
    c["gm"] = h.submit(PERIOD, c["baseline"], {(OWN, "PROD_EFF"): CellValue(
        Decimal("2"), "大客户续约\n见邮件 3/28")}, gm, "seed-gm").commit
    c["script"] = h.submit(PERIOD, c["gm"], {(OWN, "QUALITY"): CellValue(
        Decimal("-1"), SCRIPT_REASON)}, head, "seed-script").commit
    c["other"] = h.submit(PERIOD, c["script"], {(OTHER, "PROD_EFF"): CellValue(
        Decimal("1.5"), OTHER_REASON)}, hr, "seed-other").commit
    c["both"] = h.submit(PERIOD, c["other"], {
        (OWN, "PROD_EFF"): CellValue(Decimal("3"), "再次核对后上调"),
        (OTHER, "QUALITY"): CellValue(Decimal("-2"), OTHER_REASON + "（二）")},
        hr, "seed-both").commit
    c["rescore"] = h.record_scores(PERIOD, ScoreSnapshot(
        lines("30", "45"), {OWN: TotalLine(Decimal(82), "B", 2, 1),
                            OTHER: TotalLine(Decimal("94.5"), "A", 1, 1)}, employees,
        {"indicators": ["PROD_EFF", "QUALITY"]}), hr, "seed-rescore", kind=Kind.RESCORE)
    c["own2"] = h.submit(PERIOD, c["rescore"], {(OWN, "QUALITY"): CellValue(
        Decimal("0.5"), "=HYPERLINK(\"http://x\")")}, gm, "seed-own2").commit
    return c


@pytest.fixture
def seeded(app) -> Seeded:
    world = make_world(app, state="in_review")
    return Seeded(world, seed_history(app))


@pytest.fixture
def published(app) -> Seeded:
    world = make_world(app, state="published")
    return Seeded(world, seed_history(app))
