"""Sheet digests through the headless client and the real server (server/xlwire/digest.py):
the output sheets go by digest once the server stamped them, a re-score then answers exactly
as it does to a client that sends everything, and a result HR typed over makes the server ask
for that sheet's values, which the client sends again."""

from __future__ import annotations

import json
import shutil
import zlib
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from server.db import session_scope
from server.models import Adjustment, SheetCopy
from server.xlwire import digest as wire_digest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "workbook_templates" / "manufacturing.xlsx"

pytestmark = pytest.mark.skipif(not TEMPLATE.is_file(),
                                reason="workbook_templates/manufacturing.xlsx not built yet")


class Recorder:
    """A poster that records every request (body size, digests sent, sheets with values)
    and every status; it posts through the real Flask app."""

    def __init__(self, client, token: str) -> None:
        from addin.headless import flask_poster

        self.base = flask_poster(client, headers={"Authorization": f"Bearer {token}"})
        self.sent: list[dict] = []
        self.takes_headers = True

    def __call__(self, button, payload, extra=None):
        response = self.base(button, payload, extra)
        self.sent.append({
            "digests": wire_digest.parse_digests_header(
                (extra or {}).get(wire_digest.DIGESTS_HEADER)),
            "with_values": {s["name"] for s in payload["sheets"] if s["values"] != [[]]},
            "size": len(json.dumps(payload, ensure_ascii=False).encode()),
            "status": response.status_code,
            "need": response.headers.get(wire_digest.NEED_VALUES_HEADER),
        })
        return response


@pytest.fixture
def scored(tmp_path, client, hr_token) -> Path:
    from addin.headless import run_button

    path = tmp_path / "考核.xlsx"
    shutil.copy(TEMPLATE, path)
    post = Recorder(client, hr_token)
    for button in ("new_period?period=2026-10", "pull", "score"):
        run_button(button, path, post=post)
    return path


def output_sheets(path: Path) -> dict[str, str]:
    """Sheet title -> output table on it."""
    wb = openpyxl.load_workbook(path)
    return {ws.title: name for ws in wb.worksheets for name in ws.tables
            if name in wire_digest.DIGESTED_TABLES}


def meta(path: Path) -> dict[str, object]:
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        if "kb_meta" in ws.tables:
            rows = list(ws[ws.tables["kb_meta"].ref])[1:]
            return {r[0].value: r[1].value for r in rows if r[0].value}
    raise KeyError("kb_meta")


def cells(path: Path, sheets) -> dict[str, list[tuple]]:
    wb = openpyxl.load_workbook(path)
    return {s: [tuple(c.value for c in row) for row in wb[s].iter_rows()] for s in sheets}


def test_score_stamps_the_output_sheets(app, scored):
    stamped = wire_digest.parse_digests_header(meta(scored)["sheet_digests"])
    # the sheets the server fills: kb_data's, kb_adjustments', kb_scores' and kb_summary's
    assert set(stamped) == set(output_sheets(scored)) and len(stamped) == 4
    # the stamp is the digest of the sheet as the client holds it now
    from addin.headless import digest_sheets, workbook_to_payload

    assert digest_sheets(workbook_to_payload(scored)) == stamped
    with session_scope(app) as s:
        assert s.scalar(select(func.count()).select_from(SheetCopy)) >= 2


def test_rescore_by_digest_answers_as_with_values(app, client, hr_token, scored, tmp_path):
    from addin.headless import run_button

    by_value, by_digest = tmp_path / "v.xlsx", tmp_path / "d.xlsx"
    shutil.copy(scored, by_value)
    shutil.copy(scored, by_digest)
    outputs = output_sheets(scored)

    post_v = Recorder(client, hr_token)
    rv = run_button("score", by_value, post=post_v, digests=False)
    post_d = Recorder(client, hr_token)
    rd = run_button("score", by_digest, post=post_d)

    [sent] = post_d.sent
    assert sent["status"] == 200  # one round trip: the server held both sheets
    assert set(sent["digests"]) == set(outputs)
    assert not sent["with_values"] & set(outputs)  # no values of the output sheets
    assert "_kpibook" in sent["with_values"]  # HR's and kpibook's other sheets: always
    assert sent["size"] < post_v.sent[0]["size"]

    def on_outputs(actions, path):
        index = {ws.title: i for i, ws in enumerate(openpyxl.load_workbook(path).worksheets)}
        wanted = {index[s] for s in outputs}
        return [a for a in actions if a["sheet_position"] in wanted]

    # identical writes into the output sheets, identical results
    assert on_outputs(rd.actions, by_digest) == on_outputs(rv.actions, by_value)
    assert cells(by_digest, outputs) == cells(by_value, outputs)


def test_typed_over_result_is_asked_for_and_restored(app, client, hr_token, scored):
    from addin.headless import run_button
    from server.services.answer import RESTORED_FILL

    wb = openpyxl.load_workbook(scored)
    [summary_sheet] = [s for s, t in output_sheets(scored).items() if t == "kb_summary"]
    ws = wb[summary_sheet]
    first = openpyxl.utils.cell.range_boundaries(ws.tables["kb_summary"].ref)[1] + 1
    total_col = next(i for i, v in enumerate([c.value for c in ws[first - 1]], start=1)
                     if str(v).startswith("总分"))
    was = ws.cell(first, total_col).value
    ws.cell(first, total_col).value = 100
    wb.save(scored)

    post = Recorder(client, hr_token)
    r = run_button("submit", scored, post=post)
    first_try, second = post.sent
    assert first_try["status"] == 409
    assert wire_digest.parse_names(first_try["need"]) == [summary_sheet]
    assert second["status"] == 200
    assert summary_sheet in second["with_values"]  # sent again with its values
    assert set(second["digests"]) == set(output_sheets(scored)) - {summary_sheet}
    # handled as today: restored to the server's value, coloured, explained
    ws = openpyxl.load_workbook(scored)[summary_sheet]
    cell = ws.cell(first, total_col)
    assert cell.value == was
    assert cell.fill.fgColor.rgb.endswith(RESTORED_FILL.lstrip("#"))
    assert cell.coordinate in r.alerts[0][0]


def test_client_without_digests_is_answered_as_before(app, client, hr_token, scored):
    """An older client sends every sheet and no header: no 409, no stamp written."""
    from addin.headless import run_button

    post = Recorder(client, hr_token)
    before = meta(scored)["sheet_digests"]
    r = run_button("check", scored, post=post, digests=False)
    assert [s["status"] for s in post.sent] == [200]
    assert set(output_sheets(scored)) <= post.sent[0]["with_values"]
    assert all(wire_digest.META_KEY not in json.dumps(a, ensure_ascii=False)
               for a in r.actions)
    assert meta(scored)["sheet_digests"] == before


def test_bad_digest_header_is_refused(client, hr_token, scored):
    from addin.headless import workbook_to_payload

    response = client.post("/xl/check", json=workbook_to_payload(scored), headers={
        "Authorization": f"Bearer {hr_token}", wire_digest.DIGESTS_HEADER: "a=zz"})
    assert response.status_code == 400
    assert wire_digest.DIGESTS_HEADER in response.get_data(as_text=True)


def _truncated(body: bytes) -> bytes:
    return zlib.compress(zlib.decompress(body)[:-7])


@pytest.mark.parametrize("damage", [_truncated, lambda body: b"not zlib at all"],
                         ids=["copy cut short", "not compressed"])
def test_a_damaged_copy_is_asked_for_again_and_replaced(app, client, hr_token, scored,
                                                        damage):
    """The server's copies are its own, but a disk or a bug can damage one: the client is
    asked for those sheets' values (409), as for a copy the server never held, and the
    answer stores good copies, so the next press goes by digest again. (It was a 400 the
    client could not get past: it sent the same digests on every press.)"""
    from addin.headless import run_button

    outputs = set(output_sheets(scored))
    with session_scope(app) as s:
        for row in s.scalars(select(SheetCopy)):
            row.body = damage(row.body)
        s.commit()
    expected = cells(scored, outputs)

    post = Recorder(client, hr_token)
    run_button("score", scored, post=post)
    first_try, second = post.sent
    assert first_try["status"] == 409
    assert set(wire_digest.parse_names(first_try["need"])) == outputs  # all, in one trip
    assert second["status"] == 200 and outputs <= second["with_values"]
    assert cells(scored, outputs) == expected  # the month did not change

    post = Recorder(client, hr_token)
    run_button("score", scored, post=post)
    [again] = post.sent
    assert again["status"] == 200 and set(again["digests"]) == outputs
    assert not again["with_values"] & outputs


def _sheet_of(path: Path, table: str) -> str:
    return next(ws.title for ws in openpyxl.load_workbook(path).worksheets if table in ws.tables)


def test_pull_leaves_kb_data_to_go_by_digest(tmp_path, client, hr_token):
    """kb_data is filled by Pull: the next press sends it by digest, in one round trip (at
    5,000 managers it was 8 of a by-digest re-score's 9 MB)."""
    from addin.headless import run_button

    path = tmp_path / "考核.xlsx"
    shutil.copy(TEMPLATE, path)
    post = Recorder(client, hr_token)
    for button in ("new_period?period=2026-10", "pull", "score"):
        run_button(button, path, post=post)
    data_sheet = _sheet_of(path, "kb_data")
    score = post.sent[-1]
    assert [s["status"] for s in post.sent] == [200, 200, 200]
    assert data_sheet in score["digests"] and data_sheet not in score["with_values"]


def test_an_edited_adjustment_is_asked_for_and_submitted(app, client, hr_token, scored):
    """An executive's edit in kb_adjustments changes the sheet's digest: the server has no
    copy of it, asks for its values (409), and Submit takes the adjustment from them."""
    from addin.headless import run_button

    adjustments = _sheet_of(scored, "kb_adjustments")
    wb = openpyxl.load_workbook(scored)
    ws = wb[adjustments]
    header = [c.value for c in ws[1]]
    col = {key: header.index(caption) for key, caption in (
        ("eid", "工号 / Employee ID"), ("code", "指标代码 / Indicator"),
        ("points", "调整分 / Adjustment"), ("reason", "调整理由 / Reason"))}
    eid, code = ws.cell(2, col["eid"] + 1).value, ws.cell(2, col["code"] + 1).value
    ws.cell(2, col["points"] + 1).value = 1.5
    ws.cell(2, col["reason"] + 1).value = "现场核实，补计返工工时"
    wb.save(scored)
    others = set(output_sheets(scored)) - {adjustments}

    post = Recorder(client, hr_token)
    r = run_button("submit", scored, post=post)
    first_try, second = post.sent
    assert first_try["status"] == 409
    assert wire_digest.parse_names(first_try["need"]) == [adjustments]
    assert second["status"] == 200 and adjustments in second["with_values"]
    assert not second["with_values"] & others  # the others still by digest
    assert r.alerts, r.actions
    with session_scope(app) as s:
        [adjusted] = [a for a in s.scalars(select(Adjustment))
                      if (a.employee_id, a.indicator) == (eid, code)]
        assert Decimal(str(adjusted.points)) == Decimal("1.5")
        assert adjusted.reason == "现场核实，补计返工工时"
