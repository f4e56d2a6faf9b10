"""WeCom (企业微信) organisation: departments, people, reporting lines and leavers.

* token: `GET {url}/cgi-bin/gettoken?corpid&corpsecret` -> `{errcode 0, access_token,
  expires_in}` (one token per secret: use the secret of an app whose visibility covers the
  organisation, or the 通讯录同步 secret);
* departments: `GET /cgi-bin/department/list?id=` (the whole tree below `root_dept`);
* people: `GET /cgi-bin/user/list?department_id=` per department (direct members, no paging);
* leavers: a person who vanished is looked up with `GET /cgi-bin/user/get?userid=`:
  60111 (UserID不存在) or `status` 5 confirm the leave; 60011 (no privilege) means the person
  is only outside the app's visibility.

Every answer is HTTP 200 with `errcode`: 40014/42001/41001 token, 45009/45033/45011
throttled, 60011 no privilege (scope).

Options: url (https://qyapi.weixin.qq.com), corpid, corpsecret / corpsecret_env, root_dept (1);
`employee_key` is a user field (default `userid`) or `extattr:<name>` (an extended attribute).
"""

from __future__ import annotations

from typing import Any

import requests

from sync.errors import SourceError
from sync.org.client import PlatformClient, Verdict, body_snippet
from sync.org.common import text
from sync.org.config import OrgSourceConfig
from sync.org.model import Departure, OrgContext, OrgDepartment, OrgPerson, OrgSnapshot

TOKEN_CODES = {40014, 42001, 41001}
THROTTLE_CODES = {45009, 45033, 45011}
DENIED_CODES = {60011}
GONE = 60111  # UserID不存在
EXITED = 5  # user status: exited the company


def classify(resp: requests.Response, doc: Any) -> Verdict:
    if resp.status_code != 200 or not isinstance(doc, dict):
        return Verdict("error", f"HTTP {resp.status_code}: {body_snippet(resp)}")
    code = doc.get("errcode", 0)
    msg = f"errcode {code}: {doc.get('errmsg', '')}"
    if code == 0:
        return Verdict("ok")
    if code in TOKEN_CODES:
        return Verdict("token", msg)
    if code in THROTTLE_CODES:
        return Verdict("throttle", msg)
    if code in DENIED_CODES or code == GONE:
        return Verdict("denied", msg)  # the caller tells "no privilege" from "no such user"
    return Verdict("error", msg)


def _token(client: PlatformClient) -> tuple[str, float]:
    source = client.source
    url = f"{source.url()}/cgi-bin/gettoken"
    resp, doc = client.send("GET", url, "gettoken", params={
        "corpid": str(source.options.get("corpid") or ""),
        "corpsecret": source.secret("corpsecret")})
    verdict = classify(resp, doc)
    if verdict.kind != "ok":
        raise SourceError(source.name, f"gettoken: {verdict.message}", url)
    return text(doc.get("access_token")), float(doc.get("expires_in") or 7200)


def fetch_org(source: OrgSourceConfig, ctx: OrgContext) -> OrgSnapshot:
    base = source.url()
    root = str(source.options.get("root_dept") or 1)
    snap = OrgSnapshot("wecom", source.name,
                       request=f"WeCom {base}/cgi-bin/department/list + user/list from "
                               f"department {root}")
    query = lambda token: {"params": {"access_token": token}}  # noqa: E731
    with PlatformClient(source, classify, _token) as client:
        reply = client.call("GET", f"{base}/cgi-bin/department/list", "department/list", query,
                            params={"id": root})
        if reply.verdict.kind != "ok":
            raise SourceError(source.name, f"department/list: {reply.verdict.message}")
        for d in _list(source, reply.doc, "department", "department/list"):
            dept = OrgDepartment(text(d.get("id")), text(d.get("name")),
                                 "" if text(d.get("id")) == root else text(d.get("parentid")))
            if dept.id:
                snap.departments[dept.id] = dept
        for dept_id in list(snap.departments):
            what = f"user/list department {dept_id}"
            reply = client.call("GET", f"{base}/cgi-bin/user/list", what, query,
                                params={"department_id": dept_id})
            if reply.verdict.kind != "ok":
                snap.scope_gaps.append(f"department {snap.department_name(dept_id)} "
                                       f"({dept_id}): members not readable: "
                                       f"{reply.verdict.message}")
                continue
            snap.pages += 1
            for u in _list(source, reply.doc, "userlist", what):
                _person(source, u, dept_id, snap)
            ctx.progress(snap.pages, len(snap.people))
        for uid in sorted(ctx.expected - set(snap.people) - set(snap.departed)):
            reply = client.call("GET", f"{base}/cgi-bin/user/get", f"user/get {uid}", query,
                                params={"userid": uid})
            doc = reply.doc if isinstance(reply.doc, dict) else {}
            if doc.get("errcode") == GONE:
                snap.departed[uid] = Departure(uid, "", None,
                                               "WeCom user/get errcode 60111 (UserID不存在)")
            elif reply.verdict.kind == "ok" and doc.get("status") == EXITED:
                snap.departed[uid] = Departure(uid, text(doc.get("name")), None,
                                               "WeCom user/get status 5 (exited)")
            elif reply.verdict.kind == "ok":
                snap.unconfirmed[uid] = ("the user exists but is in no department the app "
                                         "can read")
            else:
                snap.unconfirmed[uid] = f"user/get: {reply.verdict.message}"
        snap.calls = client.calls
    return snap


def _person(source: OrgSourceConfig, u: dict[str, Any], dept_id: str,
            snap: OrgSnapshot) -> None:
    uid = text(u.get("userid"))
    if not uid or uid in snap.people:
        return
    if u.get("status") == EXITED:
        snap.departed[uid] = Departure(uid, text(u.get("name")), None,
                                       "WeCom user/list status 5 (exited)")
        return
    depts = tuple(text(d) for d in (u.get("department") or [dept_id]))
    main = text(u.get("main_department")) or (depts[0] if depts else dept_id)
    leaders = u.get("direct_leader") or []
    snap.people[uid] = OrgPerson(
        user_id=uid, name=text(u.get("name")), employee_no=_key(u, source.employee_key),
        department_id=main, position=text(u.get("position")),
        manager_user_id=text(leaders[0]) if leaders else "",
        email=text(u.get("biz_mail") or u.get("email")), department_ids=depts)


def _key(u: dict[str, Any], key: str) -> str:
    """`employee_key = "extattr:工号"` reads a text extended attribute (where companies keep
    HR's number when the userid is something else); any other key is a user field."""
    if key.startswith("extattr:"):
        name = key.split(":", 1)[1]
        for attr in ((u.get("extattr") or {}).get("attrs") or []):
            if isinstance(attr, dict) and attr.get("name") == name:
                return text((attr.get("text") or {}).get("value"))
        return ""
    return text(u.get(key))


def _list(source: OrgSourceConfig, doc: Any, key: str, what: str) -> list[dict[str, Any]]:
    rows = doc.get(key) if isinstance(doc, dict) else None
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise SourceError(source.name, f"{what}: {key} is not a list")
    return [r for r in rows if isinstance(r, dict)]
