"""One loopback HTTP server speaking each simulated source's protocol.

Routes (all under the server's base URL):
  POST /oauth/token                 OAuth2 client credentials (form or HTTP Basic client auth)
  GET  /erp/api/v1/production       bearer from /oauth/token; cursor pages {items, next_cursor}
  GET  /crm/api/deliveries          static bearer token; ?page=&page_size= {data, total_pages}
  GET  /crm/api/v2/reports/customers  the same token; ?month=&team=&offset=&limit=
                                    {code, data: {rows, total}}: one row per owner and customer
  GET  /finance/api/v1/receivables  X-Api-Key header; ?period=&pageNo=&pageSize=
                                    {code, msg, data: {list, pageNo, pageSize, totalPage}}
  GET  /gitlab/api/v4/merge_requests  PRIVATE-TOKEN header; ?page=&per_page=, Link: rel="next"
  GET  /jira/rest/api/2/search      HTTP Basic; ?jql=&startAt=&maxResults= {issues, total}
  GET  /jira/rest/api/3/search/jql  Jira Cloud; ?jql=&nextPageToken= {issues, nextPageToken}
  GET  /dingtalk/gettoken, POST /dingtalk/attendance/list   DingTalk shapes (errcode, hasMore)

Faults for tests: `fault(prefix, mode, times)` with mode timeout | 500 | 429 | malformed |
down (503); `times=None` keeps it until `clear_faults()`. `latency` is added to every answer.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from sync.simulators.data import SimData
from sync.simulators.loopback import LoopbackServer

CLIENT_ID = "kpibook"
CLIENT_SECRET = "demo-erp-secret"
CRM_TOKEN = "demo-crm-token"
GITLAB_TOKEN = "demo-gitlab-token"
FINANCE_KEY = "demo-finance-key"
JIRA_USER, JIRA_TOKEN = "kpibook@example.com", "demo-jira-token"
DINGTALK_KEY, DINGTALK_SECRET = "kpibook-app", "demo-dingtalk-secret"
HANG_SECONDS = 5.0  # a "timeout" fault answers after this (clients use shorter timeouts)


class SourceSimulator(LoopbackServer):
    def __init__(self, data: SimData, latency: float = 0.0, page_size: int = 500,
                 port: int = 0) -> None:
        self.data = data
        self.latency = latency
        self.page_size = page_size
        self.requests: list[str] = []
        self._faults: list[list[Any]] = []  # [prefix, mode, remaining or None]
        self._tokens: set[str] = set()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._httpd.daemon_threads = True


    def fault(self, prefix: str, mode: str, times: int | None = 1) -> None:
        with self._lock:
            self._faults.append([prefix, mode, times])

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def take_fault(self, path: str) -> str | None:
        with self._lock:
            for f in self._faults:
                if path.startswith(f[0]) and (f[2] is None or f[2] > 0):
                    if f[2] is not None:
                        f[2] -= 1
                    return f[1]
        return None

    def new_token(self) -> str:
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._tokens.add(token)
        return token

    def token_ok(self, token: str) -> bool:
        with self._lock:
            return token in self._tokens


def _handler(sim: SourceSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes

        def log_message(self, *args: Any) -> None:  # quiet: tests and the demo own stdout
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._dispatch("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._dispatch("POST")

        # --- plumbing ---------------------------------------------------------------
        def _dispatch(self, method: str) -> None:
            parts = urlsplit(self.path)
            self.q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            self.body = self.rfile.read(length) if length else b""
            sim.requests.append(f"{method} {self.path}")
            if sim.latency:
                time.sleep(sim.latency)
            fault = sim.take_fault(parts.path)
            if fault == "timeout":
                time.sleep(HANG_SECONDS)
            elif fault in ("500", "down"):
                return self._send(500 if fault == "500" else 503, {"error": "unavailable"})
            elif fault == "429":
                return self._send(429, {"error": "slow down"}, {"Retry-After": "1"})
            elif fault == "malformed":
                return self._raw(200, b'{"items": [{"staff_no": "E00', "application/json")
            route = ROUTES.get((method, parts.path))
            if route is None:
                return self._send(404, {"error": f"no route {method} {parts.path}"})
            route(self)

        def _send(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
            self._raw(status, json.dumps(doc, ensure_ascii=False).encode("utf-8"),
                      "application/json; charset=utf-8", headers)

        def _raw(self, status: int, body: bytes, ctype: str,
                 headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _bearer(self) -> str:
            scheme, _, value = (self.headers.get("Authorization") or "").partition(" ")
            return value.strip() if scheme.lower() == "bearer" else ""

        def _page(self, rows: list[Any], start: int, size: int) -> list[Any]:
            return rows[start:start + min(size, sim.page_size)]

        # --- OAuth2 + ERP (cursor) --------------------------------------------------
        def token(self) -> None:
            form = {k: v[-1] for k, v in parse_qs(self.body.decode()).items()}
            cid, secret = form.get("client_id"), form.get("client_secret")
            auth = self.headers.get("Authorization") or ""
            if auth.lower().startswith("basic "):
                cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            if form.get("grant_type") != "client_credentials":
                return self._send(400, {"error": "unsupported_grant_type"})
            if cid != CLIENT_ID or secret != CLIENT_SECRET:
                return self._send(401, {"error": "invalid_client"})
            self._send(200, {"access_token": sim.new_token(), "token_type": "Bearer",
                             "expires_in": 3600})

        def production(self) -> None:
            if not sim.token_ok(self._bearer()):
                return self._send(401, {"error": "invalid_token"})
            lo, hi = self.q.get("from", ""), self.q.get("to", "9999")
            rows = [r for r in sim.data.erp_production if lo <= r["day"] <= hi]
            start = int(self.q.get("cursor") or 0)
            page = self._page(rows, start, int(self.q.get("limit") or 100))
            nxt = start + len(page)
            self._send(200, {"items": page, "next_cursor": str(nxt) if nxt < len(rows) else None})

        # --- CRM (page numbers) -----------------------------------------------------
        def deliveries(self) -> None:
            if self._bearer() != CRM_TOKEN:
                return self._send(401, {"error": "invalid_token"})
            if "offset" in self.q:  # offset/limit paging, as many CRMs offer it
                start = int(self.q["offset"])
                size = min(int(self.q.get("limit") or 100), sim.page_size)
                return self._send(200, {"data": sim.data.crm_deliveries[start:start + size]})
            size = min(int(self.q.get("page_size") or 100), sim.page_size)
            page = int(self.q.get("page") or 1)
            rows = sim.data.crm_deliveries
            total = max(1, -(-len(rows) // size))
            self._send(200, {"data": rows[(page - 1) * size:page * size], "page": page,
                             "total_pages": total})

        def customer_report(self) -> None:
            """The CRM's monthly customer report, scoped to a sales team (as CRM reports are
            to a sales organisation): offset/limit, rows under data.rows."""
            if self._bearer() != CRM_TOKEN:
                return self._send(401, {"code": 401, "message": "invalid_token"})
            month, team = self.q.get("month", ""), self.q.get("team", "")
            if not month:
                return self._send(400, {"code": 400, "message": "month is required"})
            rows = [r for r in sim.data.crm_customers
                    if r["month"] == month and (not team or r["team"] == team)]
            start = int(self.q.get("offset") or 0)
            size = min(int(self.q.get("limit") or 100), sim.page_size)
            self._send(200, {"code": 0, "data": {"rows": rows[start:start + size],
                                                 "total": len(rows)}})

        # --- Finance: receivables ledger (page numbers under data) -------------------
        def receivables(self) -> None:
            if self.headers.get("X-Api-Key") != FINANCE_KEY:
                return self._send(401, {"code": "401", "msg": "invalid api key"})
            period = self.q.get("period", "")
            rows = [r for r in sim.data.receivables if r["period"] == period]
            size = min(int(self.q.get("pageSize") or 20), sim.page_size)
            page = int(self.q.get("pageNo") or 1)
            total = max(1, -(-len(rows) // size))
            self._send(200, {"code": "0", "msg": "success", "data": {
                "list": rows[(page - 1) * size:page * size], "pageNo": page,
                "pageSize": size, "totalPage": total}})

        # --- GitLab (Link header) ---------------------------------------------------
        def merge_requests(self) -> None:
            if self.headers.get("PRIVATE-TOKEN") != GITLAB_TOKEN:
                return self._send(401, {"message": "401 Unauthorized"})
            size = min(int(self.q.get("per_page") or 20), sim.page_size)
            page = int(self.q.get("page") or 1)
            rows = sim.data.merge_requests
            headers = {}
            if page * size < len(rows):
                q = {**self.q, "page": page + 1, "per_page": size}
                headers["Link"] = (f'<{sim.url}/gitlab/api/v4/merge_requests?{urlencode(q)}>; '
                                   'rel="next"')
            self._send(200, rows[(page - 1) * size:page * size], headers)

        # --- Jira search ------------------------------------------------------------
        def jira_search(self) -> None:
            expected = base64.b64encode(f"{JIRA_USER}:{JIRA_TOKEN}".encode()).decode()
            if (self.headers.get("Authorization") or "") != f"Basic {expected}":
                return self._send(401, {"errorMessages": ["authentication required"]})
            if not self.q.get("jql"):
                return self._send(400, {"errorMessages": ["jql is required"]})
            start = int(self.q.get("startAt") or 0)
            size = min(int(self.q.get("maxResults") or 50), sim.page_size)
            rows = sim.data.jira_issues
            self._send(200, {"startAt": start, "maxResults": size, "total": len(rows),
                             "issues": rows[start:start + size]})

        def jira_search_jql(self) -> None:
            """Jira Cloud's /rest/api/3/search/jql: nextPageToken instead of startAt/total."""
            expected = base64.b64encode(f"{JIRA_USER}:{JIRA_TOKEN}".encode()).decode()
            if (self.headers.get("Authorization") or "") != f"Basic {expected}":
                return self._send(401, {"errorMessages": ["authentication required"]})
            start = int(self.q.get("nextPageToken") or 0)
            size = min(int(self.q.get("maxResults") or 50), sim.page_size)
            rows = sim.data.jira_issues
            nxt = start + size
            doc: dict[str, Any] = {"issues": rows[start:nxt], "isLast": nxt >= len(rows)}
            if nxt < len(rows):
                doc["nextPageToken"] = str(nxt)
            self._send(200, doc)

        # --- DingTalk ---------------------------------------------------------------
        def gettoken(self) -> None:
            if self.q.get("appkey") != DINGTALK_KEY or self.q.get("appsecret") != \
                    DINGTALK_SECRET:
                return self._send(200, {"errcode": 40089, "errmsg": "invalid appkey or secret"})
            self._send(200, {"errcode": 0, "errmsg": "ok", "access_token": sim.new_token(),
                             "expires_in": 7200})

        def attendance(self) -> None:
            if not sim.token_ok(self.q.get("access_token", "")):
                return self._send(200, {"errcode": 40014, "errmsg": "invalid access_token"})
            try:
                body = json.loads(self.body or b"{}")
                lo = _day_ms(body["workDateFrom"])
                hi = _day_ms(body["workDateTo"])
                users = set(body["userIdList"])
            except (ValueError, KeyError, TypeError):
                return self._send(200, {"errcode": 40035, "errmsg": "invalid parameters"})
            if len(users) > 50 and sim.page_size <= 50:
                return self._send(200, {"errcode": 40035, "errmsg": "userIdList > 50"})
            rows = [r for r in sim.data.attendance
                    if r["userId"] in users and lo <= r["workDate"] <= hi]
            offset = int(body.get("offset") or 0)
            size = min(int(body.get("limit") or 50), sim.page_size)
            page = rows[offset:offset + size]
            self._send(200, {"errcode": 0, "errmsg": "ok", "recordresult": page,
                             "hasMore": offset + len(page) < len(rows)})

    ROUTES = {
        ("POST", "/oauth/token"): Handler.token,
        ("GET", "/erp/api/v1/production"): Handler.production,
        ("GET", "/crm/api/deliveries"): Handler.deliveries,
        ("GET", "/crm/api/v2/reports/customers"): Handler.customer_report,
        ("GET", "/finance/api/v1/receivables"): Handler.receivables,
        ("GET", "/gitlab/api/v4/merge_requests"): Handler.merge_requests,
        ("GET", "/jira/rest/api/2/search"): Handler.jira_search,
        ("GET", "/jira/rest/api/3/search/jql"): Handler.jira_search_jql,
        ("GET", "/dingtalk/gettoken"): Handler.gettoken,
        ("POST", "/dingtalk/attendance/list"): Handler.attendance,
    }
    return Handler


def _day_ms(text: str) -> int:
    when = dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)
