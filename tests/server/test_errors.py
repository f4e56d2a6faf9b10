"""Errors: 422 located workbook problems that change nothing, 400/401/403/409/413/500."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from server.db import session_scope
from server.models import Adjustment, Period, ScoreRun, SourceFact

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "workbook_templates" / "manufacturing.xlsx"
needs_template = pytest.mark.skipif(not TEMPLATE.is_file(), reason="templates not built yet")


def counts(app) -> dict[str, int]:
    with session_scope(app) as s:
        return {m.__name__: s.scalar(select(func.count()).select_from(m))
                for m in (Period, SourceFact, ScoreRun, Adjustment)}


def sheet_with(wb, table):
    for ws in wb.worksheets:
        if table in ws.tables:
            return ws, ws.tables[table]
    raise KeyError(table)


def break_missing_table(wb):
    ws, _ = sheet_with(wb, "kb_rules")
    del ws.tables["kb_rules"]
    return ["kb_rules"]


def break_renamed_column(wb):
    ws, t = sheet_with(wb, "kb_roster")
    first = ws[t.ref.split(":")[0]]
    for cell in ws[first.row]:
        if cell.value and "姓名" in str(cell.value):
            cell.value = "员工名字"
    return [ws.title, "姓名"]


def break_duplicate_ids(wb):
    ws, t = sheet_with(wb, "kb_roster")
    top = ws[t.ref.split(":")[0]]
    ws.cell(top.row + 2, top.column).value = ws.cell(top.row + 1, top.column).value
    return [ws.title, str(top.row + 2)]


def break_text_in_number(wb):
    ws, t = sheet_with(wb, "kb_data")
    top = ws[t.ref.split(":")[0]]
    header = {str(c.value): c.column for c in ws[top.row] if c.value}
    value_col = next(col for cap, col in header.items() if "数值" in cap or "Value" in cap)
    code_col = next(col for cap, col in header.items() if "指标" in cap)
    for r in range(top.row + 1, ws.max_row + 1):
        if ws.cell(r, code_col).value == "PROD_EFF":
            ws.cell(r, value_col).value = "abc"
            return [ws.title, str(r), "abc"]
    raise AssertionError("no PROD_EFF row")


@needs_template
@pytest.mark.parametrize("breaker", [break_missing_table, break_renamed_column,
                                     break_duplicate_ids, break_text_in_number])
def test_broken_workbook_gives_located_422_and_changes_nothing(
        app, client, hr_token, tmp_path, breaker):
    from addin.headless import ServerError, flask_poster, run_button

    path = tmp_path / "kpi.xlsx"
    shutil.copy(TEMPLATE, path)
    post = flask_poster(client, headers={"Authorization": f"Bearer {hr_token}"})
    run_button("new_period?period=2026-10", path, post=post)
    wb = openpyxl.load_workbook(path)
    expected = breaker(wb)
    wb.save(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    before = counts(app)
    for button in ("score", "submit"):
        with pytest.raises(ServerError) as exc:
            run_button(button, path, post=post)
        assert exc.value.status == 422, exc.value
        message = str(exc.value)
        for word in expected:
            assert word in message, (word, message)
        assert counts(app) == before
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    # the raw HTTP answer is text/plain
    from addin.headless import workbook_to_payload

    resp = client.post("/xl/score", json=workbook_to_payload(path),
                       headers={"Authorization": f"Bearer {hr_token}"})
    assert resp.status_code == 422
    assert resp.content_type == "text/plain; charset=utf-8"
    assert "Traceback" not in resp.get_data(as_text=True)
    # check reports the same problems as an alert, without changing anything
    check = client.post("/xl/check", json=workbook_to_payload(path),
                        headers={"Authorization": f"Bearer {hr_token}"})
    assert check.status_code == 200
    funcs = [a["func"] for a in check.json["actions"]]
    assert "alert" in funcs and "setValues" not in funcs
    assert counts(app) == before


def test_no_token_is_401_plain_text(client):
    resp = client.post("/xl/score", data=b"{}", content_type="application/json")
    assert resp.status_code == 401
    assert resp.content_type == "text/plain; charset=utf-8"
    assert "token" in resp.get_data(as_text=True)


def test_bad_token_is_401(client):
    resp = client.post("/xl/score", json={}, headers={"Authorization": "Bearer nope"})
    assert resp.status_code == 401
    resp = client.get("/api/v1/whoami", headers={"Authorization": "Bearer nope"})
    assert resp.status_code == 401 and resp.json["status"] == 401


def test_bad_payload_is_400(client, hr_token):
    auth = {"Authorization": f"Bearer {hr_token}"}
    resp = client.post("/xl/score", data=b"not json", headers=auth,
                       content_type="application/json")
    assert resp.status_code == 400
    assert resp.content_type == "text/plain; charset=utf-8"
    resp = client.post("/xl/score", json={"client": "VBA"}, headers=auth)
    assert resp.status_code == 400


def test_oversized_body_is_413_plain_text(app_config):
    from server import create_app

    app = create_app({**app_config, "MAX_CONTENT_LENGTH": 1024})
    resp = app.test_client().post("/xl/score", data=b"x" * 4096,
                                  content_type="application/json",
                                  headers={"Authorization": "Bearer whatever"})
    assert resp.status_code == 413
    assert resp.content_type == "text/plain; charset=utf-8"
    assert "1 KB" in resp.get_data(as_text=True)


def test_500_is_logged_with_request_id_without_stack_trace(app, client, hr_token, caplog,
                                                          monkeypatch):
    from server.services import sheet_copies

    def boom(*_a, **_k):
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(sheet_copies, "parse_book", boom)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    resp = client.post("/xl/score", json={}, headers={"Authorization": f"Bearer {hr_token}",
                                                      "X-Request-ID": "req-123"})
    assert resp.status_code == 500
    body = resp.get_data(as_text=True)
    assert resp.content_type == "text/plain; charset=utf-8"
    assert "req-123" in body
    assert "secret" not in body and "Traceback" not in body
    assert any("req-123" in r.getMessage() for r in caplog.records)


def test_role_not_allowed_is_403(client, make_token):
    token = make_token("emp", "employee")
    resp = client.post("/xl/score", json=json.loads(_minimal_payload()),
                       headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403
    assert resp.content_type == "text/plain; charset=utf-8"


def test_unknown_period_is_409(client, hr_token):
    resp = client.post("/xl/score", json=json.loads(_minimal_payload()),
                       headers={"Authorization": f"Bearer {hr_token}"})
    assert resp.status_code == 409
    assert "New period" in resp.get_data(as_text=True) or "新建期间" in resp.get_data(
        as_text=True)


@needs_template
def test_closed_period_is_409(app, client, hr_token, tmp_path):
    from addin.headless import ServerError, flask_poster, run_button

    path = tmp_path / "kpi.xlsx"
    shutil.copy(TEMPLATE, path)
    post = flask_poster(client, headers={"Authorization": f"Bearer {hr_token}"})
    run_button("new_period?period=2026-10", path, post=post)
    with session_scope(app) as s:
        s.scalar(select(Period)).state = "closed"
    for button in ("pull", "score", "submit", "new_period?period=2026-10"):
        with pytest.raises(ServerError) as exc:
            run_button(button, path, post=post)
        assert exc.value.status == 409, button


def _minimal_payload() -> str:
    meta = [["键 / Key", "值 / Value"], ["period", "2099-01"]]
    return json.dumps({
        "client": "VBA", "version": "0.37.8",
        "book": {"name": "x.xlsx", "active_sheet_index": 0, "selection": "A1"},
        "names": [],
        "sheets": [{"name": "_kpibook", "values": meta, "pictures": [], "tables": [{
            "name": "kb_meta", "range_address": "$A$1:$B$2",
            "header_row_range_address": "$A$1:$B$1", "data_body_range_address": "$A$2:$B$2",
            "total_row_range_address": None, "show_headers": True, "show_totals": False,
            "table_style": None, "show_autofilter": True}]}],
    })


def test_database_unreachable_is_503_with_retry_after(app_config):
    from server import create_app

    # A real, closed port: every query fails as it does while PostgreSQL restarts.
    config = dict(app_config, DATABASE_URL="postgresql+psycopg://kb:kb@127.0.0.1:1/kb")
    down = create_app(config)
    down.config["PROPAGATE_EXCEPTIONS"] = False
    resp = down.test_client().post("/xl/score", json={},
                                   headers={"Authorization": "Bearer kpb_whatever"})
    assert resp.status_code == 503, resp.get_data(as_text=True)
    assert resp.headers["Retry-After"] == "10"
    body = resp.get_data(as_text=True)
    assert "try again" in body and "重试" in body
    assert "Traceback" not in body and "127.0.0.1" not in body


def test_disk_full_is_507_saying_nothing_was_saved(app, client, hr_token, monkeypatch):
    import errno

    from server.services import sheet_copies

    def disk_full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sheet_copies, "parse_book", disk_full)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    resp = client.post("/xl/score", json={}, headers={"Authorization": f"Bearer {hr_token}"})
    assert resp.status_code == 507
    assert "nothing was saved" in resp.get_data(as_text=True)
