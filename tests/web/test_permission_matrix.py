"""Every route x every role x own/other department, generated from app.url_map.

A route without a declared policy fails here. For each declared route the HTTP answer must
agree with `policy.can` (refused: 403 and none of the other department's data; allowed: never
401/403), and a hand-written table pins what the roles may do, so that a wrong policy fails too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from server import declarations, policy
from tests.web.conftest import OTHER, OTHER_DEPT, OTHER_NAME, OWN, OWN_DEPT, PERIOD, make_world

ROLES = ["hr_admin", "executive", "dept_head", "employee", "auditor"]
TEMPLATE = Path(__file__).resolve().parents[2] / "workbook_templates" / "manufacturing.xlsx"

# What the roles may do, written down independently of server/policy.py (docs/roles.md).
EXPECTED = {
    "period.create": {"hr_admin"},
    "period.pull": {"hr_admin"},
    "period.score": {"hr_admin", "executive", "dept_head"},
    "period.submit": {"hr_admin", "executive", "dept_head"},
    "period.view": {"hr_admin", "executive", "dept_head", "auditor"},
    "period.transition": {"hr_admin", "executive"},
    "appeal.answer": {"hr_admin"},
    "feedback.respond": {"employee"},
    "users.manage": {"hr_admin"},
    "users.view": {"hr_admin", "auditor"},
    "clients.manage": {"hr_admin"},
    "facts.view": {"hr_admin", "auditor"},
    "roster.view": {"hr_admin", "auditor"},
    "roster.apply": {"hr_admin"},
    "notifications.view": {"hr_admin", "auditor"},
    "notifications.retry": {"hr_admin"},
}


def test_role_table_is_what_docs_roles_says():
    for action, roles in EXPECTED.items():
        assert set(policy.ACTIONS[action]) == roles, action
    # the auditor reads everything and changes nothing
    writes = {"period.create", "period.pull", "period.score", "period.submit",
              "period.transition", "adjustment.make", "appeal.answer", "users.manage",
              "clients.manage", "feedback.respond", "roster.apply", "notifications.retry"}
    assert not [a for a in writes if "auditor" in policy.ACTIONS[a]]


@pytest.fixture
def matrix_app(app):
    # CSRF has its own tests; here a POST without a token must still meet the policy first.
    app.config["WTF_CSRF_ENABLED"] = False
    return app


def _params(rule, world, variant: str, role: str | None) -> dict[str, object]:
    values = {"token_id": world.token_ids[role or "hr_admin"], "code": PERIOD,
              "employee_id": OWN if variant == "own" else OTHER,
              "appeal_id": world.appeals[variant], "user_id": world.victim_id,
              "client_id": world.client_pk, "filename": "kpibook.css",
              "path": "taskpane.html", "source": "erp", "indicator": "PROD_EFF",
              "session_id": 999999, "name": "dingtalk", "binding_id": 999999,
              "notification_id": 999999}
    return {arg: values[arg] for arg in rule.arguments}


def _subject(rule, variant: str) -> policy.Subject | None:
    if {"employee_id", "appeal_id"} & set(rule.arguments):
        return policy.Subject(OWN, OWN_DEPT) if variant == "own" else \
            policy.Subject(OTHER, OTHER_DEPT)
    return None


def _routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_route_declares_a_policy(app):
    missing = sorted(f"{m} {r.rule} ({r.endpoint})" for r, m in _routes(app)
                     if declarations.route_policy(app, r.endpoint) is None)
    assert not missing, ("routes without a declared policy (server/policy.py: web/token/"
                         "machine/public): " + ", ".join(missing))


def _payload():
    from addin.headless import workbook_to_payload

    return workbook_to_payload(TEMPLATE) if TEMPLATE.is_file() else {}


def test_matrix(matrix_app, web_login):
    app = matrix_app
    world = make_world(app)
    payload = _payload()
    from server.db import session_scope
    from server.models import User

    with session_scope(app) as s:
        users = {role: s.get(User, uid) for role, uid in world.users.items()}
        for u in users.values():
            s.expunge(u)
    tokens = {}
    with session_scope(app) as s:
        from server.auth import create_token

        for role, u in users.items():
            tokens[role] = create_token(s, s.get(User, u.id), "matrix")
    checked = 0
    failures = []
    for rule, method in _routes(app):
        declared = declarations.route_policy(app, rule.endpoint)
        if declared is None or declared.kind == "machine":
            continue  # the first test names it / tests/web/test_oauth.py
        variants = ["own", "other"] if _subject(rule, "own") else ["own"]
        for variant in variants:
            for role in [None, *ROLES]:
                url = _build(app, rule, _params(rule, world, variant, role))
                client = app.test_client()
                headers = {}
                if role is not None:
                    if declared.kind == "token":
                        headers["Authorization"] = f"Bearer {tokens[role]}"
                    else:
                        web_login(client, world.names[role])
                kw = {"json": payload} if rule.rule.startswith("/xl/") else {}
                resp = client.open(url, method=method, headers=headers, **kw)
                checked += 1
                body = resp.get_data(as_text=True)
                problem = _judge(declared, role and users[role], rule, variant, method, resp,
                                 body, url)
                if problem:
                    failures.append(f"{method} {url} as {role or 'anonymous'}: {problem}")
    assert checked > 200
    assert not failures, "\n".join(failures[:40])


def _build(app, rule, params):
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **params)


def _judge(declared, user, rule, variant, method, resp, body, url) -> str | None:
    status = resp.status_code
    if status >= 500:
        return f"server error {status}"
    if declared.kind == "public":
        return "public route refused" if status == 403 else None
    if user is None:
        if status in (401, 403) or (status == 302 and "/login" in resp.headers.get(
                "Location", "")):
            return None
        return f"anonymous got {status}"
    allowed = policy.can(user, declared.action, _subject(rule, variant))
    if allowed and status in (401, 403):
        return f"allowed by the policy but answered {status}: {body[:120]!r}"
    if not allowed and status != 403:
        return f"refused by the policy but answered {status}"
    # Ribbon answers only rewrite the workbook the user sent; the URL itself may name OTHER
    # (e.g. in the language switch link), which is not data.
    secrets = [OTHER_NAME] + ([] if OTHER in url else [OTHER])
    if not rule.rule.startswith("/xl/") and not policy.visible(user, OTHER, OTHER_DEPT) and \
            any(x in body for x in secrets):
        return "shows the other department's manager"
    return None


# --- data-level cases: self, other department, authored-by-me (docs/roles.md) -------------------

# (case, role, authority, the user's own employee_id, what, target, expected status, says)
DATA_CASES = [
    ("self: a scored department head", "dept_head", {"departments": [OWN_DEPT]}, OWN,
     "adjust", OWN, 403, "不能调整自己的考核结果"),
    ("self: HR is scored too", "hr_admin", {}, OWN, "adjust", OWN, 403, "不能调整自己的考核结果"),
    ("self: revert touching one's own result", "executive", {}, OWN, "revert", OWN, 403,
     "不能调整自己的考核结果"),
    ("other department: department head", "dept_head", {"departments": [OWN_DEPT]}, "",
     "adjust", OTHER, 403, "其他部门"),
    ("other department: executive of one workshop", "executive",
     {"departments": [OWN_DEPT]}, "", "adjust", OTHER, 403, "其他部门"),
    ("own department (allowed)", "dept_head", {"departments": [OWN_DEPT]}, "", "adjust",
     OWN, 302, ""),
    ("authored by me: approve", "executive", {}, "", "approve-own", OWN, 403,
     "不能批准自己提交的调整"),
    ("authored by someone else: approve (allowed)", "executive", {}, "", "approve-other",
     OWN, 302, ""),
    ("authored by me: send back (allowed)", "executive", {}, "", "return-own", OWN, 302, ""),
    ("period outside my scope: approve", "executive", {"departments": [OWN_DEPT]}, "",
     "approve-period", None, 403, "二车间"),
]


def _web_adjust(app, name: str, employee_id: str, points: str = "1") -> str:
    """A web adjustment by `name` (as HR's page would post it): the commit it made."""
    from server.services.history import history_for

    client = app.test_client()
    from tests.web.conftest import sign_in

    sign_in(client, name)
    url = f"/periods/{PERIOD}/results/{employee_id}"
    resp = client.post(url + "/adjust", data={"indicator": "PROD_EFF", "points": points,
                                              "reason": "数据级用例"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return history_for(app).head()


@pytest.mark.parametrize("case,role,authority,own_id,what,target,status,says", DATA_CASES,
                         ids=[c[0] for c in DATA_CASES])
def test_data_level_matrix(matrix_app, web_login, case, role, authority, own_id, what,
                           target, status, says):
    app = matrix_app
    make_world(app, state="in_review")
    app.config["PERIOD_APPROVERS"] = ("hr_admin", "executive")
    client = app.test_client()
    me = web_login(client, "me", role, authority=authority, employee_id=own_id)
    if what == "adjust":
        url = f"/periods/{PERIOD}/results/{target}"
        resp = client.post(url + "/adjust", data={"indicator": "PROD_EFF", "points": "1",
                                                  "reason": "数据级用例"})
    elif what == "revert":
        commit = _web_adjust(app, "hr", target)
        resp = client.post(f"/review/{PERIOD}/revert", data={"commit": commit,
                                                            "reason": "数据级用例"})
    elif what.endswith(("-own", "-other")):
        decision, whose = what.split("-")
        if whose == "own":
            url = f"/periods/{PERIOD}/results/{target}"
            assert client.post(url + "/adjust", data={
                "indicator": "PROD_EFF", "points": "1", "reason": "我的调整"}).status_code == 302
            from server.services.history import history_for

            commit = history_for(app).head()
        else:
            commit = _web_adjust(app, "hr", target)
        resp = client.post(f"/review/{PERIOD}/decide", data={
            "commit": commit, "decision": decision, "reason": "数据级用例"})
    else:  # approve-period
        resp = client.post(f"/periods/{PERIOD}/transition", data={"action": "approve"})
    text = resp.get_data(as_text=True)
    assert resp.status_code == status, text
    assert says in text
    # the same answer from the policy module's data (not only the route)
    if what in ("adjust", "revert"):
        from decimal import Decimal

        from server.db import session_scope
        from server.models import Period

        with session_scope(app) as s:
            period = s.query(Period).filter_by(code=PERIOD).one()
            refused = policy.change_refusals(s, me, period, {(target, "PROD_EFF"): Decimal(1)})
        visible = policy.visible(me, target, OTHER_DEPT if target == OTHER else OWN_DEPT)
        assert (not refused and visible) == (status == 302)
