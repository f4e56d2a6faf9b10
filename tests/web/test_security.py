"""Security: HTTPS-only credentials, HSTS, token expiry/revocation, brute force, CSRF, logs."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from tests.web.conftest import PASSWORD, csrf_from, sign_in

HTTPS = {"base_url": "https://kpi.example.com"}


@pytest.fixture
def strict_app(app_config):
    """The app as deployed: no plain-HTTP allowance."""
    from server import create_app

    app = create_app({**app_config, "ALLOW_INSECURE_HTTP": False})
    yield app
    from server.db import get_engine

    get_engine(app).dispose()


def test_tokens_over_plain_http_are_refused(strict_app, app_config):
    from server.auth import create_token, create_user
    from server.db import session_scope

    with session_scope(strict_app) as s:
        token = create_token(s, create_user(s, "hr", "hr_admin"))
    client = strict_app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    refused = client.get("/api/v1/whoami", headers=auth)
    assert refused.status_code == 403
    assert "HTTPS" in refused.json["error"]
    assert client.post("/xl/check", data=b"{}", headers=auth).status_code == 403
    ok = client.get("/api/v1/whoami", headers=auth, **HTTPS)
    assert ok.status_code == 200 and ok.json["user"] == "hr"
    assert ok.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Strict-Transport-Security" not in refused.headers


def test_tls_terminating_proxy_is_trusted_only_when_configured(app_config):
    from server import create_app
    from server.auth import create_token, create_user
    from server.db import session_scope

    proxied = {"X-Forwarded-Proto": "https"}
    for trust, expected in ((0, 403), (1, 200)):
        app = create_app({**app_config, "ALLOW_INSECURE_HTTP": False, "TRUST_PROXY": trust})
        with session_scope(app) as s:
            token = create_token(s, create_user(s, f"u{trust}", "auditor"))
        resp = app.test_client().get("/api/v1/whoami", headers={
            "Authorization": f"Bearer {token}", **proxied})
        assert resp.status_code == expected


def test_sign_in_over_plain_http_is_refused_and_cookie_is_secure(strict_app):
    from server.auth import create_user
    from server.db import session_scope

    with session_scope(strict_app) as s:
        create_user(s, "hr", "hr_admin", password=PASSWORD)
    client = strict_app.test_client()
    page = client.get("/login")
    resp = client.post("/login", data={"name": "hr", "password": PASSWORD,
                                       "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert resp.status_code == 400
    assert "HTTPS" in resp.get_data(as_text=True)
    client = strict_app.test_client()
    page = client.get("/login", **HTTPS)
    resp = client.post("/login", data={"name": "hr", "password": PASSWORD,
                                       "csrf_token": csrf_from(page.get_data(as_text=True))},
                       headers={"Referer": "https://kpi.example.com/login"}, **HTTPS)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    cookie = resp.headers.get("Set-Cookie")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_expired_and_revoked_tokens_are_refused(app, client):
    from server.auth import create_token, create_user
    from server.db import session_scope
    from server.models import ApiToken

    with session_scope(app) as s:
        user = create_user(s, "gm", "executive")
        expired = create_token(s, user, "old", days=1)
        revoked = create_token(s, user, "lost", days=30)
        good = create_token(s, user, "ok", days=30)
        rows = {r.name: r for r in s.query(ApiToken)}
        rows["old"].expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        rows["lost"].revoked_at = dt.datetime.now(dt.UTC)
    for token in (expired, revoked, "kpb_made_up"):
        resp = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 401, token
    assert client.get("/api/v1/whoami",
                      headers={"Authorization": f"Bearer {good}"}).status_code == 200
    with pytest.raises(ValueError), session_scope(app) as s:
        create_token(s, s.get(type(user), user.id), "too long", days=400)


def test_web_token_creation_shows_once_and_stores_hash(app, client, world):
    from sqlalchemy import select

    from server.db import session_scope
    from server.models import ApiToken

    assert sign_in(client, "gm").status_code == 302
    page = client.get("/account")
    resp = client.post("/account/tokens", data={
        "label": "办公室 Excel", "days": "30", "password": PASSWORD, "scopes": ["read"],
        "csrf_token": csrf_from(page.get_data(as_text=True))})
    html = resp.get_data(as_text=True)
    import re

    token = re.search(r'id="new-token">(kpb_[^<]+)<', html).group(1)
    assert resp.headers["Cache-Control"] == "no-store"
    assert token not in client.get("/account").get_data(as_text=True)  # shown once
    with session_scope(app) as s:
        row = s.scalar(select(ApiToken).where(ApiToken.name == "办公室 Excel"))
        assert token not in (row.token_hash, row.prefix) and row.expires_at is not None
    who = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})
    assert who.json["user"] == "gm"


def test_csrf_refuses_a_forged_form(app, client, world):
    assert sign_in(client, "hr").status_code == 302
    forged = client.post("/periods/2025-03/transition", data={"action": "close"})
    assert forged.status_code == 400
    assert "CSRF" in forged.get_data(as_text=True)
    wrong = client.post("/periods/2025-03/transition",
                        data={"action": "close", "csrf_token": "forged"})
    assert wrong.status_code == 400
    from server.db import session_scope
    from server.models import Period

    with session_scope(app) as s:
        assert s.query(Period).one().state == "published"


def test_sign_out_ends_the_session_on_the_server(app, world):
    client = app.test_client()
    assert sign_in(client, "auditor").status_code == 302
    cookie = client.get_cookie("kpibook_session").value
    page = client.get("/periods")
    assert page.status_code == 200
    client.post("/logout", data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    replay = app.test_client()
    replay.set_cookie("kpibook_session", cookie)
    assert replay.get("/periods").status_code == 302  # the old cookie no longer signs in


def test_no_secrets_in_logs_or_error_pages(app, client, world, caplog):
    from server.auth import create_token
    from server.db import session_scope
    from server.models import User

    caplog.set_level(logging.DEBUG)
    with session_scope(app) as s:
        token = create_token(s, s.get(User, world.users["dept_head"]), "log test")
    sign_in(client, "head", "a wrong password 99")
    resp = sign_in(client, "head")
    cookie = client.get_cookie("kpibook_session").value
    auth = {"Authorization": f"Bearer {token}"}
    pages = [client.get("/admin/users"), client.get("/periods/2025-03/results/M1002"),
             client.post("/xl/pull", data=b"not json", headers=auth),
             client.get("/api/v1/whoami", headers={"Authorization": "Bearer kpb_guess"}),
             client.get("/no/such/page")]
    assert resp.status_code == 302
    assert [p.status_code for p in pages] == [403, 403, 403, 401, 404]
    texts = [caplog.text] + [p.get_data(as_text=True) for p in pages]
    for secret in (token, PASSWORD, "a wrong password 99", cookie, "kpb_guess"):
        for text in texts:
            assert secret not in text
    assert "Traceback" not in "".join(texts)


def test_server_error_page_shows_only_the_request_id(app, client, world):
    @app.get("/boom")
    def boom():  # noqa: ANN202 - a route added only for this test
        raise RuntimeError(f"secret {PASSWORD}")

    resp = client.get("/boom", headers={"X-Request-ID": "req-123"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 500 and "req-123" in body and PASSWORD not in body
