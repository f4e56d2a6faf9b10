"""Platform sign-in end to end over HTTP: kpibook's routes (Flask test client) talk to the real
DingTalk, Feishu, WeCom and OIDC simulators on 127.0.0.1; the person's confirmation on the
platform page is an HTTP form post, as the browser's would be (tests/browser has the clicks)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import select

from server.db import session_scope
from server.models import PlatformBinding, User, WebSession
from server.services import platform_signin
from sync.simulators.platform import SimAnswer
from tests.signin.conftest import PLATFORMS, connectors_file, csrf_from, local, scan, start

pytestmark = [pytest.mark.usefixtures("people"), pytest.mark.both_databases]

EMPLOYEE = "dtm1004"  # 赵敏, M1004


def _sessions(app, name: str) -> list[WebSession]:
    with session_scope(app) as s:
        user = s.scalar(select(User).where(User.name == name))
        rows = s.scalars(select(WebSession).where(WebSession.user_id == user.id)).all()
        s.expunge_all()
        return list(rows)


def _with_state(url: str, state: str) -> str:
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    query["state"] = state
    return parts.path + "?" + urlencode(query)


@pytest.mark.parametrize("name", PLATFORMS)
def test_the_bound_employee_signs_in(client, app, name):
    authorize = start(client, name, next="/me")
    back = scan(authorize, EMPLOYEE)
    assert urlsplit(back).path == f"/login/{name}/callback"
    resp = client.get(local(back))
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/me")
    assert client.get("/me").status_code == 200  # the web session works
    (row,) = _sessions(app, "M1004")
    assert row.ip == "127.0.0.1" and row.revoked_at is None


@pytest.mark.parametrize("name", PLATFORMS)
def test_a_state_that_is_not_ours_is_refused(client, app, name):
    back = scan(start(client, name), EMPLOYEE)
    resp = client.get(_with_state(back, "forged"))
    assert resp.status_code == 400
    assert "state" in resp.get_data(as_text=True)
    # the pending round trip is gone: the genuine answer is refused now too
    again = client.get(local(back))
    assert again.status_code == 400 and "已使用" in again.get_data(as_text=True)
    assert _sessions(app, "M1004") == []


def test_a_callback_without_a_round_trip_is_refused(client, app, platforms):
    other = app.test_client()  # someone else's browser started it (login CSRF)
    back = scan(start(other, "dingtalk"), EMPLOYEE)
    resp = client.get(local(back))
    assert resp.status_code == 400
    assert _sessions(app, "M1004") == []


@pytest.mark.parametrize("name", PLATFORMS)
def test_a_code_is_used_once(client, app, name):
    back = scan(start(client, name), EMPLOYEE)
    assert client.get(local(back)).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_from(
        client.get("/account").get_data(as_text=True))})
    # a new round trip (new state) with the old code: the platform refuses the code
    state = parse_qs(urlsplit(start(client, name)).query)["state"][0]
    resp = client.get(_with_state(back, state))
    assert resp.status_code == 401, resp.get_data(as_text=True)
    assert "拒绝了这次登录" in resp.get_data(as_text=True)
    assert len(_sessions(app, "M1004")) == 1


@pytest.mark.parametrize("name", PLATFORMS)
def test_a_person_bound_to_nobody_is_refused_in_both_languages(client, app, name):
    back = scan(start(client, name), "dtm1001")  # 张伟: on the platform, no kpibook account
    resp = client.get(local(back))
    text = resp.get_data(as_text=True)
    assert resp.status_code == 403 and "没有绑定任何 kpibook 账户" in text
    assert "张伟" in text or "dtm1001" in text
    en = app.test_client()
    back = scan(start(en, name, lang="en"), "dtm1001")
    text = en.get(local(back)).get_data(as_text=True)
    assert "is not bound to any kpibook account" in text
    with session_scope(app) as s:  # nothing was created
        assert s.scalar(select(User).where(User.employee_id == "M1001")) is None


@pytest.mark.parametrize("name", PLATFORMS)
def test_a_disabled_user_is_refused(client, app, name):
    back = scan(start(client, name), "dta0001")  # 孙丽华: the auditor account is disabled
    resp = client.get(local(back))
    assert resp.status_code == 403 and "已停用" in resp.get_data(as_text=True)
    assert _sessions(app, "auditor") == []


@pytest.mark.parametrize("name", PLATFORMS)
def test_the_person_declining_is_refused(client, name):
    back = scan(start(client, name), EMPLOYEE, deny=True)
    resp = client.get(local(back))
    assert resp.status_code == 401 and "拒绝了这次登录" in resp.get_data(as_text=True)


@pytest.mark.parametrize(("name", "prefix"), [
    ("dingtalk", "/api/v1.0/oauth2/userAccessToken"),
    ("feishu", "/open-apis/authen/v2/oauth/token"),
    ("wecom", "/cgi-bin/auth/getuserinfo"),
    ("oidc", "/token")])
def test_platform_errors(client, app, people, name, prefix):
    sim = people[name]
    back = scan(start(client, name), EMPLOYEE)
    sim.fail(prefix, SimAnswer(503, None, {"Content-Type": "text/html"}, b"<h1>busy</h1>"))
    resp = client.get(local(back))
    text = resp.get_data(as_text=True)
    assert resp.status_code in (401, 502), text  # OIDC: authlib reads the 503 as an error
    assert "请稍后再试" in text or "拒绝了这次登录" in text
    assert _sessions(app, "M1004") == []


def test_documented_error_answers(client, people):
    people.wecom.fail("/cgi-bin/auth/getuserinfo", people.wecom.answer_of(40029, "invalid code"))
    back = scan(start(client, "wecom"), EMPLOYEE)
    text = client.get(local(back)).get_data(as_text=True)
    assert "errcode 40029" in text
    people.dingtalk.fail("/oapi/topapi/user/getbyunionid",
                         people.dingtalk.old(60121, "找不到该用户"))
    back = scan(start(client, "dingtalk"), EMPLOYEE)
    resp = client.get(local(back))
    assert resp.status_code == 403 and "不是本公司钉钉组织的成员" in resp.get_data(as_text=True)
    people.feishu.advance(301)  # past the five minutes of the code
    back = scan(start(client, "feishu"), EMPLOYEE)
    people.feishu.advance(301)
    assert "20004" in client.get(local(back)).get_data(as_text=True)


def test_a_stolen_code_without_the_pkce_verifier_is_refused(client, app, people):
    """Feishu and OIDC bind the code to the PKCE challenge of this browser's round trip."""
    for name in ("feishu", "oidc"):
        victim = app.test_client()
        code_url = scan(start(victim, name), EMPLOYEE)
        state = parse_qs(urlsplit(start(client, name)).query)["state"][0]
        resp = client.get(_with_state(code_url, state))
        assert resp.status_code == 401, name
    assert _sessions(app, "M1004") == []


# --- second factor --------------------------------------------------------------------------


def test_a_platform_qr_sign_in_is_the_second_factor_of_an_executive(client, app):
    back = scan(start(client, "dingtalk"), "dtg0001")  # 周建国, executive
    resp = client.get(local(back))
    assert resp.status_code == 302 and "/login/" not in resp.headers["Location"]
    assert len(_sessions(app, "gm")) == 1


def test_without_platform_mfa_the_one_time_code_follows(client, app):
    app.config["PLATFORM_SIGNIN_MFA"] = False
    back = scan(start(client, "feishu"), "dtg0001")
    resp = client.get(local(back))
    assert resp.headers["Location"].endswith("/login/enrol")  # not enrolled yet: enrol first
    assert _sessions(app, "gm") == []


def test_oidc_without_amr_asks_for_the_one_time_code(client, app):
    back = scan(start(client, "oidc"), "dtg0001")
    assert client.get(local(back)).headers["Location"].endswith("/login/enrol")
    assert _sessions(app, "gm") == []


def test_oidc_amr_with_a_second_factor_is_honoured(client, app, people):
    people.oidc.amr["dtg0001"] = ["pwd", "otp"]
    back = scan(start(client, "oidc"), "dtg0001")
    resp = client.get(local(back))
    assert resp.status_code == 302 and "/login/" not in resp.headers["Location"]
    people.oidc.amr["dtg0001"] = ["pwd"]  # a password alone is one factor
    other = app.test_client()
    back = scan(start(other, "oidc"), "dtg0001")
    assert other.get(local(back)).headers["Location"].endswith("/login/enrol")


# --- the id_token is checked ----------------------------------------------------------------


@pytest.mark.parametrize("breakage", [
    {"rogue_key": True},
    {"id_token_overrides": {"aud": "someone-else"}},
    {"id_token_overrides": {"iss": "https://evil.example.com"}},
    {"id_token_overrides": {"nonce": "replayed"}},
    {"id_token_overrides": {"exp": 1_600_000_000}},
])
def test_a_bad_id_token_is_refused(client, app, people, breakage):
    for key, value in breakage.items():
        setattr(people.oidc, key, value)
    back = scan(start(client, "oidc"), EMPLOYEE)
    resp = client.get(local(back))
    assert resp.status_code == 401 and "id_token" in resp.get_data(as_text=True)
    assert _sessions(app, "M1004") == []


# --- bindings ---------------------------------------------------------------------------------


def test_a_user_binds_a_platform_account_then_removes_it(client, app, web_login):
    web_login(client, "hr")
    page = client.get("/account").get_data(as_text=True)
    assert 'id="bind-feishu"' in page and 'id="no-bindings"' in page
    resp = client.get("/account/bindings/feishu")
    back = scan(resp.headers["Location"], "dtm1002")  # hr's Feishu account (say)
    resp = client.get(local(back))
    assert resp.headers["Location"].endswith("/account")
    page = client.get("/account").get_data(as_text=True)
    assert "dtm1002" in page and "id=\"binding-list\"" in page
    # now that Feishu account signs in as hr, whose role needs a one-time code: the platform
    # QR sign-in is that second factor (KPIBOOK_PLATFORM_SIGNIN_MFA)
    other = app.test_client()
    back = scan(start(other, "feishu"), "dtm1002")
    assert "/login/" not in other.get(local(back)).headers["Location"]
    assert other.get("/account").status_code == 200
    with session_scope(app) as s:
        binding = s.scalar(select(PlatformBinding))
        assert binding.created_by == "hr" and binding.last_used_at is not None
        binding_id = binding.id
    client.post(f"/account/bindings/{binding_id}/delete",
                data={"csrf_token": csrf_from(page)})
    third = app.test_client()
    back = scan(start(third, "feishu"), "dtm1002")
    assert third.get(local(back)).status_code == 403


def test_a_binding_round_trip_started_by_someone_else_is_refused(client, app, web_login):
    web_login(client, "hr")
    resp = client.get("/account/bindings/dingtalk")
    back = scan(resp.headers["Location"], "dtm1002")
    victim = app.test_client()
    web_login(victim, "M1004")
    victim.get(local(back))  # the victim's browser has no pending binding: nothing bound
    client.get(_with_state(back, "forged"))
    with session_scope(app) as s:
        assert s.scalar(select(PlatformBinding)) is None


def test_hr_binds_an_account_on_the_user_page(client, app, web_login):
    web_login(client, "hr")
    with session_scope(app) as s:
        hr_id = s.scalar(select(User.id).where(User.name == "hr"))
    page = client.get(f"/admin/users/{hr_id}").get_data(as_text=True)
    assert 'id="add-binding"' in page
    resp = client.post(f"/admin/users/{hr_id}/bindings", data={
        "csrf_token": csrf_from(page), "provider": "wecom", "subject": "dtm1003"})
    assert resp.status_code == 302
    other = app.test_client()
    back = scan(start(other, "wecom"), "dtm1003")
    assert "/login/" not in other.get(local(back)).headers["Location"]
    # the same platform account cannot be bound to a second user
    with session_scope(app) as s:
        m1004 = s.scalar(select(User.id).where(User.name == "M1004"))
    resp = client.post(f"/admin/users/{m1004}/bindings", data={
        "csrf_token": csrf_from(page), "provider": "wecom", "subject": "dtm1003"})
    assert resp.status_code == 409
    with session_scope(app) as s:
        binding_id = s.scalar(select(PlatformBinding.id))
    assert "dtm1003" in client.get(f"/admin/users/{hr_id}").get_data(as_text=True)
    client.post(f"/admin/users/{hr_id}/bindings/{binding_id}/delete",
                data={"csrf_token": csrf_from(page)})
    third = app.test_client()
    back = scan(start(third, "wecom"), "dtm1003")
    assert third.get(local(back)).status_code == 403  # dtm1003 (M1003) has no account


def test_inside_the_wecom_app_the_in_app_authorization_is_used(client, people):
    ua = "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 MicroMessenger/8.0 wxwork/4.1.22"
    authorize = start(client, "wecom", headers={"User-Agent": ua})
    assert authorize.startswith(people.wecom.url + "/connect/oauth2/authorize?")
    assert authorize.endswith("#wechat_redirect") and "scope=snsapi_base" in authorize
    resp = client.get(local(scan(authorize, EMPLOYEE)))
    assert resp.status_code == 302 and "/login" not in resp.headers["Location"]


# --- the page and the configuration ---------------------------------------------------------


def test_the_login_page_shows_configured_providers_only(client, app, people, tmp_path):
    page = client.get("/login").get_data(as_text=True)
    for name in PLATFORMS:
        assert f'id="signin-{name}"' in page
    assert "使用钉钉登录" in page and "使用集团统一认证登录" in page
    en = client.get("/login?lang=en").get_data(as_text=True)
    assert "Sign in with DingTalk" in en and "Sign in with Group SSO" in en
    app.config["SYNC_CONFIG"] = connectors_file(tmp_path / "one.toml", people,
                                                only=("wecom",))
    page = client.get("/login").get_data(as_text=True)
    assert 'id="signin-wecom"' in page and 'id="signin-dingtalk"' not in page
    assert client.get("/login/dingtalk").status_code == 404
    app.config["SYNC_CONFIG"] = ""
    page = client.get("/login").get_data(as_text=True)
    assert "platform-signin" not in page and 'id="sign-in"' in page  # passwords stay


def test_the_config_is_checked(tmp_path):
    from sync.errors import ConfigError

    with pytest.raises(ConfigError, match="agentid"):
        platform_signin.parse_providers({"signin": [{"name": "wecom", "client_id": "ww"}]})
    with pytest.raises(ConfigError, match="issuer"):
        platform_signin.parse_providers({"signin": [{"name": "sso", "platform": "oidc",
                                                     "client_id": "x"}]})
    (p,) = platform_signin.parse_providers({
        "signin": [{"name": "dingtalk", "client_id": "ding"}],
        "org": [{"name": "dt-org", "platform": "dingtalk"}]})
    assert p.org_source == "dt-org" and p.url("auth_url") == \
        "https://login.dingtalk.com/oauth2/auth"


def test_refusals_are_throttled_per_address(client, app):
    app.config["LOGIN_IP_FAILURES"] = 2
    app.config["LOGIN_FAILURE_DELAY"] = 600
    for _ in range(2):
        client.get(_with_state(scan(start(client, "wecom"), "dtm1001"), "x"))
    back = scan(start(client, "wecom"), EMPLOYEE)
    resp = client.get(local(back))
    assert resp.status_code == 429 and resp.headers["Retry-After"]
