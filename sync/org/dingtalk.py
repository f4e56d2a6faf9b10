"""DingTalk (钉钉) organisation: departments, people, reporting lines and leavers.

Both API styles, as DingTalk serves them (docs/sync.md, "DingTalk"):
* token: new style `POST {api_url}/v1.0/oauth2/accessToken {appKey, appSecret}` ->
  `{accessToken, expireIn}`; the same app token is sent to the old host as `?access_token=`;
* departments: old style `POST {url}/topapi/v2/department/listsub {dept_id}` — one level,
  no paging, so the tree is walked from `root_dept` (1);
* people: `POST {url}/topapi/v2/user/list {dept_id, cursor, size}` ->
  `result {has_more, next_cursor, list}` per department (direct members only);
* leavers: new style `GET {api_url}/v1.0/contact/empLeaveRecords?startTime&endTime&nextToken
  &maxResults` (header `x-acs-dingtalk-access-token`) for people who vanished from the lists:
  a leave record confirms they left; without one they are only "not visible" (scope).

Errors: old style answers HTTP 200 with a non-zero `errcode` (40014/42001/41001 token,
90018/90002 throttled, 60011/50004 no permission); new style answers HTTP 4xx with a string
`code` (400 InvalidAuthentication, 403 Forbidden.AccessDenied.QpsLimitForAppkeyAndApi /
QpsLimitForApi, 403 Forbidden.AccessDenied.AccessTokenPermissionDenied). The per-IP ban
answers `{"status": 1111, "wait": 5, ...}`.

Options: url (old host), api_url (new host), appkey, appsecret / appsecret_env, root_dept (1),
root_name ("公司": DingTalk's listsub never returns the root itself), page_size (≤100).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import requests

from sync.errors import SourceError
from sync.org.client import PlatformClient, Verdict, body_snippet
from sync.org.common import date_of, text, window
from sync.org.config import OrgSourceConfig
from sync.org.model import Departure, OrgContext, OrgDepartment, OrgPerson, OrgSnapshot

TOKEN_CODES = {40014, 42001, 41001}  # invalid, expired, missing access_token
THROTTLE_CODES = {90018, 90002}  # per app+API QPS, per API QPS
DENIED_CODES = {60011, 50004}  # no API permission; department outside the app's scope
MAX_PAGES = 100_000


def classify_old(resp: requests.Response, doc: Any) -> Verdict:
    """oapi.dingtalk.com: HTTP 200 and an errcode."""
    if isinstance(doc, dict) and doc.get("status") == 1111:  # per-IP ban
        return Verdict("throttle", f"IP banned by DingTalk: {doc}", float(doc.get("wait") or 5))
    if resp.status_code == 429:
        return Verdict("throttle", "HTTP 429")
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
    if code in DENIED_CODES:
        return Verdict("denied", msg)
    return Verdict("error", msg)


def classify_new(resp: requests.Response, doc: Any) -> Verdict:
    """api.dingtalk.com: the HTTP status, and a string `code` in error bodies."""
    if isinstance(doc, dict) and doc.get("status") == 1111:
        return Verdict("throttle", f"IP banned by DingTalk: {doc}", float(doc.get("wait") or 5))
    if resp.status_code == 200:
        return Verdict("ok")
    code = str(doc.get("code") or "") if isinstance(doc, dict) else ""
    msg = f"HTTP {resp.status_code} {code}: " + (
        str(doc.get("message") or "") if isinstance(doc, dict) else body_snippet(resp))
    if code == "InvalidAuthentication":
        return Verdict("token", msg)
    if resp.status_code == 429 or code.startswith("Forbidden.AccessDenied.QpsLimit"):
        return Verdict("throttle", msg)
    if code == "Forbidden.AccessDenied.AccessTokenPermissionDenied":
        return Verdict("denied", msg)
    return Verdict("error", msg)


def _classify(resp: requests.Response, doc: Any) -> Verdict:
    # one client, two hosts: new-style answers are recognised by their path
    if "/v1.0/" in resp.url:
        return classify_new(resp, doc)
    return classify_old(resp, doc)


def _token(client: PlatformClient) -> tuple[str, float]:
    source = client.source
    url = f"{source.url('api_url')}/v1.0/oauth2/accessToken"
    resp, doc = client.send("POST", url, "accessToken", json={
        "appKey": str(source.options.get("appkey") or ""),
        "appSecret": source.secret("appsecret")})
    verdict = classify_new(resp, doc)
    if verdict.kind != "ok" or not isinstance(doc, dict):
        raise SourceError(source.name, f"accessToken: {verdict.message}", url)
    return text(doc.get("accessToken")), float(doc.get("expireIn") or 7200)


def fetch_org(source: OrgSourceConfig, ctx: OrgContext) -> OrgSnapshot:
    base = source.url("url")
    root = str(source.options.get("root_dept") or 1)
    size = min(int(source.options.get("page_size") or 100), 100)
    snap = OrgSnapshot("dingtalk", source.name,
                       request=f"DingTalk {base}/topapi/v2/department/listsub + user/list "
                               f"from department {root}")
    snap.departments[root] = OrgDepartment(root, str(source.options.get("root_name") or "公司"),
                                           "")
    old = lambda token: {"params": {"access_token": token}}  # noqa: E731
    with PlatformClient(source, _classify, _token) as client:
        queue = deque([root])
        while queue:  # listsub answers one level: walk the tree
            parent = queue.popleft()
            reply = client.call("POST", f"{base}/topapi/v2/department/listsub",
                                f"department/listsub {parent}", old,
                                json={"dept_id": int(parent), "language": "zh_CN"})
            if reply.verdict.kind == "denied":
                snap.scope_gaps.append(f"department {snap.department_name(parent)} ({parent}): "
                                       f"sub-departments not readable: {reply.verdict.message}")
                continue
            for d in _list(source, reply.doc, "result", f"department/listsub {parent}"):
                dept = OrgDepartment(text(d.get("dept_id")), text(d.get("name")),
                                     text(d.get("parent_id")) or parent)
                if dept.id and dept.id not in snap.departments:
                    snap.departments[dept.id] = dept
                    queue.append(dept.id)
        for dept_id in list(snap.departments):
            _people(client, source, base, dept_id, size, snap, ctx, old)
        missing = ctx.expected - set(snap.people)
        if missing:
            _leavers(client, source, missing, snap, ctx)
        snap.calls = client.calls
    return snap


def _people(client: PlatformClient, source: OrgSourceConfig, base: str, dept_id: str,
            size: int, snap: OrgSnapshot, ctx: OrgContext, old: Any) -> None:
    cursor: int | None = 0
    while cursor is not None and snap.pages < MAX_PAGES:
        what = f"user/list department {dept_id} cursor {cursor}"
        reply = client.call("POST", f"{base}/topapi/v2/user/list", what, old,
                            json={"dept_id": int(dept_id), "cursor": cursor, "size": size,
                                  "language": "zh_CN"})
        if reply.verdict.kind == "denied":
            snap.scope_gaps.append(f"department {snap.department_name(dept_id)} ({dept_id}): "
                                   f"members not readable: {reply.verdict.message}")
            return
        result = reply.doc.get("result") if isinstance(reply.doc, dict) else None
        if not isinstance(result, dict):
            raise SourceError(source.name, f"{what}: answer has no result object")
        snap.pages += 1
        for u in _list(source, result, "list", what):
            uid = text(u.get("userid"))
            if not uid or uid in snap.people:
                continue  # someone in several departments is listed in each
            depts = tuple(text(d) for d in (u.get("dept_id_list") or [dept_id]))
            snap.people[uid] = OrgPerson(
                user_id=uid, name=text(u.get("name")),
                employee_no=text(u.get(source.employee_key)),
                department_id=depts[0] if depts else dept_id, position=text(u.get("title")),
                manager_user_id=text(u.get("manager_userid")),
                email=text(u.get("org_email") or u.get("email")), department_ids=depts)
        ctx.progress(snap.pages, len(snap.people))
        nxt = result.get("next_cursor")
        if result.get("has_more") and (nxt is None or int(nxt) <= cursor):
            raise SourceError(source.name, f"{what}: has_more without a later next_cursor")
        cursor = int(nxt) if result.get("has_more") else None


def _leavers(client: PlatformClient, source: OrgSourceConfig, missing: set[str],
             snap: OrgSnapshot, ctx: OrgContext) -> None:
    url = f"{source.url('api_url')}/v1.0/contact/empLeaveRecords"
    start, end = window(ctx)
    new = lambda token: {"headers": {"x-acs-dingtalk-access-token": token}}  # noqa: E731
    token = "0"
    for _page in range(MAX_PAGES):
        params = {"startTime": start.strftime("%Y-%m-%dT%H:%MZ"),
                  "endTime": end.strftime("%Y-%m-%dT%H:%MZ"), "nextToken": token,
                  "maxResults": 50}
        reply = client.call("GET", url, f"empLeaveRecords nextToken {token}", new,
                            params=params)
        if reply.verdict.kind == "denied":
            snap.scope_gaps.append(f"leave records not readable: {reply.verdict.message}")
            break
        doc = reply.doc if isinstance(reply.doc, dict) else {}
        for r in _list(source, doc, "records", "empLeaveRecords"):
            uid = text(r.get("userId"))
            if uid in missing:
                snap.departed[uid] = Departure(
                    uid, text(r.get("name")), date_of(r.get("leaveTime")),
                    f"DingTalk empLeaveRecords leaveReason={text(r.get('leaveReason'))}")
        token = text(doc.get("nextToken"))
        if not token or not doc.get("records"):
            break
    for uid in sorted(missing - set(snap.departed)):
        snap.unconfirmed[uid] = (f"not in any department the app can read, and no leave record "
                                 f"between {start:%Y-%m-%d} and {end:%Y-%m-%d}")


def _list(source: OrgSourceConfig, doc: Any, key: str, what: str) -> list[dict[str, Any]]:
    rows = doc.get(key) if isinstance(doc, dict) else None
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise SourceError(source.name, f"{what}: {key} is not a list")
    return [r for r in rows if isinstance(r, dict)]
