"""A small world for the account/policy/workflow tests: two departments, one manager in each,
a user per role, a published period with a score snapshot, and an appeal per manager."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

OWN_DEPT, OTHER_DEPT = "一车间", "二车间"
OWN, OTHER = "M1001", "M1002"  # managers of OWN_DEPT and OTHER_DEPT
OTHER_NAME = "王芳"  # must never appear on a page of someone who may not read OTHER
PERIOD = "2025-03"
PASSWORD = "correct horse 42"
# Authenticator secrets of the roles that must sign in with a one-time code (KPIBOOK_MFA_ROLES
# default: HR admins and executives); sign_in() answers the second step with pyotp.
TOTP_SECRETS = {"hr": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "gm": "KRUGKIDROVUWG2ZAMJZG653OEBTG66BA"}
_world_app = None  # the app of the last make_world(): browser helpers compute codes with it


@dataclass
class World:
    users: dict[str, int] = field(default_factory=dict)  # role -> user id
    names: dict[str, str] = field(default_factory=dict)  # role -> user name
    appeals: dict[str, int] = field(default_factory=dict)  # OWN/OTHER -> appeal id
    victim_id: int = 0  # a user whose record admin forms may change
    client_pk: int = 0  # an OAuth client
    token_ids: dict[str, int] = field(default_factory=dict)


def world_input(rules=None, facts: dict | None = None):
    """The engine's input of the world's period: PROD_EFF (weight 45) and QUALITY (55),
    points given directly; OWN scores 40 + 50 = 90 (A), OTHER 35 + 50 = 85 (B)."""
    from server.scoring.model import Employee, Fact, ScoreInput

    facts = facts or {(OWN, "PROD_EFF"): "40", (OWN, "QUALITY"): "50",
                      (OTHER, "PROD_EFF"): "35", (OTHER, "QUALITY"): "50"}
    return ScoreInput(rules or world_rules(), (Employee(OWN, "张伟", OWN_DEPT),
                                               Employee(OTHER, OTHER_NAME, OTHER_DEPT)),
                      tuple(Fact(e, c, Decimal(v)) for (e, c), v in sorted(facts.items())))


def world_rules(max_up: str = "5", **settings):
    from server.scoring.model import (
        GradeBand,
        Indicator,
        IndicatorKind,
        RuleSet,
    )

    def ind(code, name, weight, roles=()):
        return Indicator(code, name, IndicatorKind.QUANTITATIVE, Decimal(weight), "manual",
                         "points", adjust_roles=frozenset(roles), adjust_max_up=Decimal(max_up),
                         adjust_max_down=Decimal(5))

    settings.setdefault("bands", (GradeBand("A", Decimal(90)), GradeBand("B", Decimal(80)),
                                  GradeBand("C", Decimal(0))))
    return RuleSet((ind("PROD_EFF", "生产效率", 45), ind("QUALITY", "质量", 55, ["总经理"])),
                   **settings)


def store_scores(app, period_code: str, inp=None, user_name: str = "hr") -> None:
    """Score `inp` with the engine and store the run as HR's Score button does (its inputs
    made the record), without moving the period."""
    from sqlalchemy import select

    from server.db import session_scope
    from server.models import Period, User
    from server.scoring.engine import score
    from server.services.runs import store_run

    inp = inp or world_input()
    with session_scope(app) as s:
        period = s.scalar(select(Period).where(Period.code == period_code))
        user = s.scalar(select(User).where(User.name == user_name))
        state = period.state
        from server.services import records

        # HR's Score: the inputs of record (a new version with a reason), then the run
        records.resolve(s, period, user, inp, None, "zh", apply_reason="测试：新的计算输入")
        store_run(s, period, inp, score(inp, "zh"), user, "zh")
        period.state = state


def make_world(app, state: str = "published") -> World:
    from server.auth import create_oauth_client, create_token, create_user
    from server.db import session_scope
    from server.models import Appeal, Employee, Period

    w = World()
    with session_scope(app) as s:
        s.add_all([Employee(employee_id=OWN, name="张伟", department=OWN_DEPT),
                   Employee(employee_id=OTHER, name=OTHER_NAME, department=OTHER_DEPT)])
        people = {
            "hr_admin": create_user(s, "hr", "hr_admin", "人力资源部 李娜", {},
                                    "hr@example.com", password=PASSWORD),
            "executive": create_user(s, "gm", "executive", "总经理 周建国",
                                     {"departments": [OWN_DEPT], "max_points": "3"},
                                     "gm@example.com", password=PASSWORD),
            "dept_head": create_user(s, "head", "dept_head", "一车间主任",
                                     {"departments": [OWN_DEPT], "max_points": "2"},
                                     "head@example.com", password=PASSWORD),
            "employee": create_user(s, OWN, "employee", "张伟", {}, "zhang@example.com",
                                    password=PASSWORD, employee_id=OWN),
            "auditor": create_user(s, "auditor", "auditor", "审计 孙丽华", {},
                                   password=PASSWORD),
        }
        create_user(s, OTHER, "employee", OTHER_NAME, {}, "wang@example.com",
                    password=PASSWORD, employee_id=OTHER)
        victim = create_user(s, "victim", "auditor", "victim")
        for name, secret in TOTP_SECRETS.items():
            next(u for u in people.values() if u.name == name).totp_secret = secret
        for role, u in people.items():
            w.users[role], w.names[role] = u.id, u.name
            create_token(s, u, "matrix", days=30)
        period = Period(code=PERIOD, template_code="manufacturing", state=state,
                        created_by="hr")
        s.add(period)
        s.flush()
        from server.scoring.engine import score
        from server.services.runs import store_run

        inp = world_input()
        from server.services import records

        records.resolve(s, period, people["hr_admin"], inp, None, "zh")  # adopted
        store_run(s, period, inp, score(inp, "zh"), people["hr_admin"], "zh")
        period.state = state
        for key, emp in (("own", OWN), ("other", OTHER)):
            a = Appeal(period_id=period.id, employee_id=emp, reason=f"{emp} 的申诉理由",
                       created_by=emp, run_no=1, created_at=dt.datetime.now(dt.UTC))
            s.add(a)
            s.flush()
            w.appeals[key] = a.id
        client, _secret = create_oauth_client(s, "ERP", ["facts:write"], "hr")
        w.client_pk = client.id
        w.victim_id = victim.id
        from sqlalchemy import select

        from server.models import ApiToken

        for role, uid in w.users.items():
            w.token_ids[role] = s.scalar(select(ApiToken.id).where(ApiToken.user_id == uid))
    global _world_app
    _world_app = app
    return w


def totp_code(name: str, app=None) -> str:
    """A one-time code for `name` that the server has not seen yet: the current time step's,
    or the next one's when the current one was used (the server accepts one step of drift)."""
    import time

    import pyotp
    from sqlalchemy import select

    from server.db import session_scope
    from server.models import User

    with session_scope(app or _world_app) as s:
        user = s.scalar(select(User).where(User.name == name))
        secret, last = user.totp_secret, int(user.totp_last_step or 0)
    step = max(int(time.time() // 30), last + 1)
    return pyotp.TOTP(secret).at(step * 30)


@pytest.fixture
def world(app) -> World:
    return make_world(app)


def sign_in(client, name: str, password: str = PASSWORD, **kw):
    """Sign in through the real form (CSRF token read from the page), answering the one-time
    code step when the server asks for it."""
    page = client.get("/login", **kw)
    token = csrf_from(page.get_data(as_text=True))
    resp = client.post("/login", data={"name": name, "password": password,
                                       "csrf_token": token}, **kw)
    if resp.status_code == 302 and resp.headers["Location"].endswith("/login/verify"):
        page = client.get("/login/verify", **kw)
        resp = client.post("/login/verify", data={
            "code": totp_code(name, client.application),
            "csrf_token": csrf_from(page.get_data(as_text=True))}, **kw)
    return resp


def csrf_from(html: str) -> str:
    import re

    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def sign_in_page(page, base: str, name: str, password: str = PASSWORD) -> None:
    """Browser tests: sign in on the real sign-in page (the one-time code step included)."""
    page.goto(f"{base}/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("#sign-in")
    answer_code_step(page, name)


def answer_code_step(page, name: str) -> None:
    """Browser tests: after the password, type the one-time code when the server asks."""
    page.wait_for_load_state()
    if "/login/verify" in page.url:
        page.fill("#code", totp_code(name))
        page.click("#verify")
        page.wait_for_load_state()
