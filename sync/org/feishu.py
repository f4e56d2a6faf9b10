"""Feishu / Lark (飞书) organisation: departments, people, reporting lines and leavers.

* token: `POST {url}/open-apis/auth/v3/tenant_access_token/internal {app_id, app_secret}` ->
  `{code: 0, tenant_access_token, expire}`; sent as `Authorization: Bearer`;
* departments: `GET /open-apis/contact/v3/departments/0/children?fetch_child=true` with
  `page_size` (≤50) and `page_token` (`data {has_more, page_token, items}`); a department too
  big to recurse (43010) is walked level by level instead;
* people: `GET /open-apis/contact/v3/users/find_by_department?department_id=` (direct
  members, same paging), `user_id_type` and `department_id_type` on every call;
* leavers: a person who vanished is looked up with `GET /open-apis/contact/v3/users/:user_id`:
  `status.is_resigned` confirms the leave; any other answer only says "not visible".

Errors: HTTP 4xx/5xx with `{code, msg, error}`; 99991661/99991663 token missing/invalid
(a new token is fetched), 99991400 throttled (HTTP 429, wait `x-ogw-ratelimit-reset`
seconds), 40004/40014/41050/99991672 no authority (scope).

Options: url, app_id, app_secret / app_secret_env, user_id_type (user_id), root_name ("公司"),
page_size (≤50).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import requests

from sync.errors import SourceError
from sync.org.client import PlatformClient, Reply, Verdict, body_snippet
from sync.org.common import text
from sync.org.config import OrgSourceConfig
from sync.org.model import Departure, OrgContext, OrgDepartment, OrgPerson, OrgSnapshot

TOKEN_CODES = {99991661, 99991663, 99991671}
THROTTLE_CODES = {99991400}
DENIED_CODES = {40004, 40014, 41050, 99991672}
NO_RECURSION = 43010  # the department is too big for fetch_child
ROOT = "0"
MAX_PAGES = 100_000


def classify(resp: requests.Response, doc: Any) -> Verdict:
    code = doc.get("code") if isinstance(doc, dict) else None
    if code is None:
        if resp.status_code == 429:
            return Verdict("throttle", "HTTP 429", _reset(resp))
        return Verdict("error", f"HTTP {resp.status_code}: {body_snippet(resp)}")
    msg = f"HTTP {resp.status_code} code {code}: {doc.get('msg', '')}"
    if code == 0 and resp.status_code == 200:
        return Verdict("ok")
    if code in TOKEN_CODES:
        return Verdict("token", msg)
    if code in THROTTLE_CODES or resp.status_code == 429:
        return Verdict("throttle", msg, _reset(resp))
    if code in DENIED_CODES or code == NO_RECURSION:
        return Verdict("denied", msg)  # NO_RECURSION: the caller walks level by level
    return Verdict("error", msg)


def _reset(resp: requests.Response) -> float | None:
    value = resp.headers.get("x-ogw-ratelimit-reset", "").strip()
    return float(value) if value.replace(".", "", 1).isdigit() else None


def _token(client: PlatformClient) -> tuple[str, float]:
    source = client.source
    url = f"{source.url()}/open-apis/auth/v3/tenant_access_token/internal"
    resp, doc = client.send("POST", url, "tenant_access_token", json={
        "app_id": str(source.options.get("app_id") or ""),
        "app_secret": source.secret("app_secret")})
    verdict = classify(resp, doc)
    if verdict.kind != "ok":
        raise SourceError(source.name, f"tenant_access_token: {verdict.message}", url)
    return text(doc.get("tenant_access_token")), float(doc.get("expire") or 7200)


def fetch_org(source: OrgSourceConfig, ctx: OrgContext) -> OrgSnapshot:
    base = source.url()
    size = min(int(source.options.get("page_size") or 50), 50)
    id_type = str(source.options.get("user_id_type") or "user_id")
    ids = {"user_id_type": id_type, "department_id_type": "department_id"}
    snap = OrgSnapshot("feishu", source.name,
                       request=f"Feishu {base}/open-apis/contact/v3 departments/0/children + "
                               "users/find_by_department")
    snap.departments[ROOT] = OrgDepartment(ROOT, str(source.options.get("root_name") or "公司"),
                                           "")
    bearer = lambda token: {"headers": {"Authorization": f"Bearer {token}"}}  # noqa: E731

    def pages(url: str, what: str, params: dict[str, Any]) -> list[Reply]:
        out, page_token = [], ""
        for _ in range(MAX_PAGES):
            query = {**ids, **params, "page_size": size}
            if page_token:
                query["page_token"] = page_token
            reply = client.call("GET", url, f"{what} page {len(out) + 1}", bearer,
                                params=query)
            out.append(reply)
            data = reply.doc.get("data") if isinstance(reply.doc, dict) else None
            if reply.verdict.kind != "ok" or not isinstance(data, dict):
                break
            previous, page_token = page_token, text(data.get("page_token"))
            if not data.get("has_more"):
                break
            if not page_token or page_token == previous:
                raise SourceError(source.name, f"{what}: has_more without a new page_token")
        return out

    with PlatformClient(source, classify, _token) as client:
        queue, recursive = deque([ROOT]), True
        while queue:
            parent = queue.popleft()
            replies = pages(f"{base}/open-apis/contact/v3/departments/{parent}/children",
                            f"departments/{parent}/children",
                            {"fetch_child": "true" if recursive else "false"})
            first = replies[0]
            if isinstance(first.doc, dict) and first.doc.get("code") == NO_RECURSION \
                    and recursive:
                recursive = False  # too big to recurse: one level at a time
                queue.appendleft(parent)
                continue
            for reply in replies:
                if reply.verdict.kind == "denied":
                    snap.scope_gaps.append(f"department {snap.department_name(parent)} "
                                           f"({parent}): sub-departments not readable: "
                                           f"{reply.verdict.message}")
                    break
                for d in _items(source, reply, f"departments/{parent}/children"):
                    dept = OrgDepartment(text(d.get("department_id")), text(d.get("name")),
                                         text(d.get("parent_department_id")) or parent)
                    if (d.get("status") or {}).get("is_deleted") or not dept.id:
                        continue
                    if dept.id not in snap.departments:
                        snap.departments[dept.id] = dept
                        if not recursive:
                            queue.append(dept.id)
        for dept_id in list(snap.departments):
            replies = pages(f"{base}/open-apis/contact/v3/users/find_by_department",
                            f"users/find_by_department {dept_id}", {"department_id": dept_id})
            for reply in replies:
                if reply.verdict.kind == "denied":
                    snap.scope_gaps.append(f"department {snap.department_name(dept_id)} "
                                           f"({dept_id}): members not readable: "
                                           f"{reply.verdict.message}")
                    break
                snap.pages += 1
                for u in _items(source, reply, f"users/find_by_department {dept_id}"):
                    _person(source, u, id_type, dept_id, snap)
                ctx.progress(snap.pages, len(snap.people))
        for uid in sorted(ctx.expected - set(snap.people)):
            if uid in snap.departed:
                continue
            reply = client.call("GET", f"{base}/open-apis/contact/v3/users/{uid}",
                                f"users/{uid}", bearer, params=ids)
            user = (reply.doc.get("data") or {}).get("user") \
                if reply.verdict.kind == "ok" and isinstance(reply.doc, dict) else None
            if isinstance(user, dict) and (user.get("status") or {}).get("is_resigned"):
                snap.departed[uid] = Departure(uid, text(user.get("name")), None,
                                               "Feishu users/:user_id status.is_resigned")
            elif isinstance(user, dict):
                snap.unconfirmed[uid] = ("the user exists and has not resigned, but is in no "
                                         "department the app can read")
            else:
                snap.unconfirmed[uid] = f"users/{uid}: {reply.verdict.message}"
        snap.calls = client.calls
    return snap


def _person(source: OrgSourceConfig, u: dict[str, Any], id_type: str, dept_id: str,
            snap: OrgSnapshot) -> None:
    uid = text(u.get(id_type))
    if not uid or uid in snap.people:
        return
    if (u.get("status") or {}).get("is_resigned"):
        snap.departed[uid] = Departure(uid, text(u.get("name")), None,
                                       "Feishu find_by_department status.is_resigned")
        return
    depts = tuple(text(d) for d in (u.get("department_ids") or [dept_id]))
    snap.people[uid] = OrgPerson(
        user_id=uid, name=text(u.get("name")), employee_no=text(u.get(source.employee_key)),
        department_id=depts[0] if depts else dept_id, position=text(u.get("job_title")),
        manager_user_id=text(u.get("leader_user_id")),
        email=text(u.get("enterprise_email") or u.get("email")), department_ids=depts)


def _items(source: OrgSourceConfig, reply: Reply, what: str) -> list[dict[str, Any]]:
    data = reply.doc.get("data") if isinstance(reply.doc, dict) else None
    if reply.verdict.kind != "ok":
        return []
    if not isinstance(data, dict):
        raise SourceError(source.name, f"{what}: answer has no data object")
    items = data.get("items") or []
    if not isinstance(items, list):
        raise SourceError(source.name, f"{what}: data.items is not a list")
    return [i for i in items if isinstance(i, dict)]
