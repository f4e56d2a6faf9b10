"""Who is asking: passwords, web sessions, personal access tokens, OAuth2 machine clients.

* People sign in on the web page with a password (argon2id, argon2-cffi) and, for the roles in
  KPIBOOK_MFA_ROLES or anyone enrolled, a one-time code (server/mfa.py). The browser gets a
  signed `__Host-` cookie (Secure, HttpOnly, SameSite=Lax, Path=/) holding a random session
  id; the database keeps only its sha256, so signing out, deactivating a user or changing a
  password ends sessions on the server. Attempts are throttled in the database
  (server/throttle.py, docs/security.md).
* The Excel add-in and scripts send a personal access token (`Authorization: Bearer kpb_...`),
  created on the account page after the password is entered again, shown once, stored as
  sha256, expiring, scoped (read, submit, admin) and revoked by a password change. A fast hash
  is right for 32 random bytes (unlike passwords).
* Machine clients (source systems pushing facts) use OAuth2 client credentials through authlib:
  `POST /oauth/token` issues short-lived tokens with scopes; `guards.require_oauth("facts:write")`
  protects an endpoint and declares its policy for the permission-matrix test.
* Tokens and passwords are refused, and session cookies ignored, over plain HTTP unless the
  request came through a trusted TLS proxy (KPIBOOK_TRUST_PROXY) or
  KPIBOOK_ALLOW_INSECURE_HTTP is set.

What a user may do once known is decided by server/policy.py, never here.
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app, g, has_app_context, request, session
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from server import throttle
from server.db import get_session
from server.models import ApiToken, OAuthClient, OAuthToken, Role, User, WebSession
from server.scoring.messages import both, msg
from server.services.errors import ClientError, Forbidden, Unauthorized

log = logging.getLogger("kpibook.auth")

TOKEN_PREFIX = "kpb_"  # personal access tokens: recognisable in logs and secret scanners
OAUTH_TOKEN_PREFIX = "kpo_"  # OAuth2 access tokens of machine clients
MAX_TOKEN_DAYS = 365
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # argon2 hashes any length; this only bounds the work per request
SESSION_KEY = "kb_sid"
TOKEN_SCOPES = ("read", "submit", "admin")
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent / "data" / "common-passwords.txt.gz"

F = TypeVar("F", bound=Callable[..., Any])

# argon2id with the library's defaults (RFC 9106 low-memory profile: 64 MiB, 3 passes).
_hasher = PasswordHasher()
# Verified against when the user does not exist, so that a wrong name costs as much time as a
# wrong password and sign-in does not reveal which names exist.
_DUMMY_HASH = _hasher.hash("kpibook-no-such-user")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite returns naive datetimes for timezone-aware columns; they were stored as UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


# --- users and passwords ---------------------------------------------------------------------


def create_user(session: Session, name: str, role: str, display_name: str = "",
                authority: dict[str, Any] | None = None, email: str = "",
                password: str | None = None, employee_id: str = "") -> User:
    role = Role(role).value  # ValueError names the bad role
    name = name.strip()
    if not name:
        raise ValueError("user name is empty")
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise ValueError(f"user {name!r} already exists")
    user = User(name=name, role=role, display_name=display_name or name,
                authority=authority or {}, email=email, employee_id=employee_id,
                failed_logins=0)
    if password is not None:
        set_password(user, password)
    session.add(user)
    session.flush()
    return user


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled list of common and breached passwords (server/data/README.md)."""
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as fh:
        return frozenset(line.strip().casefold() for line in fh if line.strip())


def password_problem(password: str, lang: str = "zh") -> str | None:
    """Why a new password is not acceptable, or None. Length and the common-password list
    only: no composition rules (ASVS 2.1); spaces and any characters are welcome."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return msg("password.too_short", lang, least=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        return msg("password.too_long", lang, most=MAX_PASSWORD_LENGTH)
    folded = password.casefold()
    if folded in common_passwords() or folded.strip() in common_passwords():
        return msg("password.common", lang)
    return None


def set_password(user: User, password: str) -> None:
    """Store a new password. Every personal access token of the user is revoked (a token made
    by whoever knew the old password must not outlive it); callers end the web sessions."""
    problem = password_problem(password, "en")
    if problem:
        raise ValueError(problem)
    user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    db = object_session(user)
    if db is not None and user.id is not None:
        revoke_all_tokens(db, user)


def revoke_all_tokens(session: Session, user: User) -> int:
    now = utcnow()
    n = 0
    for row in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                      ApiToken.revoked_at.is_(None))):
        row.revoked_at = now
        n += 1
    return n


def end_all_sessions(session: Session, user: User) -> None:
    now = utcnow()
    for row in session.scalars(select(WebSession).where(WebSession.user_id == user.id,
                                                         WebSession.revoked_at.is_(None))):
        row.revoked_at = now


class SignInRefused(ClientError):
    status = 401

    def __init__(self, message: str, status: int | None = None, retry_after: float = 0):
        super().__init__(message, status)
        self.retry_after = retry_after


def client_ip() -> str:
    return (request.remote_addr or "-")[:64]


def _too_many(wait: float, lang: str) -> SignInRefused:
    # The same words whether or not the name exists: the counters are keyed by the name typed.
    seconds = max(1, int(wait + 0.999))
    return SignInRefused(msg("signin.throttled", lang, seconds=seconds), 429, retry_after=seconds)


def check_password_throttled(name: str, password: str, user: User | None,
                             lang: str = "zh") -> bool:
    """Count this attempt (server/throttle.py), then check the password: True if right.

    Raises SignInRefused (429) while the account at this address, this address, the account
    or the server waits out a delay; the password is then not even checked. Unknown or
    inactive users cost one argon2 verification like everyone else."""
    cfg = current_app.config
    db = get_session()
    keys = throttle.sign_in_keys(cfg, name, client_ip())
    wait = throttle.count_attempt(db, keys, float(cfg["LOGIN_WINDOW_MINUTES"]) * 60)
    if wait is not None:
        log.warning("sign-in throttled at %s (%.0f s)", client_ip(), wait)
        raise _too_many(wait, lang)
    if user is None or not user.active or not user.password_hash:
        _verify(_DUMMY_HASH, password)
        return False
    if not _verify(user.password_hash, password):
        log.warning("failed sign-in for user id %s", user.id)
        return False
    throttle.forget_attempt(db, keys, reset=tuple(throttle.account_keys(name)))
    return True


def authenticate(session: Session, name: str, password: str, lang: str = "zh") -> User:
    """The user with this name and password, or SignInRefused: 401 "wrong name or password"
    for every wrong combination, 429 while attempts are throttled (docs/security.md)."""
    user = session.scalar(select(User).where(User.name == name.strip()))
    if not check_password_throttled(name, password, user, lang):
        raise SignInRefused(msg("signin.wrong", lang))
    assert user is not None
    if _hasher.check_needs_rehash(user.password_hash or ""):
        user.password_hash = _hasher.hash(password)
    return user


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


# --- web sessions ----------------------------------------------------------------------------


def start_web_session(db: Session, user: User) -> str:
    """Create a server-side session for `user` and put its id into the signed cookie."""
    cfg = current_app.config
    sid = secrets.token_urlsafe(32)
    now = utcnow()
    db.add(WebSession(sid_hash=hash_token(sid), user_id=user.id, created_at=now,
                      last_seen_at=now, ip=client_ip(),
                      user_agent=(request.user_agent.string or "")[:200],
                      expires_at=now + dt.timedelta(hours=int(cfg["SESSION_HOURS"]))))
    db.flush()
    session.clear()  # a new id after sign-in: no session fixation
    session[SESSION_KEY] = sid
    session.permanent = True
    return sid


def end_web_session(db: Session) -> None:
    sid = session.pop(SESSION_KEY, None)
    if sid:
        row = db.scalar(select(WebSession).where(WebSession.sid_hash == hash_token(sid)))
        if row is not None and row.revoked_at is None:
            row.revoked_at = utcnow()
    session.clear()


def current_session_hash() -> str | None:
    sid = session.get(SESSION_KEY)
    return hash_token(sid) if sid else None


def web_session_user(db: Session) -> User | None:
    sid = session.get(SESSION_KEY)
    if not sid:
        return None
    if not (request.is_secure or current_app.config.get("ALLOW_INSECURE_HTTP")):
        # A session cookie that travelled in clear text is not honoured (docs/config.md).
        return None
    row = db.scalar(select(WebSession).where(WebSession.sid_hash == hash_token(sid)))
    now = utcnow()
    idle = dt.timedelta(minutes=int(current_app.config["SESSION_IDLE_MINUTES"]))
    if (row is None or row.revoked_at is not None or _aware(row.expires_at) <= now
            or _aware(row.last_seen_at) + idle <= now or not row.user.active):
        session.pop(SESSION_KEY, None)
        return None
    if now - _aware(row.last_seen_at) > dt.timedelta(minutes=1):
        row.last_seen_at = now  # at most one write a minute per browser
        db.commit()
    return row.user


# --- personal access tokens ------------------------------------------------------------------


def create_token(session: Session, user: User, name: str = "",
                 days: int | None = None, scopes: tuple[str, ...] | list[str] | None = None
                 ) -> str:
    """Store a new token for `user` and return it; it cannot be recovered later.

    `days`: lifetime (1 to 365); None: KPIBOOK_TOKEN_DAYS (every token expires). `scopes`:
    some of TOKEN_SCOPES; None: every scope (the role still limits what the token may do)."""
    token = new_token()
    if days is None:
        days = int(current_app.config["TOKEN_DAYS"]) if has_app_context() else 90
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise ValueError(f"a token lives 1 to {MAX_TOKEN_DAYS} days")
    chosen = list(TOKEN_SCOPES) if scopes is None else [s for s in TOKEN_SCOPES if s in scopes]
    unknown = set(scopes or ()) - set(TOKEN_SCOPES)
    if unknown or not chosen:
        raise ValueError(f"token scopes are some of {', '.join(TOKEN_SCOPES)}")
    session.add(ApiToken(user=user, name=name or "token", token_hash=hash_token(token),
                         prefix=token[:12], expires_at=utcnow() + dt.timedelta(days=days),
                         scopes=chosen))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    digest = hash_token(token)
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    # compare_digest: the lookup is by hash already; this only keeps timing uniform.
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    if row.revoked_at is not None or not row.user.active:
        return None
    expires = _aware(row.expires_at)
    if expires is not None and expires <= utcnow():
        return None
    row.last_used_at = utcnow()
    g.token_scopes = frozenset(row.scopes or ())
    return row.user


def _require_token_scope() -> None:
    """A token may use a route only with the scope its action needs (server/policy.py
    `token_scope`): a read-only token cannot press Submit, a submit token cannot open periods."""
    from server import policy
    from server.declarations import route_policy

    if not request.endpoint:
        return
    declared = route_policy(current_app, request.endpoint)
    needed = policy.token_scope(declared.action if declared and declared.kind in (
        "token", "web") else None, request.method)
    if needed not in g.get("token_scopes", frozenset()):
        raise Forbidden(both("token.lacks_scope", scope=needed))


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _accepts_session_auth() -> bool:
    # Ribbon buttons and API writes accept only tokens: a cookie would let another site make
    # the browser press a button (CSRF). API reads may use the web session (the pages' charts).
    if request.path.startswith("/xl/"):
        return False
    if request.path.startswith("/api/"):
        return request.method in ("GET", "HEAD")
    return True


def optional_user() -> User | None:
    """The user of this request (token, else web session), or None when anonymous."""
    if "user" in g:
        return g.user
    db = get_session()
    token = bearer_token()
    user: User | None = None
    if token is not None:
        user = user_for_token(db, token)
        if user is None:
            raise Unauthorized(both("token.invalid"))
        db.commit()  # last_used_at
        g.auth_via = "token"
        g.user = user
        _require_token_scope()
    elif _accepts_session_auth():
        user = web_session_user(db)
        g.auth_via = "session"
    if user is not None:
        g.user = user
    return user


def current_user() -> User:
    """The authenticated user of this request; 401 when nobody is signed in."""
    user = optional_user()
    if user is None:
        raise Unauthorized(both("signin.required"))
    return user


def require_role(user: User, roles: tuple[str, ...], action: str) -> None:
    """Kept for callers outside the policy module's reach; prefer policy.require."""
    if user.role not in roles:
        raise Forbidden(both("role.may_not", role=user.role, action=action))


def login_required(view: F) -> F:
    """Authenticate before the view runs (the user is then in `flask.g.user`)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        current_user()
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


# --- transport security ----------------------------------------------------------------------


def _refuse_insecure_transport() -> None:
    """Before every request: no credentials over plain HTTP (docs/security.md)."""
    if request.is_secure or current_app.config.get("ALLOW_INSECURE_HTTP"):
        return
    if request.headers.get("Authorization"):
        # The token has crossed the network in clear text already; say so.
        raise Forbidden(both("token.https_only"))
    if request.method == "POST" and request.endpoint in (
            "auth.login", "auth.verify", "auth.enrol", "oauth.token"):
        raise ClientError(both("signin.https_only"), 400)


# --- OAuth2 client credentials (authlib) -----------------------------------------------------

OAUTH_SCOPES = {
    "facts:write": ("推送源系统数据", "push source-system facts"),
    "periods:read": ("读取期间与结果", "read periods and results"),
}


class _Client:
    """authlib's ClientMixin over an OAuthClient row."""

    def __init__(self, row: OAuthClient):
        self.row = row

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = set(self.row.scopes or ())
        asked = (scope or "").split()
        return " ".join(s for s in asked if s in allowed) if asked else " ".join(
            sorted(allowed))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(self.row.secret_hash, hash_token(client_secret or ""))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class _IssuedToken:
    """authlib's TokenMixin over an OAuthToken row."""

    def __init__(self, row: OAuthToken):
        self.row = row
        self.client = _Client(row.client)

    def check_client(self, client: Any) -> bool:
        return client.get_client_id() == self.row.client.client_id

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return int((_aware(self.row.expires_at) - _aware(self.row.issued_at)).total_seconds())

    def is_expired(self) -> bool:
        return _aware(self.row.expires_at) <= utcnow()

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None or self.row.client.revoked_at is not None

    def get_user(self) -> None:
        return None

    def get_client(self) -> _Client:
        return self.client


def create_oauth_client(db: Session, name: str, scopes: list[str],
                        created_by: str = "") -> tuple[OAuthClient, str]:
    """A new machine client and its secret (shown once)."""
    unknown = [s for s in scopes if s not in OAUTH_SCOPES]
    if unknown or not scopes:
        raise ValueError(f"scopes must be some of {sorted(OAUTH_SCOPES)}")
    secret = secrets.token_urlsafe(32)
    row = OAuthClient(client_id="kbc_" + secrets.token_hex(8), secret_hash=hash_token(secret),
                      name=name, scopes=sorted(set(scopes)), created_by=created_by)
    db.add(row)
    db.flush()
    return row, secret


def rotate_oauth_secret(db: Session, row: OAuthClient) -> str:
    """A new secret for the client (shown once). The old secret stops working at once and so
    do the access tokens issued with it."""
    if row.revoked_at is not None:
        raise ValueError(f"client {row.client_id} is revoked")
    secret = secrets.token_urlsafe(32)
    row.secret_hash = hash_token(secret)
    now = utcnow()
    for tok in db.scalars(select(OAuthToken).where(OAuthToken.client_pk == row.id,
                                                   OAuthToken.revoked_at.is_(None))):
        tok.revoked_at = now
    db.flush()
    return secret


def oauth_client_for_token(db: Session, token: str, scope: str) -> OAuthClient | None:
    """The client of a valid (issued, unexpired, unrevoked, client active) OAuth2 access token
    that carries `scope`; None otherwise. For endpoints that also accept another credential
    (the push API accepts a push source's own token too)."""
    row = db.scalar(select(OAuthToken).where(OAuthToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None or row.client.revoked_at is not None:
        return None
    if _aware(row.expires_at) <= utcnow() or scope not in (row.scope or "").split():
        return None
    return row.client


def _query_client(client_id: str) -> _Client | None:
    row = get_session().scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
    if row is None or row.revoked_at is not None:
        return None
    return _Client(row)


def _save_token(token: dict[str, Any], oauth_request: Any) -> None:
    db = get_session()
    now = utcnow()
    db.add(OAuthToken(client_pk=oauth_request.client.row.id,
                      token_hash=hash_token(token["access_token"]),
                      scope=token.get("scope", ""), issued_at=now,
                      expires_at=now + dt.timedelta(seconds=int(token["expires_in"]))))
    db.commit()


def _oauth_token_value(**_kwargs: Any) -> str:
    return OAUTH_TOKEN_PREFIX + secrets.token_urlsafe(32)


def _make_oauth(app: Flask) -> tuple[Any, Any]:
    from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
    from authlib.oauth2.rfc6749 import grants
    from authlib.oauth2.rfc6750 import BearerTokenValidator

    class _Validator(BearerTokenValidator):
        def authenticate_token(self, token_string: str) -> _IssuedToken | None:
            row = get_session().scalar(select(OAuthToken).where(
                OAuthToken.token_hash == hash_token(token_string)))
            return None if row is None else _IssuedToken(row)

    app.config.setdefault("OAUTH2_ACCESS_TOKEN_GENERATOR", _oauth_token_value)
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {
        "client_credentials": int(app.config["OAUTH_TOKEN_SECONDS"])}
    from authlib.oauth2.rfc6749.errors import InvalidScopeError

    class _ClientCredentials(grants.ClientCredentialsGrant):
        def validate_token_request(self) -> None:
            super().validate_token_request()
            # A scope the client was not given is an error, not silently dropped.
            asked = set((self.request.payload.scope or "").split())
            if asked - set(self.request.client.row.scopes or ()):
                raise InvalidScopeError()

    app.config.setdefault("OAUTH2_SCOPES_SUPPORTED", sorted(OAUTH_SCOPES))
    server = AuthorizationServer(app, query_client=_query_client, save_token=_save_token)
    server.register_grant(_ClientCredentials)
    protector = ResourceProtector()
    protector.register_token_validator(_Validator())
    return server, protector


def oauth_server() -> Any:
    return current_app.extensions["kpibook.oauth"][0]


def current_oauth_client() -> OAuthClient:
    """The OAuthClient of a request that passed `require_oauth`."""
    return g.oauth_client


# --- wiring ----------------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    """Cookies, CSRF, transport checks and the OAuth2 server (called by create_app)."""
    from flask_wtf.csrf import CSRFProtect

    insecure = bool(app.config.get("ALLOW_INSECURE_HTTP"))
    app.config.update(
        # __Host-: the browser keeps it only if Secure, Path=/ and without Domain, so no
        # sibling host or plain-HTTP page can set or overwrite it. Plain-HTTP development
        # (ALLOW_INSECURE_HTTP) cannot use the prefix.
        SESSION_COOKIE_NAME="kpibook_session" if insecure else "__Host-kpibook_session",
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_DOMAIN=None,
        SESSION_COOKIE_SECURE=not insecure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=int(app.config["SESSION_HOURS"])),
        WTF_CSRF_TIME_LIMIT=None,  # bound to the session, which expires itself
        WTF_CSRF_SSL_STRICT=True,
        # Checked below for every request that can carry the session cookie, so a new web
        # form is protected without anyone remembering to.
        WTF_CSRF_CHECK_DEFAULT=False,
    )
    csrf = CSRFProtect(app)
    app.extensions["kpibook.csrf"] = csrf

    def _csrf_where_cookies_count() -> None:
        if request.method in ("GET", "HEAD", "OPTIONS", "TRACE") or \
                not app.config.get("WTF_CSRF_ENABLED", True):
            return
        if request.path.startswith(("/xl/", "/api/", "/oauth/")):
            return  # token-authenticated: no cookie credentials accepted there
        csrf.protect()

    app.before_request(_csrf_where_cookies_count)
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_insecure_transport)
    app.extensions["kpibook.oauth"] = _make_oauth(app)
