"""The base of the DingTalk, Feishu and WeCom simulators: a real HTTP server on 127.0.0.1
whose routes are methods declared with `@route(method, "/path/{param}")`.

One module per platform subclasses `PlatformSimulator`; later features of the same platform
(OAuth2 sign-in, work notifications and cards) add `@route` methods to that subclass and reuse
what is here: the app tokens with their lifetime on a simulated clock, the request log, and
injected faults (throttling in the platform's own envelope, arbitrary error answers,
transport failures).

Tokens expire on the simulated clock only (`advance(seconds)`, `expire_tokens_after(calls)`):
tests make a token expire in the middle of a sync without waiting for it.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit

from sync.simulators.loopback import LoopbackServer
from sync.simulators.org_data import OrgData, demo_org


@dataclass(slots=True)
class SimRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # from {name} path segments

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"{}")
        except ValueError:
            return None

    def form(self) -> dict[str, str]:
        """An application/x-www-form-urlencoded body (the last value of each field)."""
        return {k: v[-1] for k, v in parse_qs(self.body.decode("utf-8", "replace"),
                                               keep_blank_values=True).items()}


@dataclass(slots=True)
class SimAnswer:
    status: int
    doc: Any
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent as is (non-JSON bodies)


Handler = Callable[[Any, SimRequest], SimAnswer]


def route(method: str, pattern: str, *, issues_token: bool = False) -> Callable[[Handler],
                                                                                  Handler]:
    """Declare a handler method. `issues_token`: a token endpoint, not counted by
    `expire_tokens_after` (tokens expire between API calls, not while being fetched)."""
    def mark(fn: Handler) -> Handler:
        fn._route = (method.upper(), pattern, issues_token)  # type: ignore[attr-defined]
        return fn
    return mark


@dataclass(slots=True)
class AuthCode:
    """An authorization code the sign-in page gave out: for whom, to which app and callback,
    with the PKCE challenge and nonce of the request; used once, valid CODE_SECONDS."""

    userid: str
    client_id: str
    redirect_uri: str
    expires: float  # on the simulated clock
    extra: dict[str, str] = field(default_factory=dict)  # code_challenge, nonce, scope...


@dataclass(slots=True)
class _Fault:
    prefix: str
    make: Callable[[SimRequest], SimAnswer]
    remaining: int | None


class PlatformSimulator(LoopbackServer):
    """Subclasses set `platform` and implement `throttled(req)` (the platform's
    rate-limit answer)."""

    platform: ClassVar[str] = "platform"
    TOKEN_SECONDS: ClassVar[int] = 7200
    _routes: ClassVar[list[tuple[str, re.Pattern[str], str, bool]]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        routes = []
        for klass in reversed(cls.__mro__):
            for name, fn in vars(klass).items():
                spec = getattr(fn, "_route", None)
                if spec:
                    method, pattern, issues = spec
                    regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)",
                                                    pattern) + "$")
                    routes.append((method, regex, name, issues))
        cls._routes = routes

    def __init__(self, org: OrgData | None = None, port: int = 0,
                 page_size: int | None = None) -> None:
        self.org = org if org is not None else demo_org()
        self.page_size = page_size  # None: the platform's documented maximum
        self.clock = 0.0  # simulated seconds since start
        self.requests: list[str] = []  # "METHOD /path?query -> status"
        self._tokens: dict[str, float] = {}  # token -> expiry on the simulated clock
        self._faults: list[_Fault] = []
        self._expire_after: int | None = None
        self._codes: dict[str, AuthCode] = {}
        self._user_tokens: dict[str, str] = {}  # user access token -> userid
        self._lock = threading.RLock()
        self._httpd = _QuietServer(("127.0.0.1", port), _handler(self))
        self._httpd.daemon_threads = True

    # -- life cycle
    def thread_name(self) -> str:
        return f"kpibook-{self.platform}-sim"

    # -- tokens
    def issue_token(self, prefix: str = "") -> tuple[str, int]:
        token = prefix + secrets.token_urlsafe(16)
        with self._lock:
            self._tokens[token] = self.clock + self.TOKEN_SECONDS
        return token, self.TOKEN_SECONDS

    def token_state(self, token: str) -> str:
        """ok | expired | invalid | missing."""
        if not token:
            return "missing"
        with self._lock:
            until = self._tokens.get(token)
            if until is None:
                return "invalid"
            return "ok" if self.clock < until else "expired"

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.clock += seconds

    def expire_tokens_after(self, calls: int) -> None:
        """After `calls` more API requests every token issued so far has expired."""
        with self._lock:
            self._expire_after = calls

    def revoke_tokens(self) -> None:
        """Tokens invalidated early (WeCom may do this; a new secret does it everywhere)."""
        with self._lock:
            self._tokens.clear()

    # -- sign-in (OAuth2 authorization code; each platform adds its own routes)
    CODE_SECONDS: ClassVar[int] = 300  # platforms document five minutes

    def issue_code(self, userid: str, client_id: str, redirect_uri: str,
                   **extra: str) -> str:
        code = secrets.token_urlsafe(18)
        with self._lock:
            self._codes[code] = AuthCode(userid, client_id, redirect_uri,
                                         self.clock + self.CODE_SECONDS, dict(extra))
        return code

    def take_code(self, code: str) -> AuthCode | str:
        """The code's grant, removed (a code is used once), or why not: unknown | expired."""
        with self._lock:
            grant = self._codes.pop(code or "", None)
            if grant is None:
                return "unknown"
            return grant if self.clock < grant.expires else "expired"

    def issue_user_token(self, userid: str, prefix: str = "") -> tuple[str, int]:
        token, seconds = self.issue_token(prefix)
        with self._lock:
            self._user_tokens[token] = userid
        return token, seconds

    def user_of_token(self, token: str) -> str | None:
        """The person a valid user access token was issued to (None: invalid or expired)."""
        if self.token_state(token) != "ok":
            return None
        with self._lock:
            return self._user_tokens.get(token)

    def sign_in_page(self, req: SimRequest, title: str, confirm_path: str,
                     problem: str = "") -> SimAnswer:
        """The platform's QR sign-in page, simulated: a QR code (of the confirm URL, as a
        phone would scan it) and one button per person, "scan with this person's phone"."""
        import segno

        fields = "".join(f'<input type="hidden" name="{html.escape(k)}" '
                         f'value="{html.escape(v)}">' for k, v in sorted(req.query.items()))
        people = "".join(
            f'<li><form method="post" action="{html.escape(confirm_path)}">{fields}'
            f'<input type="hidden" name="userid" value="{html.escape(p.userid)}">'
            f'<button type="submit" id="scan-{html.escape(p.userid)}">'
            f'{html.escape(p.name)} ({html.escape(p.userid)}) 扫码确认 / scan</button></form></li>'
            for p in self.org.people if p.left_at is None)
        deny = (f'<form method="post" action="{html.escape(confirm_path)}">{fields}'
                '<input type="hidden" name="deny" value="1">'
                '<button type="submit" id="deny">拒绝授权 / Deny</button></form>')
        qr = segno.make(self.url + confirm_path + "?" + urlencode(req.query),
                        error="l").svg_inline(scale=3)
        body = (f'<!doctype html><html lang="zh"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width">'
                f'<title>{html.escape(title)}</title></head><body>'
                f'<h1>{html.escape(title)}</h1>'
                + (f'<p id="problem">{html.escape(problem)}</p>' if problem else "")
                + f'<div class="qr">{qr}</div><p>模拟扫码：选择扫码的人 / Simulated scan: '
                f'choose who scans</p><ul id="people">{people}</ul>{deny}</body></html>')
        return SimAnswer(200 if not problem else 400, None,
                         {"Content-Type": "text/html; charset=utf-8"}, body.encode("utf-8"))

    @staticmethod
    def redirect(url: str, **params: str) -> SimAnswer:
        sep = "&" if "?" in url else "?"
        return SimAnswer(302, {}, {"Location": url + sep + urlencode(params)})

    # -- faults
    def fail(self, prefix: str, answer: SimAnswer | Callable[[SimRequest], SimAnswer],
             times: int | None = 1) -> None:
        """Answer requests whose path starts with `prefix` with `answer`, `times` times
        (None: until clear_faults)."""
        make = answer if callable(answer) else (lambda req, a=answer: a)
        with self._lock:
            self._faults.append(_Fault(prefix, make, times))

    def throttle(self, prefix: str, times: int | None = 1) -> None:
        """The platform's rate-limit answer for the next `times` matching requests."""
        self.fail(prefix, self.throttled, times)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def throttled(self, req: SimRequest) -> SimAnswer:
        raise NotImplementedError

    def count(self, fragment: str) -> int:
        """How many logged requests contain `fragment` (e.g. "user/list")."""
        return sum(fragment in line for line in list(self.requests))

    def page_limit(self, asked: Any, default: int, maximum: int) -> int:
        try:
            size = int(asked) if asked not in (None, "") else default
        except (TypeError, ValueError):
            size = default
        size = max(1, min(size, maximum))
        return min(size, self.page_size) if self.page_size else size

    # -- dispatch (the handler thread calls this)
    def answer(self, req: SimRequest) -> SimAnswer:
        issues = False
        handler = None
        for method, regex, name, tok in self._routes:
            m = regex.match(req.path)
            if m and method == req.method:
                handler, issues = getattr(self, name), tok
                req.params = m.groupdict()
                break
        with self._lock:
            fault = next((f for f in self._faults if req.path.startswith(f.prefix)
                          and (f.remaining is None or f.remaining > 0)), None)
            if fault is not None and fault.remaining is not None:
                fault.remaining -= 1
            if handler is not None and not issues and self._expire_after is not None:
                if self._expire_after <= 0:
                    self.clock = max(self._tokens.values(), default=self.clock) + 1
                    self._expire_after = None
                else:
                    self._expire_after -= 1
        if fault is not None:
            return fault.make(req)
        if handler is None:
            return SimAnswer(404, {"error": f"no route {req.method} {req.path}"})
        return handler(req)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout, closed connection) is the test's business; the
        # default prints a traceback to whatever sys.stderr is then (a CLI test's output).
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler(sim: PlatformSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            req = SimRequest(method, parts.path,
                             {k: v[-1] for k, v in parse_qs(parts.query).items()},
                             {k.lower(): v for k, v in self.headers.items()},
                             self.rfile.read(length) if length else b"")
            try:
                ans = sim.answer(req)
            except Exception as exc:  # noqa: BLE001 - a simulator bug answers 500, visibly
                ans = SimAnswer(500, {"error": f"simulator: {type(exc).__name__}: {exc}"})
            sim.requests.append(f"{method} {self.path} -> {ans.status}")
            body = ans.raw if ans.raw is not None else \
                json.dumps(ans.doc, ensure_ascii=False).encode("utf-8")
            self.send_response(ans.status)
            headers = {"Content-Type": "application/json; charset=utf-8", **ans.headers}
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

    return Handler
