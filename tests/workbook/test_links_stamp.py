"""The kb_meta links stamp: a linked column (kb_scores explanations, kb_summary employee ids)
is cleared, written and linked again only when its values or its links changed since the
last answer (server/xlwire/actions.py `_links_stamp`), and the links end up on the right
cells in every case. Driven through the headless client on the shipped template."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

import server.workbook.render as render
from addin.headless import apply_actions, snapshot_from_xlsx
from server.scoring.engine import score
from server.workbook.contract import read_tables, to_score_input
from server.xlwire.actions import LINKS_KEY, plan_to_actions
from tests.workbook.books import TEMPLATE_DIR
from tests.workbook.test_action_golden import _link, _plan

SCORES = "得分明细"


def _press(path: Path, linked: set | None) -> list[dict]:
    """Score the workbook at `path` with links for `linked` lines, apply, save."""
    book = snapshot_from_xlsx(path)
    actions = plan_to_actions(book, _plan(book, "zh", fact_link=_link, linked=linked))
    wb = openpyxl.load_workbook(path)
    apply_actions(wb, actions)
    wb.save(path)
    return actions


def _explanation_column(ws) -> int:
    return next(c.column for c in ws[1] if "说明" in str(c.value))


def _links(path: Path) -> dict[int, str]:
    """Excel row -> link target of the kb_scores explanation cells that have one."""
    ws = openpyxl.load_workbook(path)[SCORES]
    col = _explanation_column(ws)
    return {r: ws.cell(r, col).hyperlink.target for r in range(2, ws.max_row + 1)
            if ws.cell(r, col).hyperlink is not None}


def _touching_explanations(actions: list[dict], col: int) -> list[str]:
    return [a["func"] for a in actions if a.get("sheet_position") == 6 and a["func"] in
            ("rangeClear", "setValues", "addHyperlink")
            and a["start_column"] <= col < a["start_column"] + a["column_count"]]


@pytest.fixture()
def scored(tmp_path: Path) -> tuple[Path, set]:
    path = tmp_path / "book.xlsx"
    wb = openpyxl.load_workbook(TEMPLATE_DIR / "manufacturing.xlsx")
    wb.save(path)
    book = snapshot_from_xlsx(path)
    lines = score(to_score_input(read_tables(book)), lang="zh").lines
    every_third = {(ln.employee_id, ln.indicator) for i, ln in enumerate(lines) if i % 3}
    _press(path, every_third)
    return path, every_third


def test_unchanged_links_are_not_sent_again(scored) -> None:
    path, linked = scored
    before = _links(path)
    assert before  # the first answer linked the lines
    col = _explanation_column(openpyxl.load_workbook(path)[SCORES]) - 1
    actions = _press(path, linked)
    assert _touching_explanations(actions, col) == []  # no clear, no values, no links
    assert not any(a["func"] == "addHyperlink" for a in actions)
    assert _links(path) == before
    # the stamp is written after the tables (an answer applied in part keeps the old one)
    stamp_at = max(i for i, a in enumerate(actions) if a["func"] == "setValues"
                   and a["sheet_position"] == 9)
    assert all(a["sheet_position"] == 9 or a["func"] in ("activateSheet", "alert")
               for a in actions[stamp_at:])


def test_other_links_clear_and_relink_the_column(scored) -> None:
    path, linked = scored
    every = _links(path)
    fewer = set(sorted(linked)[: len(linked) // 2])
    actions = _press(path, fewer)
    col = _explanation_column(openpyxl.load_workbook(path)[SCORES]) - 1
    assert _touching_explanations(actions, col)[0] == "rangeClear"
    now = _links(path)
    assert sum(a["func"] == "addHyperlink" for a in actions) == len(now)
    assert 0 < len(now) < len(every) and now.items() <= every.items()
    # and back: the stamp now records the fewer links, so the full set is written again
    _press(path, linked)
    assert _links(path) == every


def test_an_explanation_typed_over_sends_the_column_with_its_links(scored) -> None:
    path, linked = scored
    before = _links(path)
    wb = openpyxl.load_workbook(path)
    ws = wb[SCORES]
    row = min(before)
    ws.cell(row, _explanation_column(ws)).value = "HR typed here"
    ws.cell(row, _explanation_column(ws)).hyperlink = None
    wb.save(path)
    actions = _press(path, linked)
    col = _explanation_column(ws) - 1
    assert _touching_explanations(actions, col)[:2] == ["rangeClear", "setValues"]
    assert _links(path) == before


def test_a_stamp_edited_by_hand_only_costs_a_resend(scored) -> None:
    path, linked = scored
    wb = openpyxl.load_workbook(path)
    ws = wb["_kpibook"]
    row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == LINKS_KEY)
    ws.cell(row, 2).value = "=1+1"  # whatever it holds, it is not the stamp
    wb.save(path)
    before = _links(path)
    actions = _press(path, linked)
    assert sum(a["func"] == "addHyperlink" for a in actions) == len(before)
    assert _links(path) == before


def test_per_employee_links_are_held_too(scored, monkeypatch) -> None:
    path, linked = scored
    monkeypatch.setattr(render, "LINE_LINK_LIMIT", 10)
    first = _press(path, linked)  # the design changes: explanations lose their links
    assert any(a["func"] == "addHyperlink" and a["sheet_position"] == 7 for a in first)
    assert _links(path) == {}
    again = _press(path, linked)
    assert not any(a["func"] in ("addHyperlink", "rangeClear") for a in again)


@pytest.mark.parametrize("links", [[None] * 7, [], ["http://x/a", None, "http://x/b"],
                                   ["http://x/a"] * 3, [None, "None"]])
def test_the_stamp_of_links_without_any_url_is_that_of_every_link_spelt_out(links):
    """Differential: the stamp of a column without a URL (counted at once) is the digest of
    its links spelt out one by one, as every earlier answer stamped it."""
    import hashlib

    from server.xlwire.actions import _links_stamp
    from server.xlwire.plan import TableWrite

    write = TableWrite.from_columns("kb_scores", ["explanation"], [["t"] * len(links)])
    write.hyperlinks = {"explanation": links}
    digest = hashlib.sha256()
    digest.update(f"kb_scores\x1fexplanation\x1f{len(links)}\x1e".encode())
    digest.update("\n".join(str(link) for link in links).encode())
    digest.update(b"\x1d")
    assert _links_stamp([write]) == digest.hexdigest()[:32]
