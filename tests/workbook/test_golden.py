"""The manufacturing template scored end to end; every figure below can be checked by hand.

Rules (kb_rules): PROD_EFF 30 ratio target 95% cap 120%; QUALITY 25 reverse_linear defect
rate target 1.5% floor 4%; SALES 20 ratio target 500 (cap 100%); ATTEND 10 deduction 2 per
late arrival; TEAMWORK 15 rating A/B/C/D = 100/85/70/50%; SAFETY_AWARD +1 each (max 3);
QUALITY_INCIDENT -2 each (max 6). Grade bands S 95, A 85, B 70, C 60, D 0.
"""

from __future__ import annotations

from decimal import Decimal

import openpyxl

from addin.headless import apply_actions, snapshot_from_xlsx
from server.scoring.engine import score
from server.workbook.contract import read_tables, to_score_input
from server.workbook.render import score_plan
from server.xlwire.actions import plan_to_actions
from tests.workbook.books import TEMPLATE_DIR

EXPECTED = {
    # 张伟 M1001: PROD_EFF 98.8% / 95% = 1.04 -> 30 x 1.04 = 31.20
    #   QUALITY 2.0%: (4% - 2%) / (4% - 1.5%) = 0.8 -> 25 x 0.8 = 20.00
    #   SALES 450 / 500 = 0.9 -> 20 x 0.9 = 18.00; ATTEND 2 late: 10 - 2 x 2 = 6.00
    #   TEAMWORK B: 15 x 85% = 12.75; SAFETY_AWARD 2 x 1 = +2; QUALITY_INCIDENT 0
    #   total 31.20 + 20 + 18 + 6 + 12.75 + 2 = 89.95 -> A
    "M1001": ({"PROD_EFF": "31.20", "QUALITY": "20.00", "SALES": "18.00", "ATTEND": "6.00",
               "TEAMWORK": "12.75", "SAFETY_AWARD": "2.00", "QUALITY_INCIDENT": "0.00"},
              "89.95", "A"),
    # 王芳 M1002: PROD_EFF 117.8% / 95% = 1.24, capped 1.2 -> 36.00
    #   QUALITY 1.2% <= 1.5% -> 25.00; SALES 560 / 500 = 1.12, capped 1 -> 20.00
    #   ATTEND 0 late -> 10.00; TEAMWORK A -> 15.00; SAFETY +1; one incident -2
    #   total 36 + 25 + 20 + 10 + 15 + 1 - 2 = 105.00 -> S (total cap 120 not reached)
    "M1002": ({"PROD_EFF": "36.00", "QUALITY": "25.00", "SALES": "20.00", "ATTEND": "10.00",
               "TEAMWORK": "15.00", "SAFETY_AWARD": "1.00", "QUALITY_INCIDENT": "-2.00"},
              "105.00", "S"),
    # 李强 M1003 (personal PROD_EFF target 90% in kb_targets): 85.5% / 90% = 0.95 -> 28.50
    #   QUALITY 4.5% >= floor 4% -> 0; SALES 380 / 500 = 0.76 -> 15.20
    #   ATTEND 6 late: 10 - 12 < 0 -> 0; TEAMWORK C: 15 x 70% = 10.50; two incidents -4
    #   total 28.50 + 0 + 15.20 + 0 + 10.50 + 0 - 4 = 50.20 -> D
    "M1003": ({"PROD_EFF": "28.50", "QUALITY": "0.00", "SALES": "15.20", "ATTEND": "0.00",
               "TEAMWORK": "10.50", "SAFETY_AWARD": "0.00", "QUALITY_INCIDENT": "-4.00"},
              "50.20", "D"),
}


def test_manufacturing_figures_by_hand():
    tables = read_tables(snapshot_from_xlsx(TEMPLATE_DIR / "manufacturing.xlsx"))
    result = score(to_score_input(tables), lang="zh")
    for eid, (lines, total, grade) in EXPECTED.items():
        for code, points in lines.items():
            assert result.line(eid, code).points == Decimal(points), (eid, code)
        assert result.employee(eid).total == Decimal(total), eid
        assert result.employee(eid).grade == grade, eid
    # ranks: M1002 105.00 is first of eight, M1003 50.20 last
    assert result.employee("M1002").rank == 1 and result.employee("M1003").rank == 8


def test_manufacturing_round_trip_through_the_workbook(tmp_path):
    path = TEMPLATE_DIR / "manufacturing.xlsx"
    book = snapshot_from_xlsx(path)
    tables = read_tables(book)
    inp = to_score_input(tables)
    actions = plan_to_actions(book, score_plan(score(inp, lang="zh"), inp, tables, "zh"))
    wb = openpyxl.load_workbook(path)
    apply_actions(wb, actions)
    out = tmp_path / "scored.xlsx"
    wb.save(out)

    scored = read_tables(snapshot_from_xlsx(out))
    assert scored.problems == []
    summary = scored["kb_summary"]
    by_id = {summary.value(i, "employee_id"): i for i in range(len(summary.frame))}
    for eid, (_, total, grade) in EXPECTED.items():
        i = by_id[eid]
        assert Decimal(repr(summary.value(i, "total"))) == Decimal(total)
        assert summary.value(i, "grade") == grade
    assert len(scored["kb_scores"].frame) == 53  # 8 people x applicable indicators
    # HR's tables came back unchanged
    before, after = tables["kb_rules"].frame, scored["kb_rules"].frame
    assert before.equals(after)
    assert scored["kb_meta"].frame["key"].tolist()[-2:] == ["scored_at", "engine_version"]
