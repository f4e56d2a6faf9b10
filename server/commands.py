"""Server commands of the `kpibook` CLI: db, users, tokens, serve, xl (headless client).

Registered on `server.cli.main`. Every command builds the app from KPIBOOK_* environment
variables, the same way the server does, so `KPIBOOK_DATABASE_URL=... kpibook users add ...`
administers exactly the database the server uses.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask


def _app() -> Flask:
    from server import create_app

    return create_app()


# --- db ----------------------------------------------------------------------------------------


@click.group(help="Database schema (Alembic migrations).")
def db() -> None:
    pass


@db.command("upgrade", help="Apply migrations up to REVISION (default: the latest).")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    from server import db as database

    app = _app()
    url = app.config["DATABASE_URL"]
    database.upgrade(url, revision)
    click.echo(f"database at revision {database.current_revision(database.get_engine(app))}"
               f" ({_safe_url(url)})")


@db.command("current", help="Show the database's revision and the latest one.")
def db_current() -> None:
    from server import db as database

    app = _app()
    click.echo(f"current: {database.current_revision(database.get_engine(app))}")
    click.echo(f"head:    {database.head_revision()}")


@db.command("revision", help="Developers: autogenerate a migration from server/models.py.")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    from alembic import command

    from server import db as database

    app = _app()
    command.revision(database.alembic_config(app.config["DATABASE_URL"]), message=message,
                     autogenerate=True)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def require_migrated(app: Flask) -> None:
    """Stop with a clear message when the database is not at the latest migration."""
    from server import db as database

    current = database.current_revision(database.get_engine(app))
    head = database.head_revision()
    if current != head:
        raise click.ClickException(
            f"the database is at revision {current or '(empty)'}, the code needs {head}: "
            f"run `kpibook db upgrade` first")


# --- users and tokens -------------------------------------------------------------------------

ROLES = ("hr_admin", "executive", "dept_head", "employee", "auditor")


@click.group(help="Users and their roles.")
def users() -> None:
    pass


@users.command("add", help="Create user NAME with a role.")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--display-name", default="", help="Name shown to people, e.g. 张伟.")
@click.option("--email", default="")
@click.option("--authority", default="",
              help='Executive/department head authority as JSON, e.g. '
                   '\'{"departments": ["一车间"], "max_points": 3}\'.')
@click.option("--employee-id", default="",
              help="The person's 工号: their results (employees) and their cards on DingTalk "
                   "/ Feishu / WeCom through the org sync (docs/notifications.md).")
@click.option("--lang", type=click.Choice(["", "zh", "en"]), default="",
              help="Language of their notifications (default: KPIBOOK_LANG).")
def users_add(name: str, role: str, display_name: str, email: str, authority: str,
              employee_id: str, lang: str) -> None:
    from server.auth import create_user
    from server.db import session_scope

    try:
        auth = json.loads(authority) if authority else {}
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--authority") from None
    app = _app()
    require_migrated(app)
    with session_scope(app) as session:
        try:
            user = create_user(session, name, role, display_name, auth, email,
                               employee_id=employee_id)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        user.lang = lang
        click.echo(f"created user {user.name} ({user.role})")


@users.command("list", help="List users.")
def users_list() -> None:
    from sqlalchemy import select

    from server.db import session_scope
    from server.models import User

    app = _app()
    with session_scope(app) as session:
        for u in session.scalars(select(User).order_by(User.name)):
            state = "" if u.active else " (inactive)"
            auth = f" authority={json.dumps(u.authority, ensure_ascii=False)}" \
                if u.authority else ""
            click.echo(f"{u.name}\t{u.role}\t{u.display_name}{state}{auth}")


@click.group(help="API tokens (shown once; only a hash is stored).")
def tokens() -> None:
    pass


@tokens.command("create", help="Create a token for user NAME and print it once.")
@click.argument("name")
@click.option("--label", default="cli", help="What the token is for, e.g. 'laptop Excel'.")
@click.option("--days", type=click.IntRange(1, 365), default=None,
              help="Lifetime in days (default KPIBOOK_TOKEN_DAYS); every token expires.")
@click.option("--scopes", default="read,submit,admin", show_default=True,
              help="Comma-separated: read, submit, admin (the role still limits the token).")
def tokens_create(name: str, label: str, days: int | None, scopes: str) -> None:
    from sqlalchemy import select

    from server.auth import create_token
    from server.db import session_scope
    from server.models import User

    app = _app()
    require_migrated(app)
    with session_scope(app) as session:
        user = session.scalar(select(User).where(User.name == name))
        if user is None:
            raise click.ClickException(f"no user {name!r}; create it with `kpibook users add`")
        try:
            token = create_token(session, user, label,
                                 days=days or int(app.config["TOKEN_DAYS"]),
                                 scopes=[s.strip() for s in scopes.split(",") if s.strip()])
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--scopes") from None
    click.echo(token)
    click.echo("(store it now: it cannot be shown again)", err=True)


@tokens.command("list", help="List tokens (prefixes only).")
def tokens_list() -> None:
    from sqlalchemy import select

    from server.db import session_scope
    from server.models import ApiToken

    app = _app()
    with session_scope(app) as session:
        for t in session.scalars(select(ApiToken).order_by(ApiToken.id)):
            state = "revoked" if t.revoked_at else "active"
            click.echo(f"{t.prefix}…\t{t.user.name}\t{t.name}\t{state}")


@tokens.command("revoke", help="Revoke the token(s) starting with PREFIX.")
@click.argument("prefix")
def tokens_revoke(prefix: str) -> None:
    import datetime as dt

    from sqlalchemy import select

    from server.db import session_scope
    from server.models import ApiToken

    if len(prefix) < 8:
        raise click.BadParameter("give at least 8 characters", param_hint="PREFIX")
    app = _app()
    with session_scope(app) as session:
        rows = session.scalars(select(ApiToken).where(ApiToken.prefix.startswith(prefix[:12])))
        n = 0
        for t in rows:
            t.revoked_at = dt.datetime.now(dt.UTC)
            n += 1
    click.echo(f"revoked {n} token(s)")


@click.group(help="OAuth2 machine clients (source systems pushing facts).")
def clients() -> None:
    pass


@clients.command("list", help="List OAuth2 clients (never their secrets).")
def clients_list() -> None:
    from sqlalchemy import select

    from server.db import session_scope
    from server.models import OAuthClient

    app = _app()
    with session_scope(app) as session:
        for c in session.scalars(select(OAuthClient).order_by(OAuthClient.id)):
            state = "revoked" if c.revoked_at else "active"
            click.echo(f"{c.client_id}\t{c.name}\t{' '.join(c.scopes or [])}\t{state}")


@clients.command("rotate", help="Give client CLIENT_ID a new secret and print it once; the "
                                "old secret and its access tokens stop working at once.")
@click.argument("client_id")
def clients_rotate(client_id: str) -> None:
    from sqlalchemy import select

    from server.auth import rotate_oauth_secret
    from server.db import session_scope
    from server.models import OAuthClient

    app = _app()
    require_migrated(app)
    with session_scope(app) as session:
        row = session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
        if row is None or row.revoked_at is not None:
            raise click.ClickException(f"no active client {client_id!r}")
        secret = rotate_oauth_secret(session, row)
    click.echo(secret)
    click.echo("(store it now: it cannot be shown again)", err=True)


# --- serve --------------------------------------------------------------------------------------


@click.command(help="Serve kpibook over HTTPS (Office add-ins require HTTPS, even locally).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8443, show_default=True, type=int)
@click.option("--cert", type=click.Path(dir_okay=False, exists=True),
              help="PEM certificate; default: a self-signed one in the instance folder.")
@click.option("--key", type=click.Path(dir_okay=False, exists=True), help="PEM private key.")
@click.option("--http", "plain_http", is_flag=True,
              help="Plain HTTP, e.g. behind a TLS-terminating proxy (add-ins need HTTPS).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="More than 1: run gunicorn with server/gunicorn_conf.py and this many "
                   "worker processes (PostgreSQL; docs/deploy.md).")
def serve(host: str, port: int, cert: str | None, key: str | None, plain_http: bool,
          workers: int) -> None:
    import os

    from server import create_app

    overrides = {}
    if not os.environ.get("KPIBOOK_BASE_URL"):
        # The manifest must point at where this process listens unless told otherwise.
        local = host if host not in ("127.0.0.1", "0.0.0.0", "::") else "localhost"
        overrides["BASE_URL"] = f"{'http' if plain_http else 'https'}://{local}:{port}"
        os.environ["KPIBOOK_BASE_URL"] = overrides["BASE_URL"]  # for gunicorn's workers
    app = create_app(overrides)
    require_migrated(app)
    if workers > 1:
        exec_gunicorn(app, host, port, workers, cert, key, plain_http)
    from server.services.schedule import start_pull_scheduler

    start_pull_scheduler(app)  # scheduled pulls (gunicorn's workers start their own)
    run_server(app, host, port, cert, key, plain_http)


def gunicorn_argv(host: str, port: int, workers: int, cert: str | None = None,
                  key: str | None = None) -> list[str]:
    conf = Path(__file__).with_name("gunicorn_conf.py")
    argv = [sys.executable, "-m", "gunicorn", "-c", str(conf), "--workers", str(workers),
            "--bind", f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    if cert and key:
        argv += ["--certfile", cert, "--keyfile", key]
    return argv


def exec_gunicorn(app: Flask, host: str, port: int, workers: int, cert: str | None,
                  key: str | None, plain_http: bool) -> None:
    """Replace this process by gunicorn (several workers need a server database)."""
    import os

    from sqlalchemy.engine import make_url

    from server.certs import ensure_self_signed

    if make_url(app.config["DATABASE_URL"]).get_backend_name() == "sqlite":
        click.echo("warning: several workers on SQLite serialise every write and keep pull "
                   "progress per worker; use PostgreSQL (docs/deploy.md)", err=True)
    if bool(cert) != bool(key):
        raise click.UsageError("--cert and --key go together")
    if not plain_http and not cert:
        cert_path, key_path = ensure_self_signed(app.instance_path)
        cert, key = str(cert_path), str(key_path)
    argv = gunicorn_argv(host, port, workers, None if plain_http else cert,
                         None if plain_http else key)
    click.echo(f"kpibook: gunicorn with {workers} workers on "
               f"{'http' if plain_http else 'https'}://{host}:{port}/")
    os.execv(argv[0], argv)


def run_server(app: Flask, host: str, port: int, cert: str | None = None,
               key: str | None = None, plain_http: bool = False) -> None:
    from werkzeug.serving import run_simple

    from server.certs import ensure_self_signed

    if bool(cert) != bool(key):
        raise click.UsageError("--cert and --key go together")
    ssl_context = None
    if not plain_http:
        if not cert:
            cert_path, key_path = ensure_self_signed(app.instance_path)
            cert, key = str(cert_path), str(key_path)
            click.echo(f"self-signed certificate: {cert} (trust it once, see docs/server.md)")
        ssl_context = (cert, key)
    scheme = "http" if plain_http else "https"
    click.echo(f"kpibook serving on {scheme}://{host}:{port}/  (Ctrl+C to stop)")
    # Werkzeug's threaded server is enough for one HR department; larger sites run the WSGI
    # app (server:create_app()) under gunicorn/waitress behind a proxy (docs/server.md).
    run_simple(host, port, app, ssl_context=ssl_context, threaded=True, use_reloader=False,
               request_handler=quiet_request_handler())


def quiet_request_handler() -> type:
    """Werkzeug's handler without its `Server: Werkzeug/<version> Python/<version>` header
    (no server name or version for scanners; docs/security.md)."""
    from werkzeug.serving import WSGIRequestHandler

    class Handler(WSGIRequestHandler):
        def version_string(self) -> str:
            return "kpibook"

    return Handler


# --- xl: the headless client -------------------------------------------------------------------

BUTTONS = ("new_period", "pull", "score", "check", "submit", "refresh")


@click.command("xl", help="Press a KPI ribbon BUTTON on WORKBOOK.xlsx without Excel "
                          "(new_period needs --period, e.g. --period 2026-11).")
@click.argument("button", type=click.Choice(BUTTONS))
@click.argument("workbook", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--server", "server_url", default=None,
              help="Server base URL, e.g. https://localhost:8443 (default: in-process app).")
@click.option("--token", envvar="KPIBOOK_TOKEN", default=None,
              help="API token (or KPIBOOK_TOKEN).")
@click.option("-o", "--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the result here (default: update WORKBOOK in place).")
@click.option("--insecure", is_flag=True,
              help="Do not verify the server's certificate (self-signed local servers).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default=None)
@click.option("--period", default=None, metavar="PERIOD",
              help="new_period only: the period to create, a month 2026-11 (or 2026-Q4, "
                   "2026); the server checks it.")
@click.option("--scorecard", default=None, metavar="CODE",
              help="new_period only: the scorecard of the month this workbook scores, e.g. "
                   "rnd (default: the workbook's template code).")
@click.option("--apply-records", "apply_reason", default=None, metavar="REASON",
              help="score: apply this workbook's rule and roster changes to the records of "
                   "record, for this reason (HR only; docs/records.md).")
def xl(button: str, workbook: Path, server_url: str | None, token: str | None,
       out_path: Path | None, insecure: bool, lang: str | None, period: str | None,
       scorecard: str | None, apply_reason: str | None) -> None:
    import functools
    from urllib.parse import urlencode

    from addin.headless import ServerError, flask_poster, run_button

    if button == "new_period" and not (period or "").strip():
        raise click.UsageError("new_period needs the period you choose: --period 2026-11")
    if button != "new_period" and period is not None:
        raise click.UsageError("--period is for new_period only; the other buttons use the "
                               "period the workbook is linked to")
    if button != "new_period" and scorecard is not None:
        raise click.UsageError("--scorecard is for new_period only; the other buttons use the "
                               "scorecard the workbook is bound to")
    if apply_reason is not None and button != "score":
        raise click.UsageError("--apply-records goes with the score button")
    params = {k: v for k, v in (("period", period), ("scorecard", scorecard), ("lang", lang),
                                ("apply_reason", apply_reason)) if v}
    query = f"?{urlencode(params)}" if params else ""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if server_url:
        post = http_post(server_url, headers, insecure, query)
    else:
        app = _app()
        require_migrated(app)
        client = app.test_client()
        # In-process: nothing crosses a network, so the request counts as HTTPS (tokens are
        # refused over plain HTTP, docs/security.md).
        client.post = functools.partial(client.post, base_url="https://localhost")
        base = flask_poster(client, headers=headers)
        post = base
        if query:
            def post(b: str, p: dict, extra: dict | None = None):
                return base(b + query, p, extra)
            post.takes_headers = True
    try:
        result = run_button(button, workbook, out_path, post=post)
    except ServerError as exc:
        click.echo(str(exc.message if hasattr(exc, "message") else exc), err=True)
        sys.exit(1)
    for message, title in result.alerts:
        click.echo(f"[{title}] {message}" if title else message)
    click.echo(f"{len(result.actions)} action(s) applied; saved {result.out_path}")


def http_post(server_url: str, headers: dict[str, str], insecure: bool, query: str = ""):
    """POST {server}/xl/{button} with requests; returns (status, body) for run_button."""
    import requests

    base = server_url.rstrip("/")
    if not base.endswith("/xl"):
        base += "/xl"
    if insecure:
        import urllib3

        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

    def post(button: str, payload: dict, extra: dict | None = None
             ) -> tuple[int, bytes, dict[str, str]]:
        resp = requests.post(f"{base}/{button}{query}", json=payload,
                             headers={**headers, **(extra or {})}, timeout=300,
                             verify=not insecure)
        return resp.status_code, resp.content, dict(resp.headers)

    post.takes_headers = True  # sheets by digest (addin/headless.py, run_button)
    return post


@click.command(help="Check this installation is ready for production (docs/deploy.md); "
                    "exits 1 when a check fails.")
def doctor() -> None:
    from server.doctor import FAIL, render, run_checks

    checks = run_checks(_app())
    click.echo(render(checks))
    if any(c.status == FAIL for c in checks):
        sys.exit(1)


# --- backup, restore, verify (docs/deploy.md, "Backup, restore, verify") --------------------


@click.command(help="Back up the database and the git history into the new folder OUT_DIR "
                    "(consistent: taken under the history lock), with manifest.json.")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
def backup(out_dir: Path) -> None:
    from server.backup import BackupError
    from server.backup import backup as run_backup

    app = _app()
    require_migrated(app)
    try:
        manifest = run_backup(app, out_dir)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    rows = sum(manifest["counts"].values())
    click.echo(f"backup in {out_dir}: {manifest['database']} at revision "
               f"{manifest['migration_revision']}, {rows} rows, history head "
               f"{manifest['history_head'] or '(no history)'}")


@click.command(help="Restore BACKUP_DIR into an empty database and an empty history folder "
                    "(stop the server first).")
@click.argument("backup_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database/history that is not empty.")
def restore(backup_dir: Path, force: bool) -> None:
    from server.backup import BackupError
    from server.backup import restore as run_restore

    try:
        manifest = run_restore(_app(), backup_dir, force=force)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"restored {backup_dir}: revision {manifest['migration_revision']}, history head "
               f"{manifest['history_head'] or '(no history)'}; run `kpibook verify`")


@click.command(help="Check the git history and the database agree (git fsck, submissions both "
                    "ways, the head's state, score runs); exits 1 on any discrepancy.")
def verify() -> None:
    from server.verify import verify as run_verify

    app = _app()
    require_migrated(app)
    found, figures = run_verify(app)
    click.echo("checked " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in figures.items()))
    for d in found:
        click.echo(str(d))
    if found:
        click.echo(f"{len(found)} discrepancy(ies)", err=True)
        sys.exit(1)
    click.echo("OK: history and database agree")


# --- `kpibook pull PERIOD` ----------------------------------------------------------------------

@click.command("pull", help="Pull PERIOD's data from the source systems and store it.")
@click.argument("period_code", metavar="PERIOD")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True),
              default=None, help="Connectors file (default: KPIBOOK_SYNC_CONFIG).")
@click.option("--source", "sources", multiple=True, help="Only this source (repeatable).")
@click.option("--by", "by", default="cli", show_default=True, help="Recorded as fetched by.")
def pull_command(period_code: str, config_file: str | None, sources: tuple[str, ...],
                 by: str) -> None:
    import time

    from sqlalchemy import select

    from server import create_app
    from server.db import session_scope
    from server.models import Period
    from server.periodcode import PeriodCodeError, check_period_code
    from server.services.errors import ClientError
    from server.services.facts import pull_summary
    from server.services.pull import SourceProgress, run_pull, sync_config
    from sync.errors import SyncError

    overrides = {"SYNC_CONFIG": config_file} if config_file else {}
    app = create_app(overrides)
    require_migrated(app)
    try:
        config = sync_config(app.config)
    except SyncError as exc:
        raise click.ClickException(str(exc)) from None
    if config is None:
        raise click.ClickException("no connectors file: give --config FILE or set "
                                   "KPIBOOK_SYNC_CONFIG (docs/sync.md)")
    began = time.perf_counter()
    last: dict[str, str] = {}

    def show(p: SourceProgress) -> None:
        # one line per change of state, and every 10 pages while fetching
        mark = f"{p.state}:{p.pages // 10}"
        if last.get(p.source) != mark:
            last[p.source] = mark
            click.echo(f"[{time.perf_counter() - began:6.2f}s] {p.line()}")

    try:
        period_code = check_period_code(period_code)
    except PeriodCodeError as exc:
        raise click.BadParameter(str(exc), param_hint="PERIOD") from None
    failed = False
    with session_scope(app) as session:
        # every scorecard of the month, each from the sources its own rules name
        periods = session.scalars(select(Period).where(Period.code == period_code)
                                  .order_by(Period.scorecard)).all()
        if not periods:
            raise click.ClickException(f"period {period_code} does not exist (press New period "
                                       "or create it first)")
        for period in periods:
            try:
                report = run_pull(session, period, by, config, app.config,
                                  only=set(sources) or None, on_progress=show)
            except ClientError as exc:
                raise click.ClickException(exc.message) from None
            session.commit()
            click.echo(pull_summary(report, "en"))
            click.echo(f"period {period.code} {period.scorecard}: {report.stored} stored, "
                       f"{report.unchanged} unchanged, {report.kept_stale} kept stale, "
                       f"{len(report.problems)} problems, {time.perf_counter() - began:.2f} s")
            failed = failed or report.failed
    if failed:
        raise SystemExit(2)  # scripts see that a source failed; good data is still stored


# --- `kpibook org sync` ---------------------------------------------------------------------------

@click.group("org", help="Organisation sync from DingTalk, Feishu or WeCom (docs/sync.md).")
def org_command() -> None:
    pass


@org_command.command("sync", help="Read the org source and propose a roster change for HR "
                                  "to review and apply on /admin/roster.")
@click.option("--platform", type=click.Choice(["dingtalk", "feishu", "wecom"]), default="",
              help="The org source of this platform (when there is one).")
@click.option("--source", "source_name", default="", help="The [[org]] source by name.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True),
              default=None, help="Connectors file (default: KPIBOOK_SYNC_CONFIG).")
@click.option("--by", default="cli", show_default=True, help="Recorded as proposed by.")
def org_sync_command(platform: str, source_name: str, config_file: str | None,
                     by: str) -> None:
    from server import create_app
    from server.db import session_scope
    from server.services.errors import ClientError
    from server.services.orgsync import sync_now

    app = create_app({"SYNC_CONFIG": config_file} if config_file else {})
    require_migrated(app)
    try:
        with session_scope(app) as session:
            change = sync_now(session, app.config, source_name, by, platform)
            if change is None:
                click.echo("the roster matches the platform: no changes")
                return
            counts = ", ".join(f"{n} {k}" for k, n in change.notes.get("counts", {}).items()
                               if n)
            click.echo(f"roster change #{change.id} proposed ({change.source}, "
                       f"{change.platform}): {counts}")
            for c in change.changes:
                what = "; ".join(f"{f}: {c['before'].get(f, '')!s} -> {c['after'].get(f, '')!s}"
                                 for f in c["fields"]) if c["kind"] != "added" else \
                    f"{c['after']['department']} {c['after']['position']}"
                click.echo(f"  {c['kind']:<8} {c['employee_id']:<10} {c['name']}  "
                           f"{what or c.get('evidence', '')}")
            for gap in change.notes.get("scope_gaps", []):
                click.echo(f"  scope: {gap}")
            click.echo(f"review and apply it at {app.config['BASE_URL']}/admin/roster")
    except ClientError as exc:
        raise click.ClickException(exc.message) from None


# --- `kpibook notify` -----------------------------------------------------------------------------

@click.group("notify", help="Notifications: retry failed deliveries, send the daily reminder "
                            "of pending approvals (docs/notifications.md).")
def notify_command() -> None:
    pass


@notify_command.command("retry", help="Attempt every failed notification whose retry is due "
                                      "(the server's workers do this every minute).")
def notify_retry_command() -> None:
    from server.services.cards import retry_due

    app = _app()
    require_migrated(app)
    with app.app_context():
        report = retry_due(app)
    click.echo(f"{report.sent} sent, {report.retrying} failed again (retried later), "
               f"{report.failed} given up")


@notify_command.command("remind", help="Send each approver the reminder of their pending "
                                       "approvals, once a day (the workers send it at "
                                       "KPIBOOK_REMINDER_TIME).")
@click.option("--date", "day", default="", help="The day it counts for, YYYY-MM-DD "
                                                "(default: today in the company's time zone).")
def notify_remind_command(day: str) -> None:
    import datetime as dt

    from server.services.reminders import send_reminders

    app = _app()
    require_migrated(app)
    try:
        when = dt.date.fromisoformat(day) if day else None
    except ValueError:
        raise click.BadParameter(f"{day!r} is not a date like 2026-12-08",
                                 param_hint="--date") from None
    with app.app_context():
        report = send_reminders(app, when)
    for line in report.sent:
        click.echo(f"reminded {line}")
    click.echo(f"{report.day}: {len(report.sent)} reminded, {len(report.skipped)} already "
               f"reminded that day, {report.nothing} with nothing pending")


COMMANDS = (db, users, tokens, clients, serve, xl, doctor, backup, restore, verify, pull_command,
            org_command, notify_command)
