"""Server configuration: every setting comes from a `KPIBOOK_*` environment variable.

`SETTINGS` is the single list of settings (name, default, parser, help); docs/config.md
describes the same list for operators. `create_app(config)` applies, in this order: defaults,
the environment, then the mapping passed in (tests pass overrides that way).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass

PREFIX = "KPIBOOK_"


def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a yes/no value: {text!r}")


_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3,
          "gb": 1024**3}


def parse_size(text: str) -> int:
    """'64MB', '512k', '1048576' -> bytes. HR admins write sizes the way they read them."""
    raw = text.strip().lower().replace(" ", "")
    digits = raw.rstrip("kmgb")
    unit = raw[len(digits):]
    if not digits.isdigit() or unit not in _UNITS:
        raise ValueError(f"not a size: {text!r} (examples: 64MB, 512KB, 1048576)")
    return int(digits) * _UNITS[unit]


def parse_timezone(text: str) -> str:
    """An IANA time zone name ('Asia/Shanghai', 'UTC'); unknown names are refused."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = text.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {text!r} (an IANA name, e.g. Asia/Shanghai)") \
            from None
    return name


PERIOD_APPROVER_ROLES = ("hr_admin", "executive")


def parse_roles(text: str) -> tuple[str, ...]:
    """'hr_admin, executive' -> ('hr_admin', 'executive'): roles that may approve a period."""
    roles = tuple(dict.fromkeys(r.strip().lower() for r in text.split(",") if r.strip()))
    unknown = [r for r in roles if r not in PERIOD_APPROVER_ROLES]
    if not roles or unknown:
        raise ValueError(f"not approver roles: {text!r} (choose from "
                         f"{', '.join(PERIOD_APPROVER_ROLES)})")
    return roles


def parse_lang(text: str) -> str:
    value = text.strip().lower()
    if value.startswith("zh"):
        return "zh"
    if value.startswith("en"):
        return "en"
    raise ValueError(f"unsupported language {text!r} (zh or en)")


def parse_clock(text: str) -> str:
    """'9:00' -> '09:00'; '' stays '' (off)."""
    value = text.strip()
    if not value:
        return ""
    hours, _, minutes = value.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60
            and len(minutes) == 2):
        raise ValueError(f"not a time of day: {text!r} (HH:MM, e.g. 09:00)")
    return f"{int(hours):02d}:{minutes}"


@dataclass(frozen=True, slots=True)
class Setting:
    name: str  # Flask config key; the environment variable is PREFIX + name
    default: object  # None: computed in create_app (paths under the instance folder)
    parse: Callable[[str], object]
    help: str

    @property
    def env(self) -> str:
        return PREFIX + self.name


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", None, str,
            "SQLAlchemy URL. Default sqlite:///<instance>/kpibook.sqlite3; PostgreSQL: "
            "postgresql+psycopg://user:password@host/dbname"),
    Setting("HISTORY_DIR", None, str,
            "Folder of the git repository that versions submitted periods. "
            "Default <instance>/history"),
    Setting("SECRET_KEY", None, str,
            "Secret for signed cookies (the review pages). Default: random per process"),
    Setting("BASE_URL", "https://localhost:8443", str,
            "Public https URL of this server; filled into the add-in manifest"),
    # A re-score sends the last answer's results back: ~75 MB at 20,000 managers x 10
    # indicators (docs/benchmarks.md), so 64 MB refused the largest workbooks' second Score.
    Setting("MAX_CONTENT_LENGTH", 128 * 1024**2, parse_size,
            "Largest accepted request body (e.g. 128MB); larger uploads get 413"),
    Setting("TRUST_PROXY", 0, int,
            "Number of reverse proxies in front of the server whose X-Forwarded-* headers "
            "are trusted (0: none)"),
    Setting("LANG", "zh", parse_lang,
            "Default language of messages and written results (zh or en); a workbook's "
            "kb_meta lang and ?lang= override it"),
    Setting("TIMEZONE", "Asia/Shanghai", parse_timezone,
            "The company's time zone (IANA name): every time on pages, exports, workbook "
            "stamps and notifications is shown in it"),
    Setting("SHEET_COPIES", 500, int,
            "How many sheets the server filled (results, data, adjustments) as answers left "
            "them the server keeps for clients that send sheet digests instead of values "
            "(0: none; docs/protocol.md)"),
    Setting("FACT_SOURCE", "stored", str.lower,
            "Where Pull gets facts: 'stored' (facts in the database only) or 'simulator' "
            "(invent demo facts for periods that have none)"),
    Setting("SCHEDULER_SECONDS", 60.0, float,
            "How often each worker's scheduler asks whether a scheduled pull is due "
            "(connectors file `schedule`); 0 turns scheduled pulls off in this process"),
    Setting("LOG_LEVEL", "INFO", str.upper, "Python logging level of the server"),
    Setting("INSTANCE_PATH", None, str,
            "Folder for the database, history, certificates. Default ./instance"),
    # --- security (docs/security.md) ---
    Setting("ALLOW_INSECURE_HTTP", False, parse_bool,
            "Accept tokens, sign-in and session cookies over plain HTTP. Only for unit tests "
            "and local development; behind a TLS proxy set TRUST_PROXY instead"),
    Setting("SESSION_HOURS", 8, int, "Web sign-in lasts this many hours at most"),
    Setting("SESSION_IDLE_MINUTES", 30, int,
            "A web session unused for this many minutes must sign in again"),
    # Sign-in throttling (server/throttle.py, docs/security.md "Brute force"): attempts are
    # counted per account at one address, per address, per account and for the whole server.
    Setting("LOGIN_MAX_FAILURES", 5, int,
            "Sign-in attempts for one account from one address before delays start"),
    Setting("LOGIN_FAILURE_DELAY", 1.0, float,
            "First delay in seconds once attempts are throttled; it doubles with every "
            "further attempt"),
    Setting("LOGIN_MAX_DELAY", 900.0, float,
            "Longest delay in seconds for one account at one address, and for one address"),
    Setting("LOGIN_IP_FAILURES", 30, int,
            "Sign-in attempts from one address (any names) before delays start"),
    Setting("LOGIN_ACCOUNT_FAILURES", 20, int,
            "Sign-in attempts for one account (all addresses) before delays start"),
    Setting("LOGIN_ACCOUNT_MAX_DELAY", 60.0, float,
            "Longest delay in seconds for one account across all addresses (kept short so "
            "that nobody can keep an account locked out)"),
    Setting("LOGIN_GLOBAL_FAILURES", 1000, int,
            "Sign-in attempts on the whole server before delays start"),
    Setting("LOGIN_GLOBAL_MAX_DELAY", 2.0, float,
            "Longest delay in seconds between sign-in attempts on the whole server"),
    Setting("LOGIN_WINDOW_MINUTES", 60, int,
            "Attempts are counted in windows of this many minutes"),
    Setting("MFA_ROLES", "hr_admin,executive", str,
            "Roles that must sign in with a one-time code (TOTP) besides the password; "
            "comma-separated, empty: nobody is required (anyone may still enrol)"),
    Setting("MFA_ISSUER", "kpibook", str,
            "Issuer shown by authenticator apps for kpibook's one-time codes"),
    # Platform sign-in (docs/signin.md): the providers are [[signin]] tables of the connectors
    # file (KPIBOOK_SYNC_CONFIG).
    Setting("PLATFORM_SIGNIN_MFA", True, parse_bool,
            "A QR sign-in on DingTalk, Feishu or WeCom counts as the second factor for the "
            "roles in MFA_ROLES (off: the one-time code follows, as after a password)"),
    Setting("OIDC_MFA_AMR", "mfa,otp,hwk,swk,sc,fpt,face,iris,retina,vbm", str,
            "`amr` values of an OpenID Connect id_token that count as the second factor "
            "(RFC 8176; a provider's mfa_amr overrides); without one the one-time code follows"),
    Setting("TOKEN_DAYS", 90, int,
            "Default lifetime in days of personal access tokens created on the web or with "
            "`kpibook tokens create` (the maximum is 365)"),
    Setting("OAUTH_TOKEN_SECONDS", 3600, int,
            "Lifetime of OAuth2 client-credentials access tokens"),
    # --- separation of duties (docs/roles.md) ---
    Setting("PERIOD_APPROVERS", ("hr_admin",), parse_roles,
            "Roles that approve a whole period (comma-separated: hr_admin, executive); the "
            "approver's department scope must also cover every department of the period"),
    # --- notifications (docs/security.md, notifications) ---
    Setting("SMTP_HOST", "", str, "SMTP server for e-mail notifications (empty: no e-mail)"),
    Setting("SMTP_PORT", 25, int, "SMTP port (587 with SMTP_STARTTLS, 465 with SMTP_SSL)"),
    Setting("SMTP_USER", "", str, "SMTP user name (empty: no SMTP authentication)"),
    Setting("SMTP_PASSWORD", "", str, "SMTP password"),
    Setting("SMTP_STARTTLS", False, parse_bool, "Upgrade the SMTP connection with STARTTLS"),
    Setting("SMTP_SSL", False, parse_bool, "Connect to SMTP over TLS (port 465)"),
    Setting("MAIL_FROM", "kpibook@localhost", str, "Sender address of notification e-mails"),
    Setting("WEBHOOK_URL", "", str,
            "Robot webhook for notifications, e.g. a DingTalk or Feishu group robot (empty: none)"),
    Setting("WEBHOOK_STYLE", "dingtalk", str.lower,
            "Body of the webhook POST: dingtalk (markdown), feishu (text) or plain (JSON event)"),
    # Cards to each person on DingTalk / Feishu / WeCom come from the [[notify]] tables of
    # the connectors file (KPIBOOK_SYNC_CONFIG, docs/notifications.md); these apply to every
    # channel (e-mail, webhook, cards).
    Setting("NOTIFY_MAX_ATTEMPTS", 5, int,
            "Attempts per notification before it is given up (failed deliveries are retried "
            "by the server's workers and `kpibook notify retry`)"),
    Setting("NOTIFY_RETRY_SECONDS", 60, int,
            "Wait in seconds before the first retry of a failed notification; doubled for "
            "each further retry"),
    Setting("REMINDER_TIME", "09:00", parse_clock,
            "Local time (company time zone, HH:MM) of the daily reminder of pending approvals "
            "to each approver; empty: no scheduled reminder (`kpibook notify remind` still "
            "sends it)"),
)


def from_environ(environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """The settings present in the environment, parsed. A bad value names its variable."""
    env = os.environ if environ is None else environ
    out: dict[str, object] = {}
    for s in SETTINGS:
        if s.env in env:
            try:
                out[s.name] = s.parse(env[s.env])
            except ValueError as exc:
                raise ValueError(f"{s.env}: {exc}") from None
    return out


def defaults() -> dict[str, object]:
    return {s.name: s.default for s in SETTINGS if s.default is not None}


def finish(config: dict[str, object], instance_path: str) -> None:
    """Fill the settings whose defaults depend on the instance folder."""
    if not config.get("DATABASE_URL"):
        config["DATABASE_URL"] = "sqlite:///" + os.path.join(instance_path, "kpibook.sqlite3")
    if not config.get("HISTORY_DIR"):
        config["HISTORY_DIR"] = os.path.join(instance_path, "history")
    if not config.get("SECRET_KEY"):
        # Only signs short-lived cookies; a restart logging reviewers out is acceptable.
        config["SECRET_KEY"] = secrets.token_hex(32)
    config["BASE_URL"] = str(config.get("BASE_URL", "")).rstrip("/")
