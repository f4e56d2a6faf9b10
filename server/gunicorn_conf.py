"""gunicorn settings for kpibook in production (docs/deploy.md).

    gunicorn -c server/gunicorn_conf.py          # the app is server.app:create_app()
    kpibook serve --workers 4 --http             # the same, started by the CLI

Every value can be changed with an environment variable (systemd's EnvironmentFile), so the
unit file never needs editing:

| variable | default | meaning |
| --- | --- | --- |
| KPIBOOK_BIND | 127.0.0.1:8000 | where gunicorn listens (nginx proxies to it) |
| KPIBOOK_WORKERS | 2 x cores + 1, at most 8 | worker processes (each has its own DB pool) |
| KPIBOOK_THREADS | 1 | threads per worker (>1: gthread workers) |
| KPIBOOK_WORKER_TIMEOUT | 600 | seconds a request may run (a Pull of every source is long) |
| KPIBOOK_GRACEFUL_TIMEOUT | 60 | seconds a worker gets to finish its requests on restart |
| KPIBOOK_FORWARDED_ALLOW_IPS | 127.0.0.1 | proxies whose X-Forwarded-* gunicorn believes |
| KPIBOOK_TLS_CERT, KPIBOOK_TLS_KEY | (empty) | serve HTTPS directly (no nginx) |
| KPIBOOK_ACCESS_LOG | - | access log file ('-' = stderr, journald); empty: none |

Graceful restart: `systemctl reload kpibook` (SIGHUP) starts new workers with the new code
and lets the old ones finish; SIGTERM waits GRACEFUL_TIMEOUT for running requests.
"""

from __future__ import annotations

import os

_env = os.environ.get


def _int(name: str, default: int) -> int:
    raw = _env(name, "").strip()
    return int(raw) if raw else default


wsgi_app = "server.app:create_app()"
bind = [b.strip() for b in _env("KPIBOOK_BIND", "127.0.0.1:8000").split(",") if b.strip()]
workers = _int("KPIBOOK_WORKERS", min(2 * (os.cpu_count() or 1) + 1, 8))
threads = _int("KPIBOOK_THREADS", 1)
worker_class = "gthread" if threads > 1 else "sync"
# Pull data waits for every source system (docs/sync.md timeouts x retries); a worker
# silent for longer than this is killed and restarted by the arbiter.
timeout = _int("KPIBOOK_WORKER_TIMEOUT", 600)
graceful_timeout = _int("KPIBOOK_GRACEFUL_TIMEOUT", 60)
keepalive = 5
# Recycle workers now and then (memory of big workbooks), staggered so they never all restart
# together.
max_requests = _int("KPIBOOK_MAX_REQUESTS", 2000)
max_requests_jitter = max_requests // 10
# Each worker builds its own app (database pool, history handle): never share them across fork.
preload_app = False
# Only the proxy may tell us the client's scheme/address; the app's ProxyFix
# (KPIBOOK_TRUST_PROXY=1) reads the same headers for URLs and the HTTPS-only checks.
forwarded_allow_ips = _env("KPIBOOK_FORWARDED_ALLOW_IPS", "127.0.0.1")
proxy_allow_ips = forwarded_allow_ips
# Bodies are bounded by the app (KPIBOOK_MAX_CONTENT_LENGTH, 413); headers here.
limit_request_line = 8190
limit_request_fields = 100

certfile = _env("KPIBOOK_TLS_CERT") or None
keyfile = _env("KPIBOOK_TLS_KEY") or None

# Access log without secrets: the path without its query string, never the Authorization
# header or cookies; the request id matches the app's log lines.
accesslog = _env("KPIBOOK_ACCESS_LOG", "-") or None
access_log_format = ('%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms '
                     'rid=%({x-request-id}o)s "%(a)s"')
errorlog = "-"
loglevel = _env("KPIBOOK_LOG_LEVEL", "info").lower()
proc_name = "kpibook"
# Worker heartbeat files in memory, not on a possibly slow disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None


def on_starting(server) -> None:
    """Start-up recovery once per instance, in the master before any worker is forked (the
    workers inherit that it ran and skip it): server/app.py `recover_before_workers`."""
    from server.app import recover_before_workers

    recover_before_workers()


def _no_server_name() -> None:
    """gunicorn answers `Server: gunicorn`; kpibook names no server software (docs/security.md).
    The module global is read for every response, in the workers forked from this process."""
    import gunicorn.http.wsgi

    gunicorn.http.wsgi.SERVER = "kpibook"


_no_server_name()


def post_worker_init(worker) -> None:
    """Each worker reads the history's index in the background before its first page."""
    from server.services.history import warm_in_background

    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "config"):
        warm_in_background(app)
        # Scheduled org syncs ([[org]] schedule): every worker asks, the lease runs each
        # slot once (server/services/orgsync.py).
        from server.services.orgsync import start_org_scheduler

        start_org_scheduler(app)
        # Scheduled pulls ([[source]] schedule): every worker asks, the claim row of
        # server/schedule.py runs each slot once (server/services/schedule.py).
        from server.services.schedule import start_pull_scheduler

        start_pull_scheduler(app)
        # Notification retries and the daily reminder: every worker ticks, a row lease /
        # once-a-day key lets one of them send each (server/services/cards.py).
        from server.services.cards import start_notify_scheduler

        start_notify_scheduler(app)
