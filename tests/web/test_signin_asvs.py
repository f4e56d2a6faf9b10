"""Sign-in at OWASP ASVS level 2 (issue 14 item 5), through the app's real routes: throttling
per account at an address, per address, per account and overall; the same answers for known and
unknown names; passwords; the second factor; sessions; token scopes, re-authentication and
revocation; CSP, no-store; OAuth2 tokens on the push API and secret rotation.

Parallel guessing against gunicorn x4 on PostgreSQL, the Server header and the cookies over
HTTPS and plain HTTP behind a proxy: tests/production/test_signin_server.py."""

from __future__ import annotations

import base64
import datetime as dt
import re

import pyotp
import pytest
from sqlalchemy import select, update

from server.db import get_engine, session_scope
from server.models import ApiToken, SignInThrottle, User, WebSession
from tests.web.conftest import PASSWORD, TOTP_SECRETS, csrf_from, sign_in, totp_code

HTTPS = {"base_url": "https://kpi.example.com"}


def _from(ip: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": ip}}


def _answer(resp) -> str:
    """The page without the parts that differ per request (CSRF token, the name typed)."""
    html = resp.get_data(as_text=True)
    html = re.sub(r'name="csrf_token" value="[^"]+"', "", html)
    html = re.sub(r'id="name" name="name" value="[^"]*"', "", html)
    return re.sub(r"\d+ (秒|second)", r"N \1", html)  # seconds left depend on the clock


def _let_time_pass(app) -> None:
    """Every delay is over (instead of sleeping): not_before moves into the past."""
    with get_engine(app).begin() as conn:
        conn.execute(update(SignInThrottle).values(not_before=0.0))


# --- throttling --------------------------------------------------------------------------------


@pytest.mark.both_databases  # the counters' atomic UPDATEs on both
def test_account_at_one_address_is_delayed_but_not_locked_out(app, world):
    app.config.update(LOGIN_MAX_FAILURES=3, LOGIN_FAILURE_DELAY=3600.0)
    attacker = app.test_client()
    answers = [sign_in(attacker, "auditor", f"wrong password {i}", **_from("10.0.0.9"))
               for i in range(3)]
    assert [a.status_code for a in answers] == [401, 401, 401]
    # Throttled: even the right password is not checked now (the burst finding).
    right = sign_in(attacker, "auditor", PASSWORD, **_from("10.0.0.9"))
    assert right.status_code == 429
    assert 0 < int(right.headers["Retry-After"]) <= 3600
    # Nobody can keep the account locked out: the owner at another address signs in ...
    owner = app.test_client()
    assert sign_in(owner, "auditor", PASSWORD, **_from("10.0.0.1")).status_code == 302
    # ... and at the attacker's address once the delay is over.
    _let_time_pass(app)
    assert sign_in(app.test_client(), "auditor", PASSWORD,
                   **_from("10.0.0.9")).status_code == 302


@pytest.mark.both_databases  # the counters' atomic UPDATEs on both
def test_delays_grow_and_are_capped(app, world):
    app.config.update(LOGIN_MAX_FAILURES=2, LOGIN_FAILURE_DELAY=1000.0, LOGIN_MAX_DELAY=3500.0)
    client = app.test_client()
    waits = []
    for i in range(6):
        resp = sign_in(client, "auditor", f"wrong password {i}", **_from("10.0.0.7"))
        if resp.status_code == 429:
            waits.append(int(resp.headers["Retry-After"]))
            _let_time_pass(app)
            continue
        assert resp.status_code == 401
    with session_scope(app) as s:
        delays = [round(d) for d in s.scalars(select(SignInThrottle.delay).where(
            SignInThrottle.key.startswith("acct_ip:auditor|")))]
    assert delays == [3500]  # 1000, 2000, then capped at 3500 instead of 4000
    assert waits and max(waits) <= 3500


def test_one_address_guessing_many_names_is_delayed(app, world):
    app.config.update(LOGIN_IP_FAILURES=4, LOGIN_FAILURE_DELAY=3600.0)
    client = app.test_client()
    statuses = [sign_in(client, name, "wrong password 1", **_from("10.0.0.5")).status_code
                for name in ("hr", "gm", "head", "auditor")]
    assert statuses == [401] * 4
    assert sign_in(client, "M1001", PASSWORD, **_from("10.0.0.5")).status_code == 429
    # another address is not affected
    assert sign_in(app.test_client(), "M1001", PASSWORD,
                   **_from("10.0.0.6")).status_code == 302


@pytest.mark.both_databases  # the counters' atomic UPDATEs on both
def test_account_from_many_addresses_is_slowed_with_a_short_cap(app, world):
    app.config.update(LOGIN_ACCOUNT_FAILURES=4, LOGIN_FAILURE_DELAY=3600.0,
                      LOGIN_ACCOUNT_MAX_DELAY=30.0)
    for i in range(4):
        assert sign_in(app.test_client(), "auditor", "wrong password 1",
                       **_from(f"10.1.0.{i}")).status_code == 401
    slowed = sign_in(app.test_client(), "auditor", PASSWORD, **_from("10.1.0.99"))
    assert slowed.status_code == 429
    assert int(slowed.headers["Retry-After"]) <= 30  # the cap: never locked for long
    _let_time_pass(app)
    assert sign_in(app.test_client(), "auditor", PASSWORD,
                   **_from("10.1.0.99")).status_code == 302


@pytest.mark.both_databases  # the counters' atomic UPDATEs on both
def test_the_whole_server_is_throttled_overall(app, world):
    app.config.update(LOGIN_GLOBAL_FAILURES=3, LOGIN_FAILURE_DELAY=3600.0,
                      LOGIN_GLOBAL_MAX_DELAY=300.0)
    for i, name in enumerate(("hr", "gm", "head")):
        assert sign_in(app.test_client(), name, "wrong password 1",
                       **_from(f"10.2.0.{i}")).status_code == 401
    resp = sign_in(app.test_client(), "auditor", PASSWORD, **_from("10.2.0.50"))
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) <= 300  # capped


@pytest.mark.both_databases  # the counters' atomic UPDATEs on both
def test_known_and_unknown_names_get_the_same_answers(app, world):
    from server import auth

    app.config.update(LOGIN_MAX_FAILURES=2, LOGIN_FAILURE_DELAY=3600.0)
    known = [sign_in(app.test_client(), "auditor", "wrong password 1", **_from("10.3.0.1"))
             for _ in range(3)]
    unknown = [sign_in(app.test_client(), "nobody", "wrong password 1", **_from("10.3.0.1"))
               for _ in range(3)]
    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [401, 401, 429]
    assert [_answer(r) for r in known] == [_answer(r) for r in unknown]
    error = re.search(r'id="login-error">([^<]*)<', _answer(known[-1])).group(1)
    assert "锁定" not in error  # no "account locked": that would confirm the name
    # Same timing: the unknown name is checked against a dummy hash of the same cost.
    assert not auth._hasher.check_needs_rehash(auth._DUMMY_HASH)


def test_hr_unlock_clears_every_address(app, world, web_login):
    app.config.update(LOGIN_MAX_FAILURES=1, LOGIN_FAILURE_DELAY=3600.0)
    sign_in(app.test_client(), "auditor", "wrong password 1", **_from("10.4.0.1"))
    assert sign_in(app.test_client(), "auditor", PASSWORD,
                   **_from("10.4.0.1")).status_code == 429
    hr = app.test_client()
    assert sign_in(hr, "hr").status_code == 302
    page = hr.get(f"/admin/users/{world.users['auditor']}")
    assert 'id="slowed"' in page.get_data(as_text=True)
    hr.post(f"/admin/users/{world.users['auditor']}/unlock",
            data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert 'id="slowed"' not in hr.get(f"/admin/users/{world.users['auditor']}").text
    assert sign_in(app.test_client(), "auditor", PASSWORD,
                   **_from("10.4.0.1")).status_code == 302


# --- passwords ---------------------------------------------------------------------------------


def test_password_rules_length_and_breached_list_only():
    from server.auth import common_passwords, password_problem

    assert len(common_passwords()) > 10_000
    assert password_problem("eleven char") is not None  # 11 characters
    assert password_problem("qwerty123456") is not None  # 12, but in the breached list
    assert password_problem("Q1W2E3R4T5Y6") is not None  # case does not help
    assert password_problem("correct horse battery") is None  # only letters: fine
    assert password_problem("一二三四五六七八九十百千") is None  # 12 characters of any script
    assert password_problem("demo-" + "x" * 11) is None  # the demo's shape


# --- second factor -----------------------------------------------------------------------------


@pytest.mark.both_databases  # the counters' atomic UPDATEs on both
def test_hr_signs_in_with_a_code_used_only_once(app, world):
    client = app.test_client()
    page = client.get("/login")
    resp = client.post("/login", data={"name": "hr", "password": PASSWORD,
                                       "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login/verify")
    assert client.get("/periods").status_code == 302  # not signed in before the code
    page = client.get("/login/verify")
    token = csrf_from(page.get_data(as_text=True))
    wrong = client.post("/login/verify", data={"code": "000000", "csrf_token": token})
    assert wrong.status_code == 401
    code = totp_code("hr", app)
    assert client.post("/login/verify", data={"code": code,
                                              "csrf_token": token}).status_code == 302
    assert client.get("/periods").status_code == 200
    # the same code again (another browser, same password): refused
    other = app.test_client()
    page = other.get("/login")
    other.post("/login", data={"name": "hr", "password": PASSWORD,
                               "csrf_token": csrf_from(page.get_data(as_text=True))})
    page = other.get("/login/verify")
    again = other.post("/login/verify", data={
        "code": code, "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert again.status_code == 401


def test_first_sign_in_of_a_required_role_enrols_with_recovery_codes(app, world):
    from server.auth import create_user

    with session_scope(app) as s:
        create_user(s, "hr2", "hr_admin", password=PASSWORD)
    client = app.test_client()
    page = client.get("/login")
    resp = client.post("/login", data={"name": "hr2", "password": PASSWORD,
                                       "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert resp.headers["Location"].endswith("/login/enrol")
    page = client.get("/login/enrol")
    html = page.get_data(as_text=True)
    assert "<svg" in html and page.headers["Cache-Control"] == "no-store"
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', html).group(1)
    done = client.post("/login/enrol", data={"code": pyotp.TOTP(secret).now(),
                                             "csrf_token": csrf_from(html)})
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", done.get_data(as_text=True))
    assert len(codes) == 10 and done.headers["Cache-Control"] == "no-store"
    assert client.get("/periods").status_code == 200
    with session_scope(app) as s:
        user = s.scalar(select(User).where(User.name == "hr2"))
        assert user.totp_secret == secret and codes[0] not in str(user.recovery_codes)
    # a recovery code instead of the phone, once
    for expected in (302, 401):
        c = app.test_client()
        page = c.get("/login")
        c.post("/login", data={"name": "hr2", "password": PASSWORD,
                               "csrf_token": csrf_from(page.get_data(as_text=True))})
        page = c.get("/login/verify")
        assert c.post("/login/verify", data={
            "code": codes[0], "csrf_token": csrf_from(page.get_data(as_text=True))}
        ).status_code == expected


def test_anyone_may_enrol_on_the_account_page_and_hr_removes_a_lost_phone(app, world):
    auditor = app.test_client()
    assert sign_in(auditor, "auditor").status_code == 302
    page = auditor.get("/account/mfa")
    html = page.get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', html).group(1)
    without_password = auditor.post("/account/mfa", data={
        "code": pyotp.TOTP(secret).now(), "csrf_token": csrf_from(html)})
    assert without_password.status_code == 400
    done = auditor.post("/account/mfa", data={
        "code": pyotp.TOTP(secret).now(), "password": PASSWORD, "csrf_token": csrf_from(html)})
    assert done.status_code == 200 and "recovery-codes" in done.get_data(as_text=True)
    c = app.test_client()
    page = c.get("/login")
    asked = c.post("/login", data={"name": "auditor", "password": PASSWORD,
                                   "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert asked.headers["Location"].endswith("/login/verify")  # enrolled: a code from now on
    hr = app.test_client()
    assert sign_in(hr, "hr").status_code == 302
    page = hr.get(f"/admin/users/{world.users['auditor']}")
    hr.post(f"/admin/users/{world.users['auditor']}/mfa-reset",
            data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert auditor.get("/periods").status_code == 302  # sign-ins ended
    assert sign_in(app.test_client(), "auditor").status_code == 302  # no code asked


@pytest.mark.both_databases  # the counters' atomic UPDATEs on both
def test_codes_are_throttled(app, world):
    app.config.update(LOGIN_MAX_FAILURES=2, LOGIN_FAILURE_DELAY=3600.0)
    client = app.test_client()
    page = client.get("/login")
    client.post("/login", data={"name": "gm", "password": PASSWORD,
                                "csrf_token": csrf_from(page.get_data(as_text=True))})
    token = csrf_from(client.get("/login/verify").get_data(as_text=True))
    statuses = [client.post("/login/verify", data={"code": "123456", "csrf_token": token})
                .status_code for _ in range(2)]
    right = client.post("/login/verify", data={
        "code": pyotp.TOTP(TOTP_SECRETS["gm"]).now(), "csrf_token": token})
    assert statuses == [401, 401] and right.status_code == 429


# --- sessions ----------------------------------------------------------------------------------


def test_sessions_idle_out_after_30_minutes_and_can_be_ended(app, world):
    assert app.config["SESSION_IDLE_MINUTES"] == 30
    laptop, phone = app.test_client(), app.test_client()
    assert sign_in(laptop, "auditor").status_code == 302
    assert sign_in(phone, "auditor").status_code == 302
    page = laptop.get("/account")
    html = page.get_data(as_text=True)
    assert html.count("data-session=") == 2 and page.headers["Cache-Control"] == "no-store"
    laptop.post("/account/sessions/end-others", data={"csrf_token": csrf_from(html)})
    assert phone.get("/periods").status_code == 302  # the other sign-in was ended
    assert laptop.get("/periods").status_code == 200
    with session_scope(app) as s:
        for row in s.scalars(select(WebSession)):
            row.last_seen_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=31)
    assert laptop.get("/periods").status_code == 302


def test_host_prefixed_cookie_and_plain_http_cookie_ignored(app_config, world):
    from server import create_app

    strict = create_app({**app_config, "ALLOW_INSECURE_HTTP": False})
    client = strict.test_client()
    page = client.get("/login", **HTTPS)
    resp = client.post("/login", data={"name": "auditor", "password": PASSWORD,
                                       "csrf_token": csrf_from(page.get_data(as_text=True))},
                       headers={"Referer": "https://kpi.example.com/login"}, **HTTPS)
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("__Host-kpibook_session=")
    assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
    value = client.get_cookie("__Host-kpibook_session", domain="kpi.example.com").value
    assert client.get("/periods", **HTTPS).status_code == 200
    plain = strict.test_client()
    plain.set_cookie("__Host-kpibook_session", value)
    assert plain.get("/periods").status_code == 302  # not honoured over plain HTTP
    get_engine(strict).dispose()


# --- tokens ------------------------------------------------------------------------------------


def _create_token(client, **form):
    page = client.get("/account")
    return client.post("/account/tokens", data={
        "label": "t", "days": "30", "csrf_token": csrf_from(page.get_data(as_text=True)),
        **form})


def test_tokens_need_the_password_again_and_die_with_a_password_change(app, world):
    client = app.test_client()
    assert sign_in(client, "auditor").status_code == 302
    refused = _create_token(client, scopes=["read"])
    assert refused.status_code == 400 and 'id="new-token"' not in refused.get_data(as_text=True)
    wrong = _create_token(client, scopes=["read"], password="not the password 1")
    assert wrong.status_code == 400
    made = _create_token(client, scopes=["read"], password=PASSWORD)
    token = re.search(r'id="new-token">(kpb_[^<]+)<', made.get_data(as_text=True)).group(1)
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/whoami", headers=bearer).status_code == 200
    page = client.get("/account")
    client.post("/account/password", data={
        "current": PASSWORD, "new": "a brand new passphrase", "repeat": "a brand new passphrase",
        "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert client.get("/api/v1/whoami", headers=bearer).status_code == 401
    with session_scope(app) as s:  # the matrix token made by the fixture too
        assert all(t.revoked_at is not None for t in s.scalars(select(ApiToken).where(
            ApiToken.user_id == world.users["auditor"])))


def test_token_scopes_are_enforced(app, world):
    from server.auth import create_token

    with session_scope(app) as s:
        hr = s.get(User, world.users["hr_admin"])
        read = create_token(s, hr, "r", days=5, scopes=["read"])
        submit = create_token(s, hr, "s", days=5, scopes=["read", "submit"])
        admin = create_token(s, hr, "a", days=5, scopes=["read", "submit", "admin"])

    def press(token, button):
        return app.test_client().post(f"/xl/{button}", data=b"{}", headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"})

    who = app.test_client().get("/api/v1/whoami", headers={"Authorization": f"Bearer {read}"})
    assert who.status_code == 200
    assert press(read, "score").status_code == 403 and "scope" in press(read, "score").text
    assert press(submit, "score").status_code != 403  # past the scope (the body is bad)
    assert press(submit, "new_period").status_code == 403  # opening periods is admin
    assert press(admin, "new_period").status_code != 403


def test_cli_tokens_expire(app, app_config, monkeypatch):
    from click.testing import CliRunner

    from server.auth import create_user
    from server.cli import main

    with session_scope(app) as s:
        create_user(s, "cli-user", "auditor")
    for key, value in app_config.items():
        if key in ("DATABASE_URL", "INSTANCE_PATH", "HISTORY_DIR"):
            monkeypatch.setenv(f"KPIBOOK_{key}", str(value))
    result = CliRunner().invoke(main, ["tokens", "create", "cli-user", "--scopes", "read"])
    assert result.exit_code == 0, result.output
    with session_scope(app) as s:
        row = s.scalar(select(ApiToken).where(ApiToken.name == "cli"))
        assert row.expires_at is not None and row.scopes == ["read"]


# --- headers -----------------------------------------------------------------------------------

PAGES = ["/login", "/account", "/periods", "/periods/2025-03", "/admin/users", "/review",
         "/api/v1/whoami", "/me"]


def test_csp_and_no_store_on_every_page(app, world):
    client = app.test_client()
    assert sign_in(client, "hr").status_code == 302
    for path in PAGES:
        resp = client.get(path)
        csp = resp.headers["Content-Security-Policy"]
        for directive in ("script-src 'self'", "object-src 'none'", "base-uri 'none'",
                          "frame-ancestors 'none'"):
            assert directive in csp, (path, csp)
        assert resp.headers["Cache-Control"] == "no-store", path
        html = resp.get_data(as_text=True)
        # nothing the policy would block: no inline script, no event handler attribute
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"\son[a-z]+=", html) and "javascript:" not in html, path
    addin = client.get("/addin/taskpane.html").headers["Content-Security-Policy"]
    assert "script-src 'self' https://appsforoffice.microsoft.com" in addin
    assert "frame-ancestors 'self' https://*.live.com" in addin
    assert "object-src 'none'" in addin and "base-uri 'none'" in addin


# --- OAuth2 on the push API ----------------------------------------------------------------------

PUSH_CONFIG = """
[[source]]
name = "qms_push"
kind = "push"
clients = ["{client_id}"]
employee_key = "工号"
external_id = "ncr_no"

[[source.indicator]]
indicator = "QUALITY_INCIDENT"
aggregate = "sum"
value = "incidents"
"""
BODY = {"source": "qms_push", "period": "2026-10",
        "records": [{"ncr_no": "NCR-1", "工号": "M1001", "incidents": 1}]}


def _grant(client, client_id, secret, scope="facts:write"):
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return client.post("/oauth/token", data={"grant_type": "client_credentials",
                                             "scope": scope},
                       headers={"Authorization": f"Basic {raw}"})


def test_push_api_accepts_oauth_tokens_and_rotated_secrets(app, tmp_path):
    from server.auth import create_oauth_client
    from server.models import Employee, Period

    with session_scope(app) as s:
        s.add(Period(code="2026-10", template_code="manufacturing", state="collecting"))
        s.add(Employee(employee_id="M1001", name="张伟", department="一车间"))
        qms, secret = create_oauth_client(s, "QMS", ["facts:write"], "hr")
        other, other_secret = create_oauth_client(s, "CRM", ["facts:write", "periods:read"])
        reader, reader_secret = create_oauth_client(s, "BI", ["periods:read"])
        ids = qms.client_id, other.client_id, reader.client_id, qms.id
    path = tmp_path / "push.toml"
    path.write_text(PUSH_CONFIG.format(client_id=ids[0]), encoding="utf-8")
    app.config["SYNC_CONFIG"] = str(path)
    client = app.test_client()
    token = _grant(client, ids[0], secret).json["access_token"]
    pushed = client.post("/api/v1/facts", json=BODY,
                         headers={"Authorization": f"Bearer {token}"})
    assert pushed.status_code == 201, pushed.get_data(as_text=True)
    # a client not listed for the source, and a token without facts:write
    crm = _grant(client, ids[1], other_secret).json["access_token"]
    assert client.post("/api/v1/facts", json=BODY,
                       headers={"Authorization": f"Bearer {crm}"}).status_code == 403
    bi = _grant(client, ids[2], reader_secret, "periods:read").json["access_token"]
    assert client.post("/api/v1/facts", json=BODY,
                       headers={"Authorization": f"Bearer {bi}"}).status_code == 401
    # HR rotates the secret: the old secret and its token stop working, the new one works
    hr = app.test_client()
    from server.auth import create_user

    with session_scope(app) as s:
        u = create_user(s, "hr-rot", "auditor", password=PASSWORD)
        u.role = "hr_admin"
        u.totp_secret = TOTP_SECRETS["hr"]
    assert sign_in(hr, "hr-rot").status_code == 302
    page = hr.get("/admin/clients")
    rotated = hr.post(f"/admin/clients/{ids[3]}/rotate",
                      data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert rotated.headers["Cache-Control"] == "no-store"
    new_secret = re.search(r'id="client-secret">([^<]+)<',
                           rotated.get_data(as_text=True)).group(1)
    assert _grant(client, ids[0], secret).status_code == 401
    assert client.post("/api/v1/facts", json=BODY,
                       headers={"Authorization": f"Bearer {token}"}).status_code == 401
    fresh = _grant(client, ids[0], new_secret).json["access_token"]
    again = client.post("/api/v1/facts", json=BODY, headers={"Authorization": f"Bearer {fresh}"})
    assert again.status_code in (200, 201)


def test_cli_rotates_client_secrets(app, app_config, monkeypatch):
    from click.testing import CliRunner

    from server.auth import create_oauth_client, hash_token
    from server.cli import main
    from server.models import OAuthClient

    with session_scope(app) as s:
        row, old = create_oauth_client(s, "QMS", ["facts:write"])
        client_id = row.client_id
    for key, value in app_config.items():
        if key in ("DATABASE_URL", "INSTANCE_PATH", "HISTORY_DIR"):
            monkeypatch.setenv(f"KPIBOOK_{key}", str(value))
    result = CliRunner().invoke(main, ["clients", "rotate", client_id])
    assert result.exit_code == 0, result.output
    new = result.output.splitlines()[0].strip()
    with session_scope(app) as s:
        stored = s.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
        assert stored.secret_hash == hash_token(new) != hash_token(old)


@pytest.mark.parametrize("name", ["hr", "gm"])
def test_world_roles_needing_a_code_are_enrolled(app, world, name):
    assert sign_in(app.test_client(), name).status_code == 302
