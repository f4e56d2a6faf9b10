"""The exact action lists (as the client receives them) of the shipped templates scored in
every shape the output side knows: first score, re-score (unchanged columns skipped), typed
and shuffled adjustments, missing data, hyperlinks per line and per employee, a table that
must grow a column, a missing kb_meta, the Submit button's edits of a plan's rows, and New
period's answer on a template (the month chosen into kb_meta and the sample rows).

The pinned lists are in golden_actions.json, one action per line. They prove that a change
inside score_plan / plan_to_actions / response_body (e.g. for speed) writes the same cells.
After an intended change of behaviour, regenerate them and review the diff:

    .venv/bin/python -m tests.workbook.test_action_golden
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

import server.workbook.render as render
from addin.headless import apply_actions, snapshot_from_xlsx
from server.scoring.engine import score
from server.workbook.contract import read_tables, to_score_input
from server.xlwire.actions import plan_to_actions, response_body
from server.xlwire.plan import WritePlan
from tests.workbook.books import TEMPLATE_DIR

GOLDEN = Path(__file__).with_name("golden_actions.json")
META = {"scored_at": "2026-10-31T12:00:00Z", "engine_version": "golden"}  # not the clock


def _link(employee_id: str, indicator: str | None) -> str:
    return f"https://kpi.example.com/sync/2026-10/facts/{employee_id}/{indicator or ''}"


def _plan(book, lang: str, **links) -> WritePlan:
    tables = read_tables(book)
    inp = to_score_input(tables)
    plan = render.score_plan(score(inp, lang=lang), inp, tables, lang, **links)
    plan.meta = dict(META)
    return plan


def _xlsx(tmp: Path, template: str, edit: Callable[[openpyxl.Workbook], None] | None = None
          ) -> Path:
    wb = openpyxl.load_workbook(TEMPLATE_DIR / f"{template}.xlsx")
    if edit is not None:
        edit(wb)
    path = tmp / f"{template}.xlsx"
    wb.save(path)
    return path


def _scored_once(tmp: Path, template: str = "manufacturing", lang: str = "zh") -> Path:
    """The template after one Score, applied the way the headless client applies it."""
    path = _xlsx(tmp, template)
    book = snapshot_from_xlsx(path)
    actions = plan_to_actions(book, _plan(book, lang))
    wb = openpyxl.load_workbook(path)
    apply_actions(wb, actions)
    wb.save(path)
    return path


def _typed_and_shuffled(wb: openpyxl.Workbook) -> None:
    ws = wb["调整"]
    ws["G2"], ws["H2"] = 1.5, "-月度突击任务 / rush order"  # text Excel would parse
    ws.move_range("A2:J3", rows=60)  # the first two rows go to the bottom
    ws.move_range("A62:J63", rows=-60 + 52)
    ws.delete_rows(2, 2)


def _missing_data(wb: openpyxl.Workbook) -> None:
    wb["源数据"]["D2"] = None  # M1001 PROD_EFF: policy block -> no total, amber rows


def _summary_lacks_a_column(wb: openpyxl.Workbook) -> None:
    ws = wb["汇总"]  # HR took over a column: kpibook adds its own one at the table's right
    for cell in ws[1]:
        if cell.value == "QUALITY_INCIDENT":
            cell.value = "HR 备注"


def _no_meta(wb: openpyxl.Workbook) -> None:
    del wb["_kpibook"]


def _submit_edits(plan: WritePlan) -> None:
    """What server.blueprints.xl._write_adjustments_of_record does to a Score plan: edits
    kb_adjustments through `rows`, `columns` and `cell_fills`."""
    write = next(t for t in plan.tables if t.table == "kb_adjustments")
    if "points" not in write.columns:
        write.columns += ["points", "reason"]
        for row in write.rows:
            row += [None, None]
    p_at, r_at = write.columns.index("points"), write.columns.index("reason")
    for n, row in enumerate(write.rows):
        if n % 7 == 0:
            row[p_at], row[r_at] = 1.25, "+1 overtime"
            for col in ("points", "reason", "status"):
                write.cell_fills[(n, col)] = "#C6EFCE"
    write.number_formats.setdefault("points", "0.00")
    write.text_columns = write.text_columns | {"reason", "status"}


def _scenario(name: str, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    every_third = None
    if name in ("links_per_line", "links_per_employee", "rescore_links"):
        book = snapshot_from_xlsx(_xlsx(tmp, "manufacturing"))
        lines = score(to_score_input(read_tables(book)), lang="zh").lines
        every_third = {(ln.employee_id, ln.indicator) for i, ln in enumerate(lines) if i % 3}
    if name in ("first_zh", "sales_first_en"):
        template, lang = ("manufacturing", "zh") if name == "first_zh" else ("sales", "en")
        book = snapshot_from_xlsx(TEMPLATE_DIR / f"{template}.xlsx")
        return plan_to_actions(book, _plan(book, lang))
    if name in ("rescore", "rescore_links", "rescore_typed"):
        path = _scored_once(tmp)
        if name == "rescore_typed":
            wb = openpyxl.load_workbook(path)
            wb["调整"]["G3"], wb["调整"]["H3"] = -2, "late report"
            wb.save(path)
        links = {"fact_link": _link, "linked": every_third} if name == "rescore_links" else {}
        book = snapshot_from_xlsx(path)
        return plan_to_actions(book, _plan(book, "zh", **links))
    edits = {"typed_shuffled": _typed_and_shuffled, "missing_data": _missing_data,
             "summary_lacks_a_column": _summary_lacks_a_column, "no_meta": _no_meta}
    if name in edits:
        book = snapshot_from_xlsx(_xlsx(tmp, "manufacturing", edits[name]))
        return plan_to_actions(book, _plan(book, "en"))
    if name == "links_per_line":
        book = snapshot_from_xlsx(_xlsx(tmp, "manufacturing"))
        return plan_to_actions(book, _plan(book, "zh", fact_link=_link, linked=every_third))
    if name == "links_per_employee":
        monkeypatch.setattr(render, "LINE_LINK_LIMIT", 10)
        book = snapshot_from_xlsx(_xlsx(tmp, "manufacturing"))
        return plan_to_actions(book, _plan(book, "zh", fact_link=_link, linked=every_third))
    if name in ("submit", "submit_typed_shuffled"):
        edit = _typed_and_shuffled if name == "submit_typed_shuffled" else None
        book = snapshot_from_xlsx(_xlsx(tmp, "manufacturing", edit))
        plan = _plan(book, "zh")
        _submit_edits(plan)
        return plan_to_actions(book, plan)
    if name == "new_period":
        # New period's answer on a template (server/blueprints/xl.py new_period): kb_meta
        # gets the month chosen and the sample rows of kb_data take it as their period.
        book = snapshot_from_xlsx(TEMPLATE_DIR / "manufacturing.xlsx")
        stamped = render.period_write(read_tables(book), "2026-11")
        assert stamped.filled > 0 and stamped.other == 0
        plan = WritePlan(tables=[stamped.write],
                         meta={"period": "2026-11", "template": "manufacturing",
                               "period_state": "collecting"},
                         alert=("Created period 2026-11 (template manufacturing).",
                                "New period"))
        return plan_to_actions(book, plan)
    raise KeyError(name)


SCENARIOS = ["first_zh", "sales_first_en", "rescore", "rescore_links", "rescore_typed",
             "typed_shuffled", "missing_data", "summary_lacks_a_column", "no_meta",
             "links_per_line", "links_per_employee", "submit", "submit_typed_shuffled",
             "new_period"]


def _lines(actions: list[dict]) -> list[str]:
    """One canonical JSON line per action as the client receives it (through response_body:
    1 and 1.0 stay distinct, key order is fixed)."""
    received = json.loads(response_body(actions))["actions"]
    return [json.dumps(a, ensure_ascii=False, sort_keys=True) for a in received]


@pytest.mark.parametrize("name", SCENARIOS)
def test_actions_are_exactly_the_pinned_ones(name, tmp_path, monkeypatch):
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    want = [json.dumps(a, ensure_ascii=False, sort_keys=True) for a in golden[name]]
    got = _lines(_scenario(name, tmp_path, monkeypatch))
    assert len(got) == len(want), (len(got), len(want))
    for n, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, f"action {n}"


def _by_digest(path: Path):
    """The snapshot the server builds when a client sends the digested sheets of `path` by
    digest (server/xlwire/digest.py): their stored copies (the sheets as an answer left them)
    parsed in place of the values, the rest of the body as sent (compact JSON bytes)."""
    from addin.headless import workbook_to_payload
    from server.xlwire import digest as wire_digest
    from server.xlwire.protocol import parse_payload

    payload = workbook_to_payload(path)
    stored = wire_digest.AfterAnswer(parse_payload(payload), {}).apply([])
    copies = {}
    for copy in stored:
        copy.compute_digest()
        copies[copy.name] = bytearray(copy.to_bytes())
    assert len(copies) == 4  # kb_data's, kb_adjustments', kb_scores' and kb_summary's sheets
    for sheet in payload["sheets"]:
        if sheet["name"] in copies:
            sheet["values"], sheet["tables"], sheet["pictures"] = [[]], [], []
    body = bytearray(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())
    return parse_payload(body, copies)


@pytest.mark.parametrize("name", SCENARIOS)
def test_digest_clients_get_the_pinned_actions(name, tmp_path, monkeypatch):
    """Issue #16: the same inputs give the same actions, whether the output sheets came as
    values or by digest (their copies standing in)."""
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    want = [json.dumps(a, ensure_ascii=False, sort_keys=True) for a in golden[name]]
    monkeypatch.setattr(sys.modules[__name__], "snapshot_from_xlsx", _by_digest)
    got = _lines(_scenario(name, tmp_path, monkeypatch))
    assert got == want


def _regenerate() -> None:
    import tempfile

    out = []
    for name in SCENARIOS:
        with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
            lines = _lines(_scenario(name, Path(tmp), mp))
        out.append(f" {json.dumps(name)}: [\n  " + ",\n  ".join(lines) + "\n ]")
    GOLDEN.write_text("{\n" + ",\n".join(out) + "\n}\n", encoding="utf-8")
    print(f"wrote {GOLDEN}", file=sys.stderr)


if __name__ == "__main__":
    _regenerate()
