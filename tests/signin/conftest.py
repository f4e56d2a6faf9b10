"""Fixtures of the platform sign-in tests: the DingTalk, Feishu, WeCom and OIDC simulators
(real HTTP on 127.0.0.1, one organisation), a connectors file whose [[org]] and [[signin]]
tables point at them, and `scan(...)`: a person confirming the sign-in on the platform's page
(the QR scan), which answers the redirect back to kpibook."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from sqlalchemy import select

from server.auth import create_user
from server.db import session_scope
from server.models import OrgIdentity, User
from sync.simulators import dingtalk as dt_sim
from sync.simulators import feishu as fs_sim
from sync.simulators import oidc as oidc_sim
from sync.simulators import wecom as wc_sim
from sync.simulators.org_data import demo_org

PLATFORMS = ("dingtalk", "feishu", "wecom", "oidc")


class Platforms:
    def __init__(self) -> None:
        org = demo_org()
        self.dingtalk = dt_sim.DingTalkSimulator(org)
        self.feishu = fs_sim.FeishuSimulator(org)
        self.wecom = wc_sim.WeComSimulator(org)
        self.oidc = oidc_sim.OidcSimulator(org)
        self.all = (self.dingtalk, self.feishu, self.wecom, self.oidc)

    def __getitem__(self, name: str):  # noqa: ANN204
        return getattr(self, name)


def connectors_file(path: Path, sims: Platforms, **extra: dict) -> str:
    d, f, w, o = sims.dingtalk, sims.feishu, sims.wecom, sims.oidc
    tables = {
        "dingtalk": f'''
[[org]]
name = "dingtalk"
platform = "dingtalk"
url = "{d.oapi_url}"
api_url = "{d.api_url}"
appkey = "{dt_sim.APP_KEY}"
appsecret = "{dt_sim.APP_SECRET}"
employee_key = "job_number"

[[signin]]
name = "dingtalk"
client_id = "{dt_sim.APP_KEY}"
client_secret = "{dt_sim.APP_SECRET}"
auth_url = "{d.url}/login/oauth2/auth"
api_url = "{d.api_url}"
oapi_url = "{d.oapi_url}"
''',
        "feishu": f'''
[[org]]
name = "feishu"
platform = "feishu"
url = "{f.url}"
app_id = "{fs_sim.APP_ID}"
app_secret = "{fs_sim.APP_SECRET}"
employee_key = "employee_no"

[[signin]]
name = "feishu"
client_id = "{fs_sim.APP_ID}"
client_secret = "{fs_sim.APP_SECRET}"
auth_url = "{f.url}/open-apis/authen/v1/authorize"
api_url = "{f.url}"
''',
        "wecom": f'''
[[org]]
name = "wecom"
platform = "wecom"
url = "{w.url}"
corpid = "{wc_sim.CORP_ID}"
corpsecret = "{wc_sim.CORP_SECRET}"
employee_key = "extattr:工号"

[[signin]]
name = "wecom"
client_id = "{wc_sim.CORP_ID}"
client_secret = "{wc_sim.CORP_SECRET}"
agentid = "{wc_sim.AGENT_ID}"
auth_url = "{w.url}/wwlogin/sso/login"
inapp_auth_url = "{w.url}/connect/oauth2/authorize"
api_url = "{w.url}"
''',
        "oidc": f'''
[[signin]]
name = "oidc"
platform = "oidc"
label = "集团统一认证"
label_en = "Group SSO"
issuer = "{o.url}"
client_id = "{oidc_sim.CLIENT_ID}"
client_secret = "{oidc_sim.CLIENT_SECRET}"
employee_claim = "employee_number"
''',
    }
    only = extra.get("only") or PLATFORMS
    path.write_text("".join(tables[name] for name in only), encoding="utf-8")
    return str(path)


@pytest.fixture
def platforms():
    sims = Platforms()
    for sim in sims.all:
        sim.start()
    yield sims
    for sim in sims.all:
        sim.stop()


@pytest.fixture
def people(app, platforms, tmp_path):
    """The connectors file in place, org identities as an org sync left them, and accounts:
    赵敏 (M1004, employee), 周建国 (G0001, executive: a second factor is required), hr (no
    employee id: binds explicitly), 孙丽华 (A0001, auditor, disabled)."""
    app.config["SYNC_CONFIG"] = connectors_file(tmp_path / "connectors.toml", platforms)
    with session_scope(app) as s:
        for source in ("dingtalk", "feishu", "wecom"):
            for p in platforms.dingtalk.org.people:
                s.add(OrgIdentity(source=source, user_id=p.userid, employee_id=p.job_number))
        create_user(s, "M1004", "employee", "赵敏", employee_id="M1004")
        create_user(s, "gm", "executive", "总经理 周建国", employee_id="G0001")
        create_user(s, "hr", "hr_admin", "人力资源部 李娜")
        auditor = create_user(s, "auditor", "auditor", "审计 孙丽华", employee_id="A0001")
        auditor.active = False
    return platforms


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF field"
    return m.group(1)


def local(url: str) -> str:
    """A kpibook URL as the test client asks for it (path and query)."""
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def scan(authorize_url: str, userid: str, deny: bool = False) -> str:
    """The person `userid` confirms on the platform's page (scans the QR code): the URL the
    platform sends the browser back to."""
    page = requests.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text
    assert f'id="scan-{userid}"' in page.text
    form = dict(parse_qsl(urlsplit(authorize_url).query))
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    base = "{0.scheme}://{0.netloc}".format(urlsplit(authorize_url))
    data = {**form, **({"deny": "1"} if deny else {"userid": userid})}
    answer = requests.post(base + action, data=data, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def start(client, name: str, headers: dict | None = None, **query) -> str:
    resp = client.get(f"/login/{name}", query_string=query, headers=headers or {})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return resp.headers["Location"]


def user_named(app, name: str) -> User:
    with session_scope(app) as s:
        user = s.scalar(select(User).where(User.name == name))
        s.expunge(user)
        return user
