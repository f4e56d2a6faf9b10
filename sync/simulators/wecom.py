"""A WeCom (企业微信) server API on 127.0.0.1 (https://qyapi.weixin.qq.com/cgi-bin/).

Routes (shapes from the WeCom documents cited in docs/sync.md); every answer is HTTP 200
with `errcode`/`errmsg`:
  GET /cgi-bin/gettoken          ?corpid&corpsecret -> {access_token, expires_in}
  GET /cgi-bin/department/list   ?id -> department: [{id, name, name_en, department_leader,
                                 parentid, order}] (the whole tree below id, id included)
  GET /cgi-bin/user/list         ?department_id -> userlist: [full users] (direct members)
  GET /cgi-bin/user/get          ?userid -> the user; 60111 UserID不存在 once they left
Token errors 41001 missing, 40014 invalid, 42001 expired; 40091 bad secret; throttling
45009 (api freq out of limit); 60011 no privilege (outside the app's visibility).

Sign-in (docs/signin.md; login.work.weixin.qq.com and open.weixin.qq.com on the same port):
  GET  /wwlogin/sso/login          ?login_type=CorpApp&appid&agentid&redirect_uri&state -> the
                                   QR page (a button per person = a scan in the WeCom app)
  GET  /connect/oauth2/authorize   ?appid&redirect_uri&response_type=code&scope&state&agentid
                                   (inside the WeCom app; the same page here)
  POST /wwlogin/sso/confirm        -> 302 redirect_uri?code&state&appid
  GET  /cgi-bin/auth/getuserinfo   ?access_token (the app's)&code -> {userid, user_ticket?};
                                   40029 invalid code (unknown, used or expired: five minutes)
App messages with cards (message/send) belong here too, as more @route methods.
"""

from __future__ import annotations

import secrets
from typing import Any

from sync.simulators.cards import WeComCards
from sync.simulators.org_data import SimPerson
from sync.simulators.platform import PlatformSimulator, SimAnswer, SimRequest, route

CORP_ID, CORP_SECRET = "wwkpibook", "demo-wecom-secret"
AGENT_ID = "1000002"


class WeComSimulator(WeComCards, PlatformSimulator):  # cards.py: work notifications
    platform = "wecom"

    @staticmethod
    def answer_of(errcode: int, errmsg: str, **extra: Any) -> SimAnswer:
        hint = f", hint: [{secrets.token_hex(5)}], from ip: 127.0.0.1" if errcode else ""
        return SimAnswer(200, {"errcode": errcode, "errmsg": errmsg + hint, **extra})

    def throttled(self, req: SimRequest) -> SimAnswer:
        return self.answer_of(45009, "api freq out of limit")

    def _auth(self, req: SimRequest) -> SimAnswer | None:
        state = self.token_state(req.query.get("access_token", ""))
        if state == "ok":
            return None
        return {"missing": self.answer_of(41001, "access_token missing"),
                "expired": self.answer_of(42001, "access_token expired"),
                "invalid": self.answer_of(40014, "invalid access_token")}[state]

    def _user(self, p: SimPerson) -> dict[str, Any]:
        return {"userid": p.userid, "name": p.name, "department": p.departments,
                "order": [0] * len(p.departments), "position": p.title,
                "is_leader_in_dept": [int(any(q.manager == p.userid
                                              for q in self.org.members(d)))
                                      for d in p.departments],
                "direct_leader": [p.manager] if p.manager else [],
                "main_department": p.departments[0] if p.departments else 1,
                "status": 5 if p.left_at is not None else 1, "open_userid": "wo" + p.userid,
                "extattr": {"attrs": [{"type": 0, "name": "工号",
                                       "text": {"value": p.job_number}}]}}

    @route("GET", "/cgi-bin/gettoken", issues_token=True)
    def gettoken(self, req: SimRequest) -> SimAnswer:
        if req.query.get("corpid") != CORP_ID:
            return self.answer_of(40013, "invalid corpid")
        if req.query.get("corpsecret") != CORP_SECRET:
            return self.answer_of(40091, "secret is invalid")
        token, seconds = self.issue_token()
        return self.answer_of(0, "ok", access_token=token, expires_in=seconds)

    @route("GET", "/cgi-bin/department/list")
    def department_list(self, req: SimRequest) -> SimAnswer:
        if (refused := self._auth(req)) is not None:
            return refused
        try:
            root = int(req.query.get("id") or 1)
        except ValueError:
            return self.answer_of(40058, "invalid id")
        top = self.org.department(root)
        if top is None or not self.org.visible(root):
            return self.answer_of(60011, "no privilege to access/modify contact/party/agent")
        depts = [top, *self.org.children(root, recursive=True)]
        return self.answer_of(0, "ok", department=[
            {"id": d.id, "name": d.name, "name_en": "", "parentid": d.parent,
             "order": 100000000 - d.id,
             "department_leader": [p.userid for p in self.org.members(d.id)
                                   if not any(q.userid == p.manager
                                              for q in self.org.members(d.id))][:1]}
            for d in depts])

    @route("GET", "/cgi-bin/user/list")
    def user_list(self, req: SimRequest) -> SimAnswer:
        if (refused := self._auth(req)) is not None:
            return refused
        try:
            dept = int(req.query.get("department_id") or "")
        except ValueError:
            return self.answer_of(40058, "invalid department_id")
        if self.org.department(dept) is None or not self.org.visible(dept) or \
                dept in self.org.denied:
            return self.answer_of(60011, "no privilege to access/modify contact/party/agent")
        return self.answer_of(0, "ok", userlist=[self._user(p) for p in
                                                 self.org.members(dept)])

    @route("GET", "/cgi-bin/user/get")
    def user_get(self, req: SimRequest) -> SimAnswer:
        if (refused := self._auth(req)) is not None:
            return refused
        p = self.org.person(req.query.get("userid") or "")
        if p is None or p.left_at is not None:
            return self.answer_of(60111, "userid not found")
        if not self.org.visible_person(p.userid):
            return self.answer_of(60011, "no privilege to access/modify contact/party/agent")
        return self.answer_of(0, "ok", **self._user(p))

    # -- sign-in
    @route("GET", "/wwlogin/sso/login")
    def sso_login(self, req: SimRequest) -> SimAnswer:
        return self._login_page(req)

    @route("GET", "/connect/oauth2/authorize")
    def oauth2_authorize(self, req: SimRequest) -> SimAnswer:
        return self._login_page(req)

    def _login_page(self, req: SimRequest) -> SimAnswer:
        problem = ""
        if req.query.get("appid") != CORP_ID:
            problem = "appid 参数错误"
        elif req.query.get("agentid") not in (AGENT_ID, None) or not req.query.get(
                "redirect_uri"):
            problem = "agentid / redirect_uri 参数错误"
        return self.sign_in_page(req, "企业微信 扫码登录", "/wwlogin/sso/confirm", problem)

    @route("POST", "/wwlogin/sso/confirm")
    def sso_confirm(self, req: SimRequest) -> SimAnswer:
        form = req.form()
        target, state = form.get("redirect_uri", ""), form.get("state", "")
        if form.get("appid") != CORP_ID or not target:
            return self.answer_of(40013, "invalid corpid")
        if form.get("deny"):  # WeCom sends the person back without a code
            return self.redirect(target, state=state, appid=CORP_ID)
        code = self.issue_code(form.get("userid", ""), CORP_ID, target)
        return self.redirect(target, code=code, state=state, appid=CORP_ID)

    @route("GET", "/cgi-bin/auth/getuserinfo")
    def getuserinfo(self, req: SimRequest) -> SimAnswer:
        if (refused := self._auth(req)) is not None:
            return refused
        grant = self.take_code(req.query.get("code") or "")
        if isinstance(grant, str):
            return self.answer_of(40029, "invalid code")
        p = self.org.person(grant.userid)
        if p is None or p.left_at is not None:  # not a member: an openid only
            return self.answer_of(0, "ok", openid="o" + grant.userid)
        return self.answer_of(0, "ok", userid=p.userid, user_ticket=secrets.token_urlsafe(12))
