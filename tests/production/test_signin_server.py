"""Sign-in through real servers (issue 14 item 5): parallel password guessing against gunicorn
with 4 workers on PostgreSQL and against the demo's threaded Werkzeug server on SQLite; the
Server header; the `__Host-` cookie behind a TLS proxy and its refusal over plain HTTP; CSP and
no-store; an OAuth2 client pushing facts.

The figure "tries allowed out of 100 in parallel" is printed (docs/security.md quotes it) and
asserted to be the configured LOGIN_MAX_FAILURES: the counter is one atomic UPDATE per attempt,
so no scheduling of the 100 requests can get more password checks than that."""

from __future__ import annotations

import base64
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from tests.production.conftest import start_gunicorn, stop_gunicorn

PASSWORD = "correct horse 42"
FREE_TRIES = 5
PARALLEL = 100
# Behind nginx: the proxy says the client spoke HTTPS (KPIBOOK_TRUST_PROXY=1).
VIA_TLS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7",
           "X-Forwarded-Host": "kpi.example.com"}


def _prepare(url: str, tmp_path: Path) -> dict:
    """The database: users, a period and a push client; returns what the test needs."""
    from server import create_app, db
    from server.auth import create_oauth_client, create_user
    from server.models import Employee, Period

    db.upgrade(url)
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "prep")})
    with db.session_scope(app) as s:
        create_user(s, "victim", "auditor", password=PASSWORD)
        s.add(Period(code="2026-10", template_code="manufacturing", state="collecting"))
        s.add(Employee(employee_id="M1001", name="张伟", department="一车间"))
        client, secret = create_oauth_client(s, "QMS", ["facts:write"], "hr")
        out = {"client_id": client.client_id, "secret": secret}
    db.get_engine(app).dispose()
    return out


class _Browser:
    """A client behind the TLS proxy: the test talks plain HTTP to 127.0.0.1 (as nginx does),
    so the Secure cookie is carried by hand, as the browser would over HTTPS."""

    def __init__(self, base: str):
        self.base, self.cookie = base, ""

    def request(self, method: str, path: str, headers: dict | None = None, **kw):
        hdrs = {**VIA_TLS, **(headers or {})}
        if self.cookie:
            hdrs["Cookie"] = self.cookie
        resp = requests.request(method, self.base + path, headers=hdrs,
                                allow_redirects=False, timeout=120, **kw)
        if "Set-Cookie" in resp.headers:
            self.cookie = resp.headers["Set-Cookie"].split(";")[0]
        return resp

    def csrf(self) -> str:
        page = self.request("GET", "/login")
        return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

    def sign_in(self, password: str, token: str | None = None, headers: dict | None = None):
        return self.request("POST", "/login", data={
            "name": "victim", "password": password, "csrf_token": token or self.csrf()},
            headers={"Referer": "https://kpi.example.com/login", **(headers or {})})


def _burst(base: str, right_at: int | None) -> list[int]:
    """PARALLEL sign-in attempts for one account from one address, released together; the
    attempt number `right_at` carries the right password. Returns the statuses."""
    browsers = [_Browser(base) for _ in range(PARALLEL)]
    tokens = [b.csrf() for b in browsers]
    start = threading.Barrier(PARALLEL)

    def attempt(i: int) -> int:
        start.wait(60)
        password = PASSWORD if i == right_at else f"wrong guess {i:03d}"
        return browsers[i].sign_in(password, tokens[i]).status_code

    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(attempt, range(PARALLEL)))


def _check_burst(base: str, label: str) -> None:
    """The figure: 100 wrong guesses in parallel get exactly the free tries. Then a second
    burst carrying the right password: it is refused with the rest, unchecked.

    Why two bursts: a right password among the free tries signs in and, as a success does,
    resets the account's counter at that address, so the tries that follow it in the same
    burst are counted afresh. Which of 100 parallel requests the server reaches first depends
    on scheduling (under load the right one can be among the first five): one burst mixing
    both gave 9 tries instead of 5 on a loaded machine."""
    statuses = _burst(base, right_at=None)
    tried = sum(1 for s in statuses if s != 429)
    print(f"\n{label}: tries allowed out of {PARALLEL} in parallel: {tried}")
    assert set(statuses) <= {401, 429}, statuses
    assert tried == FREE_TRIES, statuses
    # the right password inside a burst, once the free tries are used: not even checked
    statuses = _burst(base, right_at=PARALLEL // 2)
    assert set(statuses) == {429}, statuses
    assert _burst_one(base, PASSWORD) == 429


def _burst_one(base: str, password: str, headers: dict | None = None) -> int:
    return _Browser(base).sign_in(password, headers=headers).status_code


def _env(url: str, tmp_path: Path) -> dict[str, str]:
    return {"KPIBOOK_DATABASE_URL": url, "KPIBOOK_SECRET_KEY": "signin-test-secret",
            "KPIBOOK_TRUST_PROXY": "1", "KPIBOOK_ALLOW_INSECURE_HTTP": "0",
            "KPIBOOK_BASE_URL": "https://kpi.example.com",
            "KPIBOOK_INSTANCE_PATH": str(tmp_path / "instance"),
            "KPIBOOK_HISTORY_DIR": str(tmp_path / "history"),
            # a delay far longer than the test: the figure cannot depend on timing
            "KPIBOOK_LOGIN_MAX_FAILURES": str(FREE_TRIES),
            "KPIBOOK_LOGIN_FAILURE_DELAY": "3600", "KPIBOOK_LOGIN_MAX_DELAY": "3600",
            "KPIBOOK_SYNC_CONFIG": str(tmp_path / "push.toml")}


PUSH_CONFIG = """
[[source]]
name = "qms_push"
kind = "push"
clients = ["{client_id}"]
employee_key = "工号"
external_id = "ncr_no"

[[source.indicator]]
indicator = "QUALITY_INCIDENT"
aggregate = "sum"
value = "incidents"
"""


def test_gunicorn_x4_on_postgresql(tmp_path, pg_url):
    prepared = _prepare(pg_url, tmp_path)
    (tmp_path / "push.toml").write_text(PUSH_CONFIG.format(client_id=prepared["client_id"]),
                                        encoding="utf-8")
    server = start_gunicorn(tmp_path, _env(pg_url, tmp_path), workers=4)
    try:
        base = server.url
        # --- headers: no server software named, CSP, no-store
        login = requests.get(base + "/login", headers=VIA_TLS, timeout=60)
        assert login.headers["Server"] == "kpibook"
        assert "gunicorn" not in str(login.headers).lower()
        assert "script-src 'self'" in login.headers["Content-Security-Policy"]
        assert login.headers["Cache-Control"] == "no-store"
        # --- the session cookie: __Host- over HTTPS, ignored over plain HTTP
        browser = _Browser(base)
        signed = browser.sign_in(PASSWORD, headers={"X-Forwarded-For": "198.51.100.2"})
        assert signed.status_code == 302, signed.text
        cookie = signed.headers["Set-Cookie"]
        assert cookie.startswith("__Host-kpibook_session=") and "Secure" in cookie
        assert "Domain=" not in cookie and "Path=/" in cookie
        assert browser.request("GET", "/account").status_code == 200
        plain = requests.get(base + "/account", headers={"Cookie": browser.cookie},
                             allow_redirects=False, timeout=60)
        assert plain.status_code == 302 and "/login" in plain.headers["Location"]
        # --- an OAuth2 client pushes facts
        raw = base64.b64encode(f"{prepared['client_id']}:{prepared['secret']}".encode())
        grant = requests.post(base + "/oauth/token", headers={
            **VIA_TLS, "Authorization": "Basic " + raw.decode()},
            data={"grant_type": "client_credentials", "scope": "facts:write"}, timeout=60)
        assert grant.status_code == 200, grant.text
        pushed = requests.post(base + "/api/v1/facts", headers={
            **VIA_TLS, "Authorization": f"Bearer {grant.json()['access_token']}"},
            json={"source": "qms_push", "period": "2026-10",
                  "records": [{"ncr_no": "NCR-1", "工号": "M1001", "incidents": 1}]},
            timeout=60)
        assert pushed.status_code == 201, pushed.text
        assert pushed.headers["Cache-Control"] == "no-store"
        # --- parallel guessing
        _check_burst(base, "gunicorn x4, PostgreSQL")
        # the owner elsewhere is not locked out
        assert _burst_one(base, PASSWORD, {"X-Forwarded-For": "198.51.100.1"}) == 302
    finally:
        stop_gunicorn(server)


def test_demo_server_werkzeug_on_sqlite(tmp_path):
    from werkzeug.serving import make_server

    from server import create_app, db
    from server.commands import quiet_request_handler

    url = f"sqlite:///{tmp_path / 'kpibook.sqlite3'}"
    _prepare(url, tmp_path)
    (tmp_path / "push.toml").write_text("", encoding="utf-8")
    config = {k.removeprefix("KPIBOOK_"): v for k, v in _env(url, tmp_path).items()}
    config.update(TRUST_PROXY=1, ALLOW_INSECURE_HTTP=False, LOGIN_MAX_FAILURES=FREE_TRIES,
                  LOGIN_FAILURE_DELAY=3600.0, LOGIN_MAX_DELAY=3600.0)
    app = create_app(config)
    server = make_server("127.0.0.1", 0, app, threaded=True,
                         request_handler=quiet_request_handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        resp = requests.get(base + "/login", timeout=60)
        assert resp.headers["Server"] == "kpibook"  # not Werkzeug/x.y Python/x.y
        _check_burst(base, "demo server (Werkzeug threaded), SQLite")
    finally:
        server.shutdown()
        server.server_close()
        db.get_engine(app).dispose()
