"""A Feishu / Lark (飞书) open platform on 127.0.0.1 (https://open.feishu.cn).

Routes (shapes from the Feishu open-platform documents cited in docs/sync.md):
  POST /open-apis/auth/v3/tenant_access_token/internal   {app_id, app_secret} ->
       {code: 0, msg, tenant_access_token, expire}
  GET  /open-apis/contact/v3/departments/{id}/children  root "0"; department_id_type,
       user_id_type, fetch_child, page_size (default 10, max 50), page_token ->
       data: {has_more, page_token, items}
  GET  /open-apis/contact/v3/users/find_by_department   department_id, same paging
  GET  /open-apis/contact/v3/users/{user_id}             data: {user}; a leaver has
       status.is_resigned = true
Bearer tenant token on every call: 99991661 missing, 99991663 invalid or expired (HTTP 400).
Errors: HTTP 4xx + {code, msg, error: {log_id, ...}}: 40011 page size, 40012 page token,
40014 no authority over the parent department, 40004 no authority over the department,
41050 no authority over the user, 41012 invalid user id, 43010 department too big for
fetch_child. Throttling: HTTP 429 {code: 99991400} with x-ogw-ratelimit-limit and
x-ogw-ratelimit-reset.

Sign-in (docs/signin.md; https://accounts.feishu.cn is served on the same port):
  GET  /open-apis/authen/v1/authorize   ?client_id&redirect_uri&scope&state
       &code_challenge&code_challenge_method=S256 -> the QR page (a button per person)
  POST /open-apis/authen/v1/authorize/confirm -> 302 redirect_uri?code&state
       (denied: ?error=access_denied&state)
  POST /open-apis/authen/v2/oauth/token {grant_type: authorization_code, client_id,
       client_secret, code, redirect_uri, code_verifier} -> {code: 0, access_token,
       expires_in, token_type: "Bearer", scope}; HTTP 400 {code, error,
       error_description}: 20002 invalid_client, 20003 invalid_grant (code not found or
       used), 20004 invalid_grant (expired), 20049 invalid_grant (PKCE check failed)
  GET  /open-apis/authen/v1/user_info   Bearer user token -> data: {name, open_id, union_id,
       user_id, employee_no, email, tenant_key}; 99991663 invalid token
Messages with cards (im/v1/messages) belong here too, as more @route methods.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

from sync.simulators.cards import FeishuCards
from sync.simulators.org_data import SimDepartment, SimPerson
from sync.simulators.platform import PlatformSimulator, SimAnswer, SimRequest, route

APP_ID, APP_SECRET = "cli_kpibook", "demo-feishu-secret"
ROOT = "0"


class FeishuSimulator(FeishuCards, PlatformSimulator):  # cards.py: work notifications
    platform = "feishu"
    forbid_recursion: set[int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.forbid_recursion = set()  # departments too big for fetch_child (43010)

    @staticmethod
    def error(status: int, code: int, msg: str) -> SimAnswer:
        return SimAnswer(status, {"code": code, "msg": msg, "error": {
            "log_id": secrets.token_hex(12).upper(),
            "troubleshooter": "https://open.feishu.cn/search?log_id=…"}})

    @staticmethod
    def ok(data: Any) -> SimAnswer:
        return SimAnswer(200, {"code": 0, "msg": "success", "data": data})

    def throttled(self, req: SimRequest) -> SimAnswer:
        ans = self.error(429, 99991400, "request trigger frequency limit")
        ans.headers.update({"x-ogw-ratelimit-limit": "50", "x-ogw-ratelimit-reset": "1"})
        return ans

    def _auth(self, req: SimRequest) -> SimAnswer | None:
        scheme, _, token = (req.headers.get("authorization") or "").partition(" ")
        if scheme != "Bearer" or not token:
            return self.error(400, 99991661, "Missing access token for authorization.")
        if self.token_state(token) != "ok":
            return self.error(400, 99991663, "Invalid access token for authorization.")
        return None

    # -- ids in the asked-for types
    @staticmethod
    def user_id(p: SimPerson | str, kind: str) -> str:
        uid = p if isinstance(p, str) else p.userid
        if not uid:
            return ""
        return {"open_id": "ou_" + uid, "union_id": "on_" + uid}.get(kind, uid)

    def _person_by(self, value: str, kind: str) -> SimPerson | None:
        return next((p for p in self.org.people if self.user_id(p, kind) == value), None)

    @staticmethod
    def dept_id(dept: int, kind: str) -> str:
        if dept == 1:
            return ROOT
        return str(dept) if kind == "department_id" else f"od-{dept}"

    def _dept_by(self, value: str, kind: str) -> SimDepartment | None:
        return next((d for d in self.org.departments if self.dept_id(d.id, kind) == value),
                    None)

    def _paging(self, req: SimRequest, rows: list[Any]) -> tuple[list[Any], dict[str, Any]] | \
            SimAnswer:
        try:
            size = int(req.query.get("page_size") or 10)
        except ValueError:
            size = 0
        if size < 1 or size > 50:
            return self.error(400, 40011, "page size is invalid")
        token = req.query.get("page_token") or ""
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
        except ValueError:
            return self.error(400, 40012, "page token is invalid")
        size = self.page_limit(size, 10, 50)
        page = rows[start:start + size]
        more = start + len(page) < len(rows)
        meta: dict[str, Any] = {"has_more": more}
        if more:
            meta["page_token"] = base64.urlsafe_b64encode(
                str(start + len(page)).encode()).decode()
        return page, meta

    def _user(self, p: SimPerson, uid_kind: str, dept_kind: str) -> dict[str, Any]:
        return {
            "user_id": p.userid, "open_id": self.user_id(p, "open_id"),
            "union_id": self.user_id(p, "union_id"), "name": p.name, "en_name": "",
            "employee_no": p.job_number, "job_title": p.title,
            "department_ids": [self.dept_id(d, dept_kind) for d in p.departments],
            "leader_user_id": self.user_id(p.manager, uid_kind),
            "enterprise_email": p.email, "employee_type": 1, "join_time": 1_600_000_000,
            "status": {"is_frozen": False, "is_resigned": p.left_at is not None,
                       "is_activated": p.left_at is None, "is_exited": False,
                       "is_unjoin": False}}

    # -- token
    @route("POST", "/open-apis/auth/v3/tenant_access_token/internal", issues_token=True)
    def tenant_token(self, req: SimRequest) -> SimAnswer:
        body = req.json() or {}
        if body.get("app_id") != APP_ID or body.get("app_secret") != APP_SECRET:
            return self.error(400, 10014, "app secret invalid")
        token, seconds = self.issue_token("t-")
        return SimAnswer(200, {"code": 0, "msg": "ok", "tenant_access_token": token,
                               "expire": seconds})

    # -- sign-in
    @route("GET", "/open-apis/authen/v1/authorize")
    def authorize(self, req: SimRequest) -> SimAnswer:
        problem = ""
        if req.query.get("client_id") != APP_ID:
            problem = "应用不存在 / app not found (client_id)"
        elif not req.query.get("redirect_uri"):
            problem = "redirect_uri 缺失"
        return self.sign_in_page(req, "飞书 扫码登录 / Feishu",
                                 "/open-apis/authen/v1/authorize/confirm", problem)

    @route("POST", "/open-apis/authen/v1/authorize/confirm")
    def authorize_confirm(self, req: SimRequest) -> SimAnswer:
        form = req.form()
        target, state = form.get("redirect_uri", ""), form.get("state", "")
        if form.get("client_id") != APP_ID or not target:
            return self.error(400, 20002, "invalid client")
        if form.get("deny"):
            return self.redirect(target, error="access_denied", state=state)
        code = self.issue_code(form.get("userid", ""), APP_ID, target,
                               code_challenge=form.get("code_challenge", ""),
                               code_challenge_method=form.get("code_challenge_method", ""))
        return self.redirect(target, code=code, state=state)

    @staticmethod
    def oauth_error(code: int, error: str, description: str) -> SimAnswer:
        return SimAnswer(400, {"code": code, "error": error,
                               "error_description": description})

    @route("POST", "/open-apis/authen/v2/oauth/token", issues_token=True)
    def user_token(self, req: SimRequest) -> SimAnswer:
        body = req.json() or {}
        if body.get("client_id") != APP_ID or body.get("client_secret") != APP_SECRET:
            return self.oauth_error(20002, "invalid_client", "The client secret is invalid.")
        if body.get("grant_type") != "authorization_code":
            return self.oauth_error(20001, "invalid_request", "grant_type is invalid.")
        grant = self.take_code(str(body.get("code") or ""))
        if grant == "expired":
            return self.oauth_error(20004, "invalid_grant", "The authorization code expired.")
        if isinstance(grant, str) or grant.client_id != APP_ID:
            return self.oauth_error(20003, "invalid_grant",
                                    "The authorization code is not found or already used.")
        if body.get("redirect_uri") and body["redirect_uri"] != grant.redirect_uri:
            return self.oauth_error(20003, "invalid_grant", "redirect_uri does not match.")
        challenge = grant.extra.get("code_challenge", "")
        if challenge:
            verifier = str(body.get("code_verifier") or "")
            digest = base64.urlsafe_b64encode(
                hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if digest != challenge:
                return self.oauth_error(20049, "invalid_grant",
                                        "PKCE code_verifier check failed.")
        token, seconds = self.issue_user_token(grant.userid, "u-")
        return SimAnswer(200, {"code": 0, "access_token": token, "expires_in": seconds,
                               "token_type": "Bearer", "scope": "auth:user.id:read"})

    @route("GET", "/open-apis/authen/v1/user_info")
    def user_info(self, req: SimRequest) -> SimAnswer:
        scheme, _, token = (req.headers.get("authorization") or "").partition(" ")
        p = self.org.person(self.user_of_token(token) or "") if scheme == "Bearer" else None
        if p is None:
            return self.error(401, 99991663, "Invalid access token for authorization.")
        return self.ok({"name": p.name, "en_name": "", "open_id": self.user_id(p, "open_id"),
                        "union_id": self.user_id(p, "union_id"), "user_id": p.userid,
                        "employee_no": p.job_number, "email": p.email,
                        "enterprise_email": p.email, "tenant_key": "kpibook-tenant"})

    # -- contacts
    @route("GET", "/open-apis/contact/v3/departments/{department_id}/children")
    def children(self, req: SimRequest) -> SimAnswer:
        if (refused := self._auth(req)) is not None:
            return refused
        kind = req.query.get("department_id_type") or "open_department_id"
        parent = self._dept_by(req.params["department_id"], kind)
        if parent is None or not self.org.visible(parent.id):
            return self.error(403, 40014, "no parent dept authority error")
        recursive = req.query.get("fetch_child") == "true"
        if recursive and parent.id in self.forbid_recursion:
            return self.error(400, 43010, "department too large to fetch children recursively")
        got = self._paging(req, self.org.children(parent.id, recursive))
        if isinstance(got, SimAnswer):
            return got
        page, meta = got
        uid_kind = req.query.get("user_id_type") or "open_id"
        items = []
        for d in page:
            lead = next((p for p in self.org.members(d.id) if not any(
                q.userid == p.manager for q in self.org.members(d.id))), None)
            items.append({"name": d.name, "department_id": str(d.id),
                          "open_department_id": f"od-{d.id}",
                          "parent_department_id": self.dept_id(d.parent, kind),
                          "leader_user_id": self.user_id(lead, uid_kind) if lead else "",
                          "member_count": len(self.org.members(d.id)), "order": str(d.id),
                          "status": {"is_deleted": False}})
        return self.ok({**meta, "items": items})

    @route("GET", "/open-apis/contact/v3/users/find_by_department")
    def find_by_department(self, req: SimRequest) -> SimAnswer:
        if (refused := self._auth(req)) is not None:
            return refused
        kind = req.query.get("department_id_type") or "open_department_id"
        dept = self._dept_by(req.query.get("department_id") or "", kind)
        if dept is None or not self.org.visible(dept.id) or dept.id in self.org.denied:
            return self.error(403, 40004, "no dept authority error")
        got = self._paging(req, self.org.members(dept.id))
        if isinstance(got, SimAnswer):
            return got
        page, meta = got
        uid_kind = req.query.get("user_id_type") or "open_id"
        return self.ok({**meta, "items": [self._user(p, uid_kind, kind) for p in page]})

    @route("GET", "/open-apis/contact/v3/users/{user_id}")
    def user(self, req: SimRequest) -> SimAnswer:
        if (refused := self._auth(req)) is not None:
            return refused
        uid_kind = req.query.get("user_id_type") or "open_id"
        p = self._person_by(req.params["user_id"], uid_kind)
        if p is None:
            return self.error(400, 41012, "user id invalid")
        if p.left_at is None and not self.org.visible_person(p.userid):
            return self.error(403, 41050, "no user authority error")
        kind = req.query.get("department_id_type") or "open_department_id"
        return self.ok({"user": self._user(p, uid_kind, kind)})
