"""`kpibook doctor`: is this installation ready for production?

Checks the configuration (secret key, https base URL, proxy trust), the database (reachable,
migrated, server database for several workers), the history repository (present, git fsck
--connectivity-only, its lock), the TLS certificate given to gunicorn (present, valid now,
for the base URL's host, matching its key) and the notification channels. Prints an
OK/WARN/FAIL table; the command exits 1 when any check FAILs.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask

OK, WARN, FAIL = "OK", "WARN", "FAIL"
WEAK_SECRETS = {"", "test", "dev", "secret", "changeme", "change-me", "kpibook", "default"}
CERT_WARN_DAYS = 21


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: str
    detail: str


def run_checks(app: Flask, environ: Mapping[str, str] | None = None) -> list[Check]:
    env = os.environ if environ is None else environ
    out: list[Check] = []
    out += _config(app, env)
    db_ok, db_checks = _database(app)
    out += db_checks
    out += _history(app, db_ok)
    out += _certificate(app, env)
    out += _notifications(app)
    return out


# --- configuration -----------------------------------------------------------------------------


def _config(app: Flask, env: Mapping[str, str]) -> list[Check]:
    c = app.config
    out = []
    secret = env.get("KPIBOOK_SECRET_KEY", "")
    if not secret:
        out.append(Check("secret key", FAIL, "KPIBOOK_SECRET_KEY is not set: each worker "
                         "invents its own and sign-ins break across workers and restarts"))
    elif secret.strip().lower() in WEAK_SECRETS or len(secret) < 32:
        out.append(Check("secret key", FAIL, "KPIBOOK_SECRET_KEY is a default or shorter "
                         "than 32 characters (python -c 'import secrets; "
                         "print(secrets.token_hex(32))')"))
    else:
        out.append(Check("secret key", OK, f"set ({len(secret)} characters)"))
    base = str(c.get("BASE_URL") or "")
    parts = urlsplit(base)
    if parts.scheme != "https" or not parts.hostname:
        out.append(Check("base URL", FAIL, f"KPIBOOK_BASE_URL={base!r} must be https:// "
                         "(Office add-ins load only over HTTPS)"))
    elif parts.hostname in ("localhost", "127.0.0.1", "::1"):
        out.append(Check("base URL", WARN, f"{base} is local: clients on other machines "
                         "cannot reach it"))
    else:
        out.append(Check("base URL", OK, base))
    trust = int(c.get("TRUST_PROXY") or 0)
    tls_here = bool(env.get("KPIBOOK_TLS_CERT"))
    if c.get("ALLOW_INSECURE_HTTP"):
        out.append(Check("HTTPS only", FAIL, "KPIBOOK_ALLOW_INSECURE_HTTP=1 accepts tokens "
                         "and passwords over plain HTTP (tests and development only)"))
    elif trust == 0 and not tls_here:
        out.append(Check("HTTPS only", WARN, "neither KPIBOOK_TRUST_PROXY (TLS at nginx) nor "
                         "KPIBOOK_TLS_CERT (TLS at gunicorn): every token would be refused "
                         "as plain HTTP"))
    elif trust > 0 and tls_here:
        out.append(Check("HTTPS only", WARN, "both KPIBOOK_TRUST_PROXY and KPIBOOK_TLS_CERT: "
                         "terminate TLS in one place"))
    elif trust > 1:
        out.append(Check("HTTPS only", WARN, f"KPIBOOK_TRUST_PROXY={trust}: clients can forge "
                         "X-Forwarded-For unless there really are that many proxies"))
    else:
        out.append(Check("HTTPS only", OK, "TLS at the proxy (KPIBOOK_TRUST_PROXY=1)"
                         if trust else "TLS at gunicorn (KPIBOOK_TLS_CERT)"))
    return out


# --- database ----------------------------------------------------------------------------------


def _database(app: Flask) -> tuple[bool, list[Check]]:
    from sqlalchemy import text

    from server import db

    engine = db.get_engine(app)
    safe = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return False, [Check("database", FAIL, f"{safe} unreachable: "
                             f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}")]
    out = [Check("database", OK if engine.dialect.name == "postgresql" else WARN,
                 safe if engine.dialect.name == "postgresql" else
                 f"{safe}: SQLite serves one process; use PostgreSQL for several workers")]
    current, head = db.current_revision(engine), db.head_revision()
    out.append(Check("migrations", OK if current == head else FAIL,
                     f"at {current} (head)" if current == head else
                     f"database at {current or '(empty)'}, code needs {head}: run "
                     "`kpibook db upgrade`"))
    return current == head, out


# --- history -----------------------------------------------------------------------------------


def _git_dir(folder: Path) -> Path | None:
    if (folder / "HEAD").is_file() and (folder / "objects").is_dir():
        return folder
    if (folder / ".git" / "HEAD").is_file():
        return folder / ".git"
    return None


def _history(app: Flask, db_ok: bool) -> list[Check]:
    folder = Path(str(app.config["HISTORY_DIR"]))
    git_dir = _git_dir(folder)
    out = []
    if not folder.exists() or (git_dir is None and not any(folder.iterdir())):
        out.append(Check("history repository", WARN, f"{folder} does not exist yet (created "
                         "by the first submit); its folder must be shared by every worker"))
    elif git_dir is None:
        out.append(Check("history repository", FAIL, f"{folder} exists but is no git "
                         "repository"))
        return out
    else:
        try:
            fsck = subprocess.run(["git", "--git-dir", str(git_dir), "fsck",
                                   "--connectivity-only", "--no-progress"],
                                  capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            fsck = None
            out.append(Check("history repository", FAIL, f"git fsck did not run: {exc}"))
        if fsck is not None:
            problems = (fsck.stdout + fsck.stderr).strip().splitlines()
            bad = [p for p in problems if not p.startswith(("dangling", "notice"))]
            out.append(Check("history repository", OK if fsck.returncode == 0 and not bad
                             else FAIL, str(folder) if fsck.returncode == 0 and not bad
                             else f"git fsck: {'; '.join(bad[:3]) or fsck.returncode}"))
    if not db_ok and app.extensions["kpibook.db"][0].dialect.name == "postgresql":
        out.append(Check("history lock", FAIL, "PostgreSQL advisory lock: database not ready"))
        return out
    try:
        from server.services.history import _lock_for

        if not folder.exists() and app.extensions["kpibook.db"][0].dialect.name != \
                "postgresql":
            out.append(Check("history lock", WARN, "file lock: repository folder missing"))
            return out
        lock = _lock_for(app, os.path.realpath(folder))
        if hasattr(lock, "timeout"):
            lock.timeout = 5
        with lock.hold():
            pass
        kind = type(lock).__name__
        note = (" (one host: flock works only on a local file system)" if kind == "FileLock"
                else " (several hosts on one repository path)")
        out.append(Check("history lock", OK, kind + note))
    except Exception as exc:  # noqa: BLE001
        out.append(Check("history lock", FAIL, f"{type(exc).__name__}: {exc}"[:200]))
    return out


# --- TLS ---------------------------------------------------------------------------------------


def _certificate(app: Flask, env: Mapping[str, str]) -> list[Check]:
    cert_path, key_path = env.get("KPIBOOK_TLS_CERT", ""), env.get("KPIBOOK_TLS_KEY", "")
    if not cert_path:
        return [Check("certificate", OK, "none at gunicorn (TLS at the proxy: check nginx's "
                      "certificate with `openssl s_client`)")]
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    except (OSError, ValueError) as exc:
        return [Check("certificate", FAIL, f"{cert_path}: {exc}")]
    out = []
    now = dt.datetime.now(dt.UTC)
    end, start = cert.not_valid_after_utc, cert.not_valid_before_utc
    if now > end or now < start:
        out.append(Check("certificate", FAIL, f"{cert_path} valid {start:%Y-%m-%d} to "
                         f"{end:%Y-%m-%d}: not now"))
    elif end - now < dt.timedelta(days=CERT_WARN_DAYS):
        out.append(Check("certificate", WARN, f"{cert_path} expires {end:%Y-%m-%d}"))
    else:
        out.append(Check("certificate", OK, f"{cert_path} valid until {end:%Y-%m-%d}"))
    host = urlsplit(str(app.config.get("BASE_URL") or "")).hostname or ""
    if not _cert_matches(cert, host):
        out.append(Check("certificate host", FAIL, f"the certificate is not for {host!r}"))
    else:
        out.append(Check("certificate host", OK, host))
    try:
        key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
        same = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == \
            cert.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
        out.append(Check("certificate key", OK if same else FAIL,
                         "matches" if same else f"{key_path} is not the certificate's key"))
    except (OSError, ValueError, TypeError) as exc:
        out.append(Check("certificate key", FAIL, f"{key_path or '(KPIBOOK_TLS_KEY unset)'}: "
                         f"{exc}"[:200]))
    return out


def _cert_matches(cert, host: str) -> bool:
    import ipaddress

    from cryptography import x509

    if not host:
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    try:
        ip = ipaddress.ip_address(host)
        return ip in san.get_values_for_type(x509.IPAddress)
    except ValueError:
        pass
    for name in san.get_values_for_type(x509.DNSName):
        name = name.lower()
        if name == host.lower():
            return True
        if name.startswith("*.") and "." in host and host.lower().split(".", 1)[1] == name[2:]:
            return True
    return False


# --- notifications -----------------------------------------------------------------------------


def _notifications(app: Flask) -> list[Check]:
    c = app.config
    smtp, hook = str(c.get("SMTP_HOST") or ""), str(c.get("WEBHOOK_URL") or "")
    out = []
    if smtp:
        port = int(c.get("SMTP_PORT") or 25)
        secure = c.get("SMTP_STARTTLS") or c.get("SMTP_SSL")
        out.append(Check("e-mail", OK if secure or port == 25 else WARN,
                         f"{smtp}:{port}" + ("" if secure else " without TLS")))
    if hook:
        scheme = urlsplit(hook).scheme
        out.append(Check("webhook", OK if scheme == "https" else WARN,
                         f"{scheme}://… ({c.get('WEBHOOK_STYLE')})"
                         + ("" if scheme == "https" else ": not https")))
    out += _card_channels(c)
    if not out:
        out.append(Check("notifications", WARN, "neither KPIBOOK_SMTP_HOST nor "
                         "KPIBOOK_WEBHOOK_URL nor [[notify]] cards: nobody is told about "
                         "publications and appeals"))
    return out


def _card_channels(c: Mapping[str, object]) -> list[Check]:
    """[[notify]] tables of the connectors file: cards on DingTalk / Feishu / WeCom."""
    from server.services.pull import config_path
    from sync.cards import load_card_channels
    from sync.errors import SyncError

    path = config_path(c)
    if not path:
        return []
    try:
        channels = load_card_channels(path)
    except SyncError as exc:
        return [Check("cards", FAIL, f"{exc}")]
    out = []
    for ch in channels:
        try:
            url = ch.org.url()
        except SyncError as exc:
            out.append(Check(f"cards {ch.name}", FAIL, str(exc)))
            continue
        https = urlsplit(url).scheme == "https"
        out.append(Check(f"cards {ch.name}", OK if https else WARN,
                         f"{ch.platform} via [[org]] {ch.org.name}"
                         + ("" if https else f": {url} is not https")))
    return out


def render(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"{'check'.ljust(width)}  status  detail", f"{'-' * width}  ------  ------"]
    lines += [f"{c.name.ljust(width)}  {c.status.ljust(6)}  {c.detail}" for c in checks]
    fails = sum(c.status == FAIL for c in checks)
    warns = sum(c.status == WARN for c in checks)
    lines.append(f"{fails} FAIL, {warns} WARN, {len(checks) - fails - warns} OK")
    return "\n".join(lines)
