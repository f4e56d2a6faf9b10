"""The review pages through the Flask test client: what each role sees, escaping, 403s."""

from __future__ import annotations

import re

import pytest

from tests.review.conftest import OTHER_REASON
from tests.web.conftest import OTHER, OTHER_DEPT, OTHER_NAME, OWN, PERIOD, csrf_from


@pytest.fixture
def as_role(app, web_login):
    def make(name: str):
        client = app.test_client()
        web_login(client, name)
        return client

    return make


def _body(resp) -> str:
    return resp.get_data(as_text=True)


def test_timeline_shows_who_when_what_why(seeded, as_role):
    hr = as_role("hr")
    resp = hr.get(f"/review/{PERIOD}/timeline")
    assert resp.status_code == 200
    html = _body(resp)
    for sha in seeded.commits.values():
        assert sha[:10] in html
    assert "总经理 周建国" in html and "大客户续约" in html
    assert OTHER_REASON in html  # HR reads every department
    # the <script> reason is text, never markup
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;" in html


def test_timeline_filters_and_paging(seeded, as_role):
    hr = as_role("hr")
    html = _body(hr.get(f"/review/{PERIOD}/timeline?employee={OTHER}"))
    assert seeded.commits["other"][:10] in html and seeded.commits["gm"][:10] not in html
    html = _body(hr.get(f"/review/{PERIOD}/timeline?indicator=QUALITY"))
    assert seeded.commits["script"][:10] in html and seeded.commits["gm"][:10] not in html
    html = _body(hr.get(f"/review/{PERIOD}/timeline?kind=rescore"))
    assert seeded.commits["rescore"][:10] in html and seeded.commits["gm"][:10] not in html
    from server.blueprints import review_data

    old = review_data.PAGE_SIZE
    review_data.PAGE_SIZE = 3
    try:
        first = _body(hr.get(f"/review/{PERIOD}/timeline"))
        second = _body(hr.get(f"/review/{PERIOD}/timeline?page=2"))
    finally:
        review_data.PAGE_SIZE = old
    shown1 = set(re.findall(r'data-commit="([0-9a-f]{40})"', first))
    shown2 = set(re.findall(r'data-commit="([0-9a-f]{40})"', second))
    assert len(shown1) == 3 and len(shown2) == 3 and not shown1 & shown2
    assert 'id="older"' in first


def test_dept_head_sees_only_their_department(seeded, as_role):
    head = as_role("head")
    html = _body(head.get(f"/review/{PERIOD}/timeline"))
    assert seeded.commits["gm"][:10] in html and seeded.commits["script"][:10] in html
    assert seeded.commits["other"][:10] not in html  # only the other department's cell
    assert seeded.commits["both"][:10] in html  # shown, with OWN's cell only
    assert seeded.commits["baseline"][:10] in html  # period-level versions stay visible
    for secret in (OTHER, OTHER_NAME, OTHER_REASON):
        assert secret not in html
    # asking for the other department or person: 403 and no data
    for url in (f"/review/{PERIOD}/timeline?department={OTHER_DEPT}",
                f"/review/{PERIOD}/timeline?employee={OTHER}",
                f"/review/{PERIOD}/cell/{OTHER}?indicator=PROD_EFF",
                f"/review/{PERIOD}/people/{OTHER}",
                f"/review/{PERIOD}/people/{OTHER}/print",
                f"/review/{PERIOD}/people/{OTHER}/trend.svg",
                f"/review/{PERIOD}/chart.svg?department={OTHER_DEPT}",
                f"/review/{PERIOD}/submission?commit={seeded.commits['other']}",
                f"/review/{PERIOD}/export/history?format=csv&department={OTHER_DEPT}",
                f"/review/{PERIOD}/export/history?format=xlsx&employee={OTHER}"):
        resp = head.get(url)
        assert resp.status_code == 403, url
        body = _body(resp)
        for secret in (OTHER_NAME, OTHER_REASON, "94.5"):
            assert secret not in body, (url, secret)


def test_dept_head_diff_and_exports_hold_no_other_department(seeded, as_role):
    head = as_role("head")
    c = seeded.commits
    for url in (f"/review/{PERIOD}/diff?a={c['baseline']}&b={c['own2']}",
                f"/review/{PERIOD}/export/diff?format=csv&a={c['baseline']}&b={c['own2']}",
                f"/review/{PERIOD}/export/history", f"/review/{PERIOD}"):
        resp = head.get(url)
        assert resp.status_code == 200, url
        body = _body(resp)
        for secret in (OTHER, OTHER_NAME, OTHER_REASON):
            assert secret not in body, (url, secret)
    for url in (f"/review/{PERIOD}/export/diff?format=xlsx&a={c['baseline']}&b={c['own2']}",
                f"/review/{PERIOD}/export/history?format=xlsx"):
        texts = _xlsx_texts(head.get(url).data)
        assert OWN in texts
        assert not [x for x in texts if OTHER in x or OTHER_NAME in x or OTHER_REASON in x]
    # the whole-period chart only counts what the head may see
    svg = _body(head.get(f"/review/{PERIOD}/chart.svg"))
    assert svg.startswith("<?xml") and "<script" not in svg


def _xlsx_texts(data: bytes) -> list[str]:
    import io

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data))
    return [str(cell.value) for ws in wb for row in ws.iter_rows() for cell in row
            if cell.value is not None]


def test_diff_table_totals_and_ranks(seeded, as_role):
    hr = as_role("hr")
    c = seeded.commits
    html = _body(hr.get(f"/review/{PERIOD}/diff?a={c['baseline']}&b={c['own2']}"))
    table = html[html.index('id="diff-cells"'):html.index('id="diff-totals"')]
    assert table.count("<tr class=") == 4  # OWN PROD_EFF, OWN QUALITY, OTHER x2
    assert "+3.00" in table and "+0.50" in table and "再次核对后上调" in table
    totals = html[html.index('id="diff-totals"'):]
    assert "▲ 1" in totals and "▼ 1" in totals  # OTHER moved up, OWN down
    assert "-8.00" in totals  # 90 -> 82
    # default: the last change only
    html = _body(hr.get(f"/review/{PERIOD}/diff"))
    assert c["own2"][:10] in html and "=HYPERLINK" in html


def test_cell_history_blame(seeded, as_role):
    hr = as_role("hr")
    html = _body(hr.get(f"/review/{PERIOD}/cell/{OWN}?indicator=PROD_EFF"))
    values = re.findall(r'class="rv-blame-value[^"]*">([^<]+)<', html)
    assert values == ["+3.00", "+2.00"]  # newest first
    assert "再次核对后上调" in html and "大客户续约" in html and "总经理 周建国" in html


def test_exports_are_safe_for_excel(seeded, as_role):
    hr = as_role("hr")
    c = seeded.commits
    resp = hr.get(f"/review/{PERIOD}/export/history")
    assert resp.data.startswith("\ufeff".encode())
    text = resp.data.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text
    assert "张伟" in text and "大客户续约" in text
    url = f"/review/{PERIOD}/export/diff?format=xlsx&a={c['rescore']}&b={c['own2']}"
    texts = _xlsx_texts(hr.get(url).data)
    assert '=HYPERLINK("http://x")' in texts  # kept verbatim ...
    import io

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(hr.get(url).data))
    cells = [cell for ws in wb for row in ws.iter_rows() for cell in row
             if isinstance(cell.value, str) and cell.value.startswith("=")]
    assert cells and all(cell.data_type == "s" for cell in cells)  # ... as text, not formula


def test_revert_needs_reason_and_csrf_then_records_a_commit(app, seeded, as_role):
    from server.services.history import history_for

    gm = as_role("gm")
    c = seeded.commits
    page = _body(gm.get(f"/review/{PERIOD}/submission?commit={c['own2']}"))
    token = csrf_from(page)
    assert 'id="revert"' in page
    resp = gm.post(f"/review/{PERIOD}/revert", data={"commit": c["own2"], "reason": "x"})
    assert resp.status_code == 400  # no CSRF token
    resp = gm.post(f"/review/{PERIOD}/revert", data={"commit": c["own2"], "reason": " ",
                                                     "csrf_token": token})
    assert resp.status_code == 400
    assert history_for(app).head() == c["own2"]
    resp = gm.post(f"/review/{PERIOD}/revert", data={"commit": c["own2"], "reason": "公式不是原因",
                                                     "csrf_token": token})
    assert resp.status_code == 302
    head = history_for(app).head()
    info = history_for(app).commit_info(head)
    assert info.kind == "revert" and info.reverts == c["own2"]
    assert [(x.employee_id, x.indicator, x.new) for x in info.cells] == [(OWN, "QUALITY", -1)]
    html = _body(gm.get(resp.headers["Location"]))
    assert "公式不是原因" in html


def test_head_may_not_revert_a_commit_touching_another_department(seeded, as_role):
    head = as_role("head")
    page = _body(head.get(f"/review/{PERIOD}/submission?commit={seeded.commits['both']}"))
    assert 'id="revert"' not in page and OTHER_REASON not in page
    resp = head.post(f"/review/{PERIOD}/revert", data={
        "commit": seeded.commits["both"], "reason": "试图撤销", "csrf_token": csrf_from(page)})
    assert resp.status_code == 403 and OTHER_REASON not in _body(resp)


def test_approve_and_send_back_are_commits(app, seeded, as_role):
    from server.services.history import history_for

    c = seeded.commits
    gm = as_role("gm")
    # the executive's own submission: no approve button, and the form is refused
    page = _body(gm.get(f"/review/{PERIOD}/submission?commit={c['gm']}"))
    assert 'id="approve"' not in page
    resp = gm.post(f"/review/{PERIOD}/decide", data={
        "commit": c["gm"], "decision": "approve", "reason": "同意", "csrf_token": csrf_from(page)})
    assert resp.status_code == 403 and "不能批准自己提交的调整" in _body(resp)
    # the department head's submission: approved once, a second approval records nothing
    page = _body(gm.get(f"/review/{PERIOD}/submission?commit={c['script']}"))
    status_before = history_for(app).status(PERIOD).get("status")
    resp = gm.post(f"/review/{PERIOD}/decide", data={
        "commit": c["script"], "decision": "approve", "reason": "同意",
        "csrf_token": csrf_from(page)})
    assert resp.status_code == 302
    h = history_for(app)
    approved_at = h.head()
    info = h.commit_info(approved_at)
    assert info.kind == "approval"
    assert info.submission_id.startswith(f"review-approve-{c['script'][:12]}")
    assert h.status(PERIOD).get("status") == status_before  # the period's own state untouched
    html = _body(gm.get(f"/review/{PERIOD}/submission?commit={c['script']}"))
    assert 'id="review-state">已批准' in html and "同意" in html
    for _again in range(3):
        resp = gm.post(f"/review/{PERIOD}/decide", data={
            "commit": c["script"], "decision": "approve", "reason": "同意",
            "csrf_token": csrf_from(page)})
        assert resp.status_code == 302
    assert h.head() == approved_at, "approving twice wrote a second history commit"
    assert "未重复记录" in _body(gm.get(f"/review/{PERIOD}/submission?commit={c['script']}"))
    hr = as_role("hr")
    page = _body(hr.get(f"/review/{PERIOD}/submission?commit={c['own2']}"))
    assert 'id="approve"' not in page and 'id="send-back"' in page  # HR sends back only
    resp = hr.post(f"/review/{PERIOD}/decide", data={
        "commit": c["own2"], "decision": "return", "reason": "", "csrf_token": csrf_from(page)})
    assert resp.status_code == 400
    resp = hr.post(f"/review/{PERIOD}/decide", data={
        "commit": c["own2"], "decision": "approve", "reason": "x", "csrf_token": csrf_from(page)})
    assert resp.status_code == 403
    resp = hr.post(f"/review/{PERIOD}/decide", data={
        "commit": c["own2"], "decision": "return", "reason": "<script>请补充证据</script>",
        "csrf_token": csrf_from(page)})
    assert resp.status_code == 302
    html = _body(hr.get(f"/review/{PERIOD}/timeline"))
    assert "已退回" in html and "已批准" in html
    dash = _body(hr.get(f"/review/{PERIOD}"))
    assert 'id="pending-approvers"' in dash


def test_manager_sees_own_page_only_once_published(app, seeded, as_role):
    emp = as_role(OWN)
    assert emp.get(f"/review/{PERIOD}/people/{OWN}").status_code == 404  # in review
    assert emp.get(f"/review/{PERIOD}/people/{OTHER}").status_code == 403
    assert emp.get(f"/review/{PERIOD}/timeline").status_code == 403


def test_manager_page_published(published, as_role):
    emp = as_role(OWN)
    resp = emp.get(f"/review/{PERIOD}/people/{OWN}")
    assert resp.status_code == 200
    html = _body(resp)
    assert "大客户续约" in html and "<svg" in html and "<script>alert" not in html
    for secret in (OTHER_NAME, OTHER_REASON):
        assert secret not in html
    assert emp.get(f"/review/{PERIOD}/people/{OWN}/print").status_code == 200
    assert emp.get(f"/review/{PERIOD}/cell/{OWN}?indicator=QUALITY").status_code == 200
    assert emp.get(f"/review/{PERIOD}/people/{OTHER}").status_code == 403
    assert emp.get(f"/review/{PERIOD}/diff").status_code == 403
    assert emp.get(f"/review/{PERIOD}/export/history").status_code == 403
    mine = _body(emp.get("/review/me"))
    assert PERIOD in mine


def test_pages_without_history(app, as_role):
    from tests.web.conftest import make_world

    make_world(app)
    hr = as_role("hr")
    for url in ("/review", f"/review/{PERIOD}", f"/review/{PERIOD}/timeline",
                f"/review/{PERIOD}/diff", f"/review/{PERIOD}/cell/{OWN}",
                f"/review/{PERIOD}/export/history", f"/review/{PERIOD}/export/diff?format=xlsx",
                f"/review/{PERIOD}/people/{OWN}"):
        assert hr.get(url).status_code == 200, url
    assert hr.get(f"/review/{PERIOD}/diff?a=zz").status_code == 400
    assert hr.get(f"/review/{PERIOD}/submission?commit=" + "0" * 40).status_code == 404


def test_chart_text_is_escaped():
    from server import charts

    svg = str(charts.histogram([1, 2, 3], title='<script>x</script>"'))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    svg = str(charts.line([("<b>", 1), ("2025-02", None), ("x", 3)], title="t"))
    assert "<b>" not in svg and "&lt;b&gt;" in svg
    svg = str(charts.bars([("<i>", -1), ("ok", 2)]))
    assert "<i>" not in svg
