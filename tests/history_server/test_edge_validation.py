"""Bad numbers and text are refused at the edge with a located 4xx, through the real app and
database (SQLite and PostgreSQL), before anything reaches git or the database, so
`kpibook verify` stays clean: non-finite and out-of-range points (web form and workbook), a
weight of 1e308 in the rules table, a NUL byte in a reason, a roster name, a sign-in name and
a user's display name (PostgreSQL refuses NUL: git used to get the commit, the database not).
"""

from __future__ import annotations

import openpyxl
import pytest
from sqlalchemy import func, select

from server.db import session_scope
from server.models import Adjustment, Employee, User
from server.services.history import history_for
from server.verify import verify

from .conftest import keyed_cells, set_adjustment

PLACEHOLDER = "PLACEHOLDER-TEXT"


@pytest.fixture
def scored(app, book, press, hr_token):
    for button in ("new_period?period=2026-10", "pull", "score"):
        press(button, book, hr_token)
    return book


def _clean(app) -> None:
    found, _figures = verify(app)
    assert found == [], [str(d) for d in found]


def _adjustments(app) -> int:
    with session_scope(app) as s:
        return s.scalar(select(func.count()).select_from(Adjustment))


def _poster_with(client, token: str, text: str):
    """The headless client's poster, with PLACEHOLDER replaced by `text` in the payload:
    openpyxl cannot write a NUL into a cell, Excel's clients send whatever the cell holds."""
    from addin.headless import flask_poster

    post = flask_poster(client, headers={"Authorization": f"Bearer {token}"})

    def swap(value):
        if isinstance(value, str):
            return value.replace(PLACEHOLDER, text)
        if isinstance(value, list):
            return [swap(v) for v in value]
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        return value

    return lambda button, payload: post(button, swap(payload))


# --- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("points", ["Infinity", "sNaN", "1e999999", "-inf", "NaN", "12345678"])
def test_web_adjustment_refuses_points_that_are_no_amount(app, scored, web_login, points):
    from tests.web.conftest import csrf_from

    head = history_for(app).head()
    hr = app.test_client()
    web_login(hr, "hr")
    page = hr.get("/periods/2026-10/results/M1005").get_data(as_text=True)
    r = hr.post("/periods/2026-10/results/M1005/adjust", data={
        "indicator": "PROD_EFF", "points": points, "reason": "理由",
        "csrf_token": csrf_from(page)})
    assert r.status_code == 400, (r.status_code, r.get_data(as_text=True)[:500])
    assert "分数必须是数字" in r.get_data(as_text=True)
    assert history_for(app).head() == head and _adjustments(app) == 0
    _clean(app)


def test_submit_refuses_huge_points_text_cell_located(app, scored, press, make_token):
    from addin.headless import ServerError

    wang = make_token("wang", "executive", display_name="王总")
    head = history_for(app).head()
    set_adjustment(scored, "M1001", "PROD_EFF", "1e999999999", "紧急订单")  # a text cell
    with pytest.raises(ServerError) as exc:
        press("submit", scored, wang)
    assert 400 <= exc.value.status < 500, exc.value
    # located: sheet, row, column, cell, why
    assert "工作表“调整”" in exc.value.message and "单元格 G" in exc.value.message, \
        exc.value.message
    assert "超出范围" in exc.value.message, exc.value.message
    assert history_for(app).head() == head and _adjustments(app) == 0
    _clean(app)


def test_rules_weight_1e308_is_a_located_problem(app, book, press, hr_token):
    from addin.headless import ServerError
    from server.workbook.schema import RULES

    press("new_period?period=2026-10", book, hr_token)
    press("pull", book, hr_token)
    wb = openpyxl.load_workbook(book)
    ws, rows = keyed_cells(wb, "kb_rules", RULES)
    weighted = next(r for r in rows if r.get("weight") is not None and r["weight"].value)
    weighted["weight"].value = 1e308
    wb.save(book)
    with pytest.raises(ServerError) as exc:
        press("score", book, hr_token)
    assert 400 <= exc.value.status < 500, exc.value
    message = exc.value.message
    assert ws.title in message and f"{weighted['weight'].row}" in message, message
    assert "超出范围" in message, message
    _clean(app)


# --- text: NUL bytes ---------------------------------------------------------------------------


def test_submit_refuses_nul_in_reason_before_git(app, scored, client, make_token):
    from addin.headless import ServerError, run_button

    wang = make_token("wang", "executive", display_name="王总")
    head = history_for(app).head()
    set_adjustment(scored, "M1001", "PROD_EFF", 2, f"紧急{PLACEHOLDER}订单")
    with pytest.raises(ServerError) as exc:
        run_button("submit", scored, post=_poster_with(client, wang, "\x00"))
    assert 400 <= exc.value.status < 500, exc.value
    assert "工作表“调整”" in exc.value.message and "单元格 H" in exc.value.message, \
        exc.value.message
    assert "U+0000" in exc.value.message, exc.value.message
    assert history_for(app).head() == head and _adjustments(app) == 0
    _clean(app)


def test_web_adjustment_refuses_nul_in_reason(app, scored, web_login):
    from tests.web.conftest import csrf_from

    head = history_for(app).head()
    hr = app.test_client()
    web_login(hr, "hr")
    page = hr.get("/periods/2026-10/results/M1005").get_data(as_text=True)
    r = hr.post("/periods/2026-10/results/M1005/adjust", data={
        "indicator": "PROD_EFF", "points": "1", "reason": "网页\x00调整",
        "csrf_token": csrf_from(page)})
    assert r.status_code == 400, (r.status_code, r.get_data(as_text=True)[:500])
    assert "“reason”" in r.get_data(as_text=True) and "U+0000" in r.get_data(as_text=True)
    assert history_for(app).head() == head and _adjustments(app) == 0
    _clean(app)


def test_roster_name_with_nul_is_a_located_problem(app, book, client, press, hr_token):
    from addin.headless import ServerError, run_button
    from server.workbook.schema import ROSTER

    press("new_period?period=2026-10", book, hr_token)
    wb = openpyxl.load_workbook(book)
    ws, rows = keyed_cells(wb, "kb_roster", ROSTER)
    rows[0]["name"].value = f"张{PLACEHOLDER}三"
    wb.save(book)
    with pytest.raises(ServerError) as exc:
        run_button("score", book, post=_poster_with(client, hr_token, "\x00"))
    assert 400 <= exc.value.status < 500, exc.value
    assert ws.title in exc.value.message and "U+0000" in exc.value.message, exc.value.message
    with session_scope(app) as s:
        assert not [e for e in s.scalars(select(Employee)) if "\x00" in e.name]
    _clean(app)


def test_sign_in_name_with_nul_is_refused(app):
    from tests.web.conftest import csrf_from

    c = app.test_client()
    page = c.get("/login").get_data(as_text=True)
    r = c.post("/login", data={"name": "hr\x00", "password": "x" * 12,
                               "csrf_token": csrf_from(page)})
    assert r.status_code == 400, (r.status_code, r.get_data(as_text=True)[:500])
    assert "U+0000" in r.get_data(as_text=True)


def test_user_display_name_with_nul_is_refused(app, web_login):
    from tests.web.conftest import csrf_from

    admin = app.test_client()
    web_login(admin, "root", "hr_admin")
    page = admin.get("/admin/users").get_data(as_text=True)
    r = admin.post("/admin/users", data={
        "name": "newbie", "display_name": "新\x00人", "role": "executive",
        "csrf_token": csrf_from(page)})
    assert r.status_code == 400, (r.status_code, r.get_data(as_text=True)[:500])
    with session_scope(app) as s:
        assert s.scalar(select(User).where(User.name == "newbie")) is None
    _clean(app)


@pytest.mark.parametrize("field", [
    {"name": "n" * 101},  # User.name is String(100)
    {"display_name": "长" * 201},
    {"display_name": "两\n行"},
    {"employee_id": "E" * 51},
    {"max_up": "NaN"},
    {"max_up": "sNaN"},
    {"max_down": "1e999999"},
])
def test_user_form_refuses_what_does_not_fit(app, web_login, field):
    from tests.web.conftest import csrf_from

    admin = app.test_client()
    web_login(admin, "root", "hr_admin")
    page = admin.get("/admin/users").get_data(as_text=True)
    data = {"name": "newbie", "display_name": "新人", "role": "executive", **field,
            "csrf_token": csrf_from(page)}
    r = admin.post("/admin/users", data=data)
    assert r.status_code == 400, (r.status_code, r.get_data(as_text=True)[:500])
    with session_scope(app) as s:
        assert s.scalar(select(func.count()).select_from(User)) == 1  # root only


def test_json_api_refuses_nul_naming_the_field(app, client):
    r = client.post("/api/v1/facts", json={"source": "crm", "period": "2026-10",
                                           "records": [{"staff": "M1001", "name": "a\x00b"}]},
                    headers={"Authorization": "Bearer whatever"}, base_url="https://localhost")
    assert r.status_code == 400, (r.status_code, r.get_data(as_text=True)[:500])
    body = r.get_json()
    assert "records[0].name" in body["error"] and "U+0000" in body["error"], body


def test_bad_field_name_is_refused_without_echoing_it(app, client):
    r = client.post("/api/v1/facts", json={"source": "crm", "bad\x00key": 1},
                    base_url="https://localhost")
    assert r.status_code == 400 and "\x00" not in r.get_data(as_text=True)
    r = client.get("/healthz?x\x01y=1")
    assert r.status_code == 400 and "\x01" not in r.get_data(as_text=True)



@pytest.mark.parametrize(("lang", "says"), [("zh", "最多加分必须在 0 到 100 之间。"),
                                           ("en", "Max up: between 0 and 100.")])
def test_user_form_names_the_limit_in_the_page_language(app, web_login, lang, says):
    """The catalogue's two-line error (admin.points_range), its field worded in each line's
    language; the page shows the line of its own."""
    from tests.web.conftest import csrf_from

    admin = app.test_client()
    web_login(admin, "root", "hr_admin")
    page = admin.get(f"/admin/users?lang={lang}").get_data(as_text=True)
    r = admin.post("/admin/users", data={
        "name": "newbie", "display_name": "新人", "role": "executive", "max_up": "101",
        "csrf_token": csrf_from(page)})
    assert r.status_code == 400, (r.status_code, r.get_data(as_text=True)[:500])
    assert says in r.get_data(as_text=True)
    with session_scope(app) as s:
        assert s.scalar(select(func.count()).select_from(User)) == 1  # root only
