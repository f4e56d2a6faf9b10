"""A DingTalk (钉钉) open platform on 127.0.0.1: both API styles, as two path prefixes that
stand for the two hosts.

  /oapi/...  = https://oapi.dingtalk.com  (old style: ?access_token=, HTTP 200 + errcode)
  /api/...   = https://api.dingtalk.com   (new style: x-acs-dingtalk-access-token header,
                                           camelCase JSON, errors as HTTP 4xx + string code)

Routes (shapes from the DingTalk open-platform documents cited in docs/sync.md):
  POST /api/v1.0/oauth2/accessToken            {appKey, appSecret} -> {accessToken, expireIn}
  GET  /oapi/gettoken                          ?appkey&appsecret -> {errcode, access_token}
  POST /oapi/topapi/v2/department/listsub      {dept_id} -> result: [one level of children]
  POST /oapi/topapi/v2/user/list               {dept_id, cursor, size<=100} ->
                                               result: {has_more, next_cursor, list}
  POST /oapi/topapi/v2/user/get                {userid} -> result: {...}; 60121 if gone
  GET  /api/v1.0/contact/empLeaveRecords       ?startTime&endTime&nextToken&maxResults<=50 ->
                                               {nextToken, records: [{userId, leaveTime...}]}
Tokens: 41001 missing, 40014 invalid, 42001 expired (old); 400 InvalidAuthentication (new).
Throttling: errcode 90018 (old), 403 Forbidden.AccessDenied.QpsLimitForAppkeyAndApi (new);
`ip_ban()` answers the per-IP ban body {"status": 1111, "wait": 5, ...}.

Sign-in (docs/signin.md; a third prefix /login/... = https://login.dingtalk.com):
  GET  /login/oauth2/auth                      ?redirect_uri&response_type=code&client_id
                                               &scope=openid&state&prompt=consent -> the QR
                                               page ("扫码登录"; a button per person = a scan)
  POST /login/oauth2/confirm                   -> 302 redirect_uri?authCode&state
                                               (denied: ?error=access_denied&state)
  POST /api/v1.0/oauth2/userAccessToken        {clientId, clientSecret, code, grantType} ->
                                               {accessToken, refreshToken, expireIn, corpId};
                                               a used, unknown or expired code: 400
                                               {code: "InvalidAuthCode"}
  GET  /api/v1.0/contact/users/me              x-acs-dingtalk-access-token: the user's token
                                               -> {nick, unionId, openId, email, stateCode}
  POST /oapi/topapi/user/getbyunionid          ?access_token (the app's) {unionid} ->
                                               result: {contact_type, userid}; 60121 when
                                               the person is not (or no longer) in the org
Work notifications (/oapi/topapi/message/corpconversation/*) belong here too.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sync.simulators.cards import DingTalkCards
from sync.simulators.org_data import SimPerson
from sync.simulators.platform import PlatformSimulator, SimAnswer, SimRequest, route

APP_KEY, APP_SECRET = "kpibook-org", "demo-dingtalk-org-secret"
CORP_ID = "dingkpibookcorp"


class DingTalkSimulator(DingTalkCards, PlatformSimulator):  # cards.py: work notifications
    platform = "dingtalk"

    @property
    def oapi_url(self) -> str:
        return self.url + "/oapi"

    @property
    def api_url(self) -> str:
        return self.url + "/api"

    # -- envelopes
    @staticmethod
    def old(errcode: int, errmsg: str, **extra: Any) -> SimAnswer:
        return SimAnswer(200, {"errcode": errcode, "errmsg": errmsg, **extra,
                               "request_id": secrets.token_hex(6)})

    @staticmethod
    def new_error(status: int, code: str, message: str) -> SimAnswer:
        return SimAnswer(status, {"code": code, "requestid": secrets.token_hex(8).upper(),
                                  "message": message})

    def throttled(self, req: SimRequest) -> SimAnswer:
        if req.path.startswith("/api/"):
            return self.new_error(403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
                                  "调用该接口触发的限流，请稍后重试")
        return self.old(90018, "当前企业调用该接口超过每秒限流阈值，请稍后重试")

    def ip_ban(self, prefix: str, times: int | None = 1, wait: int = 5) -> None:
        self.fail(prefix, SimAnswer(200, {"status": 1111, "wait": wait, "source": "x5",
                                          "punish": "deny", "uuid": secrets.token_hex(8)}),
                  times)

    def _old_token(self, req: SimRequest) -> SimAnswer | None:
        state = self.token_state(req.query.get("access_token", ""))
        if state == "ok":
            return None
        return {"missing": self.old(41001, "缺少参数access_token"),
                "expired": self.old(42001, "access_token已过期"),
                "invalid": self.old(40014, "不合法的access_token")}[state]

    def _new_token(self, req: SimRequest) -> SimAnswer | None:
        if self.token_state(req.headers.get("x-acs-dingtalk-access-token", "")) == "ok":
            return None
        return self.new_error(400, "InvalidAuthentication", "不合法的access_token")

    # -- tokens
    @route("POST", "/api/v1.0/oauth2/accessToken", issues_token=True)
    def access_token(self, req: SimRequest) -> SimAnswer:
        body = req.json() or {}
        if body.get("appKey") != APP_KEY or body.get("appSecret") != APP_SECRET:
            return self.new_error(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
        token, seconds = self.issue_token()
        return SimAnswer(200, {"accessToken": token, "expireIn": seconds})

    @route("GET", "/oapi/gettoken", issues_token=True)
    def gettoken(self, req: SimRequest) -> SimAnswer:
        if req.query.get("appkey") != APP_KEY or req.query.get("appsecret") != APP_SECRET:
            return self.old(40089, "不合法的corpid或corpsecret")
        token, seconds = self.issue_token()
        return self.old(0, "ok", access_token=token, expires_in=seconds)

    # -- contacts (old style)
    @route("POST", "/oapi/topapi/v2/department/listsub")
    def listsub(self, req: SimRequest) -> SimAnswer:
        if (refused := self._old_token(req)) is not None:
            return refused
        body = req.json() or {}
        try:
            parent = int(body.get("dept_id", 1))
        except (TypeError, ValueError):
            return self.old(400002, "无效的参数 dept_id")
        if not self.org.visible(parent) or self.org.department(parent) is None:
            return self.old(60003, "部门不存在或者部门不在授权范围内")
        return self.old(0, "ok", result=[
            {"dept_id": d.id, "name": d.name, "parent_id": d.parent,
             "create_dept_group": False, "auto_add_user": True}
            for d in self.org.children(parent)])

    def _user(self, p: SimPerson, listing: bool) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "userid": p.userid, "unionid": "u" + p.userid, "name": p.name, "title": p.title,
            "job_number": p.job_number, "org_email": p.email, "dept_id_list": p.departments,
            "hired_date": 1_600_000_000_000, "active": True, "admin": False,
            "boss": not p.manager}
        if p.manager:
            doc["manager_userid"] = p.manager
        leads = [d for d in p.departments
                 if any(q.manager == p.userid for q in self.org.members(d))]
        if listing:
            doc["leader"] = any(q.manager == p.userid for q in self.org.people)
        else:
            doc["leader_in_dept"] = [{"dept_id": d, "leader": d in leads}
                                     for d in p.departments]
        return doc

    @route("POST", "/oapi/topapi/v2/user/list")
    def user_list(self, req: SimRequest) -> SimAnswer:
        if (refused := self._old_token(req)) is not None:
            return refused
        body = req.json() or {}
        try:
            dept, cursor = int(body["dept_id"]), int(body.get("cursor") or 0)
            size = int(body["size"])
        except (KeyError, TypeError, ValueError):
            return self.old(400002, "无效的参数: dept_id, cursor, size")
        if size < 1 or size > 100:
            return self.old(400002, "size 超出范围 (1-100)")
        if not self.org.visible(dept) or self.org.department(dept) is None:
            return self.old(60003, "部门不存在或者部门不在授权范围内")
        if dept in self.org.denied:
            return self.old(60011, "没有调用该接口的权限")
        size = self.page_limit(size, 100, 100)
        rows = self.org.members(dept)
        page = rows[cursor:cursor + size]
        more = cursor + len(page) < len(rows)
        result: dict[str, Any] = {"has_more": more,
                                  "list": [self._user(p, True) for p in page]}
        if more:
            result["next_cursor"] = cursor + len(page)
        return self.old(0, "ok", result=result)

    @route("POST", "/oapi/topapi/v2/user/get")
    def user_get(self, req: SimRequest) -> SimAnswer:
        if (refused := self._old_token(req)) is not None:
            return refused
        p = self.org.person(str((req.json() or {}).get("userid") or ""))
        if p is None:
            return self.old(33012, "无效的userId")
        if p.left_at is not None:
            return self.old(60121, "找不到该用户")
        if not self.org.visible_person(p.userid):
            return self.old(60011, "没有调用该接口的权限")
        return self.old(0, "ok", result=self._user(p, False))

    # -- sign-in
    @route("GET", "/login/oauth2/auth")
    def login_page(self, req: SimRequest) -> SimAnswer:
        problem = ""
        if req.query.get("client_id") != APP_KEY:
            problem = "应用不存在 (client_id)"
        elif req.query.get("response_type") != "code" or not req.query.get("redirect_uri"):
            problem = "参数错误 (response_type, redirect_uri)"
        return self.sign_in_page(req, "钉钉 扫码登录", "/login/oauth2/confirm", problem)

    @route("POST", "/login/oauth2/confirm")
    def login_confirm(self, req: SimRequest) -> SimAnswer:
        form = req.form()
        target, state = form.get("redirect_uri", ""), form.get("state", "")
        if form.get("client_id") != APP_KEY or not target:
            return self.new_error(400, "invalidClientId", "无效的clientId")
        if form.get("deny"):
            return self.redirect(target, error="access_denied", state=state)
        code = self.issue_code(form.get("userid", ""), APP_KEY, target)
        return self.redirect(target, authCode=code, state=state)

    @route("POST", "/api/v1.0/oauth2/userAccessToken", issues_token=True)
    def user_access_token(self, req: SimRequest) -> SimAnswer:
        body = req.json() or {}
        if body.get("clientId") != APP_KEY or body.get("clientSecret") != APP_SECRET:
            return self.new_error(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
        if body.get("grantType") != "authorization_code":
            return self.new_error(400, "unsupportedGrantType", "不支持的grantType")
        grant = self.take_code(str(body.get("code") or ""))
        if isinstance(grant, str) or grant.client_id != APP_KEY:
            return self.new_error(400, "InvalidAuthCode", "authCode无效、已过期或已使用")
        token, seconds = self.issue_user_token(grant.userid)
        return SimAnswer(200, {"accessToken": token, "refreshToken": secrets.token_urlsafe(16),
                               "expireIn": seconds, "corpId": CORP_ID})

    @route("GET", "/api/v1.0/contact/users/me")
    def users_me(self, req: SimRequest) -> SimAnswer:
        userid = self.user_of_token(req.headers.get("x-acs-dingtalk-access-token", ""))
        p = self.org.person(userid or "")
        if p is None:
            return self.new_error(401, "InvalidAuthentication", "不合法的access_token")
        return SimAnswer(200, {"nick": p.name, "unionId": "u" + p.userid,
                               "openId": "o" + p.userid, "email": p.email,
                               "stateCode": "86", "avatarUrl": ""})

    @route("POST", "/oapi/topapi/user/getbyunionid")
    def getbyunionid(self, req: SimRequest) -> SimAnswer:
        if (refused := self._old_token(req)) is not None:
            return refused
        unionid = str((req.json() or {}).get("unionid") or "")
        p = self.org.person(unionid[1:]) if unionid.startswith("u") else None
        if p is None or p.left_at is not None:
            return self.old(60121, "找不到该用户")
        return self.old(0, "ok", result={"contact_type": 0, "userid": p.userid})

    # -- leave records (new style)
    @route("GET", "/api/v1.0/contact/empLeaveRecords")
    def leave_records(self, req: SimRequest) -> SimAnswer:
        if (refused := self._new_token(req)) is not None:
            return refused
        try:
            start = _iso(req.query["startTime"])
            end = _iso(req.query["endTime"]) if req.query.get("endTime") else \
                dt.datetime.max.replace(tzinfo=dt.UTC)
            offset = int(req.query.get("nextToken") or 0)
            size = int(req.query.get("maxResults") or 50)
        except (KeyError, ValueError):
            return self.new_error(400, "InvalidParameter", "startTime/nextToken/maxResults")
        if size < 1 or size > 50:
            return self.new_error(400, "InvalidParameter", "maxResults 最大 50")
        size = self.page_limit(size, 50, 50)
        rows = self.org.leavers(start, end)
        page = rows[offset:offset + size]
        doc: dict[str, Any] = {"records": [
            {"userId": p.userid, "name": p.name, "stateCode": "86", "mobile": "",
             "leaveTime": p.left_at.strftime("%Y-%m-%dT%H:%MZ") if p.left_at else "",
             "leaveReason": p.leave_reason} for p in page]}
        if offset + len(page) < len(rows):
            doc["nextToken"] = str(offset + len(page))
        return SimAnswer(200, doc)


def _iso(text: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
