"""kb_scores' explanation cells link to the page of the facts behind their line (docs/workbook.md
"Explanation links"): Pull + Score through the headless client on the manufacturing template,
then the links followed as HR, as a department head of the line's department and of another."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import openpyxl
import pytest

from tests.sync.test_pull_e2e import TEMPLATES, _table, blank_book, col, rows

pytestmark = pytest.mark.skipif(not (TEMPLATES / "manufacturing.xlsx").is_file(),
                                reason="no templates")


def _explanation_cells(path: Path) -> dict[tuple[str, str], openpyxl.cell.Cell]:
    wb = openpyxl.load_workbook(path)
    _ws, header, cells = _table(wb, "kb_scores")
    eid = next(i for i, h in enumerate(header) if "工号" in str(h) or "Employee" in str(h))
    ind = next(i for i, h in enumerate(header) if str(h).startswith(("指标代码", "指标 ", "指标/"))
               or str(h) in ("指标", "Indicator") or "Indicator code" in str(h))
    exp = next(i for i, h in enumerate(header) if "说明" in str(h) or "Explanation" in str(h))
    return {(r[eid].value, r[ind].value): r[exp] for r in cells}


@pytest.fixture
def scored(app, tmp_path, client, hr_token, sources):
    import addin.headless as h

    book = blank_book(tmp_path, "manufacturing")
    poster = h.flask_poster(client, headers={"Authorization": f"Bearer {hr_token}"})
    for button in ("new_period?period=2026-10", "pull", "score"):
        h.run_button(button, book, post=poster)
    return book


def test_explanations_link_to_their_facts_page(app, scored, client, web_login):
    cells = _explanation_cells(scored)
    cell = cells[("M1001", "PROD_EFF")]
    assert cell.hyperlink is not None
    url = cell.hyperlink.target
    assert urlsplit(url).path == "/sync/2026-10/facts/M1001/PROD_EFF"
    # the link text is the explanation itself, stored as text
    # (sent text-safe: the wire's text prefix, as setValues sends every string)
    assert cell.data_type == "s" and cell.value and cell.quotePrefix
    assert cell.hyperlink.display in (cell.value, "'" + cell.value)
    linked = {k for k, c in cells.items() if c.hyperlink is not None}
    assert len(linked) > len(cells) // 2
    for (eid, code), c in cells.items():
        if c.hyperlink is not None:
            assert urlsplit(c.hyperlink.target).path == f"/sync/2026-10/facts/{eid}/{code}"

    # HR follows the link: the fact's source and raw value, and the explanation
    web_login(client, "hr_web", "hr_admin")
    resp = client.get(urlsplit(url).path)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    page = resp.get_data(as_text=True)
    assert "erp" in page and "1976 / 2000" in page and "0.988" in page
    assert "fact-M1001-PROD_EFF-actual" in page
    assert cell.value.split("\n")[0][:20] in page or cell.value[:10] in page


def test_rescore_keeps_one_link_per_line(app, scored, client, hr_token):
    import addin.headless as h

    poster = h.flask_poster(client, headers={"Authorization": f"Bearer {hr_token}"})
    h.run_button("score", scored, post=poster)
    cells = _explanation_cells(scored)
    assert cells[("M1001", "PROD_EFF")].hyperlink is not None
    wb = openpyxl.load_workbook(scored)
    ws, _h, _c = _table(wb, "kb_scores")
    refs = [link.ref for link in ws._hyperlinks]
    assert len(refs) == len(set(refs))


def test_department_head_sees_own_department_only(app, scored, client, web_login):
    summary = rows(scored, "kb_summary")
    dept = {col(r, "工号", "Employee"): col(r, "部门", "Department") for r in summary}
    own = dept["M1001"]
    other = next(e for e, d in dept.items() if d != own)
    web_login(client, "head_web", "dept_head", authority={"departments": [own]})
    assert client.get("/sync/2026-10/facts/M1001/PROD_EFF").status_code == 200
    assert client.get(f"/sync/2026-10/facts/{other}/PROD_EFF").status_code == 403
    # the whole-period facts page stays HR/audit only
    assert client.get("/sync/2026-10").status_code == 403


def test_manager_page_explanations_link_to_facts(app, scored, client, web_login):
    web_login(client, "hr_web2", "hr_admin")
    page = client.get("/review/2026-10/people/M1001").get_data(as_text=True)
    assert 'href="/sync/2026-10/facts/M1001/PROD_EFF"' in page


def test_large_workbooks_link_per_employee_in_summary(app, scored, client, hr_token,
                                                      web_login, monkeypatch):
    """Above LINE_LINK_LIMIT linked lines, kb_summary's employee_id cells link to the page of
    all the employee's facts, and kb_scores' old per-line links are removed."""
    import addin.headless as h
    from server.workbook import render

    monkeypatch.setattr(render, "LINE_LINK_LIMIT", 0)
    poster = h.flask_poster(client, headers={"Authorization": f"Bearer {hr_token}"})
    h.run_button("score", scored, post=poster)
    assert all(c.hyperlink is None for c in _explanation_cells(scored).values())
    wb = openpyxl.load_workbook(scored)
    _ws, header, cells = _table(wb, "kb_summary")
    eid = next(i for i, hd in enumerate(header) if "工号" in str(hd) or "Employee" in str(hd))
    links = {r[eid].value: r[eid].hyperlink for r in cells}
    assert urlsplit(links["M1001"].target).path == "/sync/2026-10/facts/M1001"

    web_login(client, "hr_web3", "hr_admin")
    page = client.get("/sync/2026-10/facts/M1001").get_data(as_text=True)
    assert 'id="PROD_EFF"' in page and 'id="QUALITY"' in page and "1976 / 2000" in page

    monkeypatch.setattr(render, "LINE_LINK_LIMIT", 5_000)
    h.run_button("score", scored, post=poster)
    assert _explanation_cells(scored)[("M1001", "PROD_EFF")].hyperlink is not None
    wb = openpyxl.load_workbook(scored)
    _ws, header, cells = _table(wb, "kb_summary")
    assert all(r[eid].hyperlink is None for r in cells)
