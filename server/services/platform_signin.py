"""Sign-in with the company's platform: DingTalk, Feishu and WeCom (OAuth2 authorization code,
QR login on the desktop) and any OpenID Connect identity provider (authlib + joserfc).

The providers are the `[[signin]]` tables of the connectors file (KPIBOOK_SYNC_CONFIG, the
file that also holds `[[source]]` and `[[org]]`; docs/signin.md). The web routes only adapt:

1. `begin(...)` -> the platform's authorization URL and the pending state the route keeps in
   the signed session cookie (state, nonce, PKCE verifier, where to go, what for).
2. The platform sends the browser back to /login/<name>/callback; `sign_in(...)` checks the
   state against the pending one (CSRF), exchanges the code (once: the platforms refuse a
   used code), asks who signed in, and finds the kpibook user bound to that platform account:
   an explicit binding (platform_bindings, set by the user or an HR admin), else the org sync's
   identity (org_identities: platform user id -> 工号) and the one active user with that
   employee id. Nobody is ever created; a platform account bound to nobody, or to a disabled
   user, is refused with a clear message.
3. `bind(...)`: the same round trip started from the account page binds the platform account
   to the signed-in user.

Second factor (docs/signin.md, "MFA"): a QR sign-in on DingTalk, Feishu or WeCom counts as the
second factor when KPIBOOK_PLATFORM_SIGNIN_MFA is on (default: the phone app, unlocked and
signed in, confirmed it); an OIDC sign-in counts when its id_token's `amr` names a second
factor (KPIBOOK_OIDC_MFA_AMR, or the provider's `mfa_amr`) or its `acr` is one of the
provider's `mfa_acr`. Otherwise the one-time code step follows, as after a password.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from server import throttle
from server.auth import SignInRefused
from server.models import OrgIdentity, PlatformBinding, User
from server.scoring.messages import msg
from server.services.errors import ClientError, NotFound
from server.services.pull import config_path
from sync.config import _expand, read_connectors_file
from sync.errors import ConfigError

log = logging.getLogger("kpibook.signin")

PLATFORMS = ("dingtalk", "feishu", "wecom", "oidc")
PENDING_SECONDS = 600  # the round trip through the platform must end within ten minutes
LABELS = {"dingtalk": ("钉钉", "DingTalk"), "feishu": ("飞书", "Feishu"),
          "wecom": ("企业微信", "WeCom"), "oidc": ("公司统一身份认证", "company sign-in")}
# The platforms' public addresses (docs/signin.md); the demo and tests point at simulators.
DEFAULT_URLS = {
    "dingtalk": {"auth_url": "https://login.dingtalk.com/oauth2/auth",
                 "api_url": "https://api.dingtalk.com", "oapi_url": "https://oapi.dingtalk.com"},
    "feishu": {"auth_url": "https://accounts.feishu.cn/open-apis/authen/v1/authorize",
               "api_url": "https://open.feishu.cn"},
    "wecom": {"auth_url": "https://login.work.weixin.qq.com/wwlogin/sso/login",
              "inapp_auth_url": "https://open.weixin.qq.com/connect/oauth2/authorize",
              "api_url": "https://qyapi.weixin.qq.com"},
    "oidc": {},
}
# RFC 8176 methods that are (or include) a second factor.
DEFAULT_MFA_AMR = "mfa,otp,hwk,swk,sc,fpt,face,iris,retina,vbm"


# --- configuration -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Provider:
    """One `[[signin]]` table."""

    name: str
    platform: str
    client_id: str
    options: dict[str, Any]
    label_zh: str
    label_en: str
    org_source: str = ""  # [[org]] whose org_identities map platform user ids to 工号
    employee_claim: str = ""  # OIDC: the id_token claim holding HR's 工号 ('' = not trusted)
    mfa_amr: tuple[str, ...] = ()
    mfa_acr: tuple[str, ...] = ()
    timeout: float = 10.0

    def label(self, lang: str) -> str:
        return self.label_zh if lang == "zh" else self.label_en

    def url(self, key: str) -> str:
        value = str(self.options.get(key) or DEFAULT_URLS[self.platform].get(key) or "")
        if not value:
            raise ConfigError(f"[[signin]] {self.name}: {key} is required")
        return value.rstrip("/")

    def secret(self) -> str:
        if self.options.get("client_secret"):
            return str(self.options["client_secret"])
        var = str(self.options.get("client_secret_env") or "")
        value = os.environ.get(var) if var else None
        if not value:
            raise ConfigError(f"[[signin]] {self.name}: set client_secret_env to the name of "
                              "an environment variable holding the secret"
                              + (f" ({var} is not set)" if var else ""))
        return value


def _words(value: Any, default: str = "") -> tuple[str, ...]:
    if value is None:
        value = default
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(str(v).strip() for v in items if str(v).strip())


def parse_providers(data: Mapping[str, Any], where: str = "<config>",
                    default_amr: str = DEFAULT_MFA_AMR) -> tuple[Provider, ...]:
    raw = data.get("signin") or []
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: signin must be a list of tables ([[signin]])")
    orgs = [o for o in (data.get("org") or []) if isinstance(o, dict)]
    out: list[Provider] = []
    for i, item in enumerate(raw, 1):
        here = f"{where}: signin #{i}"
        if not isinstance(item, dict):
            raise ConfigError(f"{here}: must be a table")
        item = _expand(item, here)
        name = str(item.get("name") or "").strip()
        if not name or len(name) > 32 or not name.replace("-", "").replace("_", "").isalnum() \
                or not name.isascii():
            raise ConfigError(f"{here}: name is required: letters, digits, _ and - (at most 32)")
        platform = str(item.get("platform") or name).strip().lower()
        if platform not in PLATFORMS:
            raise ConfigError(f"{here} ({name}): platform {platform!r} is not one of "
                              f"{', '.join(PLATFORMS)}")
        if any(p.name == name for p in out):
            raise ConfigError(f"{where}: signin name {name!r} is used twice")
        client_id = str(item.get("client_id") or "").strip()
        if not client_id:
            raise ConfigError(f"{here} ({name}): client_id is required (DingTalk AppKey, "
                              "Feishu App ID, WeCom CorpID, OIDC client id)")
        if platform == "oidc" and not item.get("issuer"):
            raise ConfigError(f"{here} ({name}): issuer is required")
        if platform == "wecom" and not item.get("agentid"):
            raise ConfigError(f"{here} ({name}): agentid is required")
        org = str(item.get("org") or "")
        if not org and platform != "oidc":  # the only [[org]] of the same platform
            same = [str(o.get("name")) for o in orgs
                    if str(o.get("platform") or "").lower() == platform]
            org = same[0] if len(same) == 1 else ""
        zh, en = LABELS[platform]
        out.append(Provider(
            name=name, platform=platform, client_id=client_id, options=dict(item),
            label_zh=str(item.get("label") or zh), label_en=str(item.get("label_en") or en),
            org_source=org, employee_claim=str(item.get("employee_claim") or ""),
            mfa_amr=_words(item.get("mfa_amr"), default_amr), mfa_acr=_words(item.get("mfa_acr")),
            timeout=float(item.get("timeout") or 10)))
    return tuple(out)


def providers(app_config: Mapping[str, Any]) -> tuple[Provider, ...]:
    """The configured providers; () without a connectors file. A broken file is logged and
    shows no platform buttons: password sign-in must keep working."""
    path = config_path(app_config)
    if not path:
        return ()
    try:
        return parse_providers(read_connectors_file(path), path,
                               str(app_config.get("OIDC_MFA_AMR") or DEFAULT_MFA_AMR))
    except ConfigError as exc:
        log.error("platform sign-in is off: %s", exc)
        return ()


def provider(app_config: Mapping[str, Any], name: str, lang: str = "zh") -> Provider:
    found = next((p for p in providers(app_config) if p.name == name), None)
    if found is None:
        raise NotFound(msg("platform.no_method", lang, name=name))
    return found


# --- step 1: to the platform -------------------------------------------------------------------


def begin(app_config: Mapping[str, Any], name: str, callback_url: str, lang: str,
          next_url: str = "", intent: str = "signin", uid: int | None = None,
          user_agent: str = "") -> tuple[str, dict[str, Any]]:
    """(the platform's authorization URL, the pending round trip to keep in the signed
    session cookie until the callback). Inside the WeCom app (its browser says `wxwork`)
    the in-app authorization replaces the desktop QR page."""
    p = provider(app_config, name, lang)
    pending: dict[str, Any] = {"p": p.name, "state": secrets.token_urlsafe(24),
                               "at": time.time(), "next": next_url, "intent": intent,
                               "uid": uid}
    try:
        if p.platform == "dingtalk":
            url = p.url("auth_url") + "?" + urlencode({
                "redirect_uri": callback_url, "response_type": "code",
                "client_id": p.client_id, "scope": "openid", "state": pending["state"],
                "prompt": "consent"})
        elif p.platform == "feishu":
            from authlib.common.security import generate_token
            from authlib.oauth2.rfc7636 import create_s256_code_challenge

            pending["verifier"] = generate_token(64)
            url = p.url("auth_url") + "?" + urlencode({
                "client_id": p.client_id, "redirect_uri": callback_url,
                "scope": str(p.options.get("scope") or ""), "state": pending["state"],
                "code_challenge": create_s256_code_challenge(pending["verifier"]),
                "code_challenge_method": "S256"})
        elif p.platform == "wecom" and "wxwork" in user_agent.lower():
            url = p.url("inapp_auth_url") + "?" + urlencode({
                "appid": p.client_id, "redirect_uri": callback_url, "response_type": "code",
                "scope": "snsapi_base", "state": pending["state"],
                "agentid": str(p.options["agentid"])}) + "#wechat_redirect"
        elif p.platform == "wecom":
            url = p.url("auth_url") + "?" + urlencode({
                "login_type": "CorpApp", "appid": p.client_id,
                "agentid": str(p.options["agentid"]), "redirect_uri": callback_url,
                "state": pending["state"]})
        else:
            from authlib.common.security import generate_token

            meta = _discover(p, lang)
            pending["nonce"] = secrets.token_urlsafe(24)
            pending["verifier"] = generate_token(64)
            url, _state = _oidc_session(p, callback_url).create_authorization_url(
                meta["authorization_endpoint"], state=pending["state"],
                nonce=pending["nonce"], code_verifier=pending["verifier"])
    except ConfigError as exc:
        log.error("platform sign-in %s: %s", p.name, exc)
        raise _unavailable(p, lang) from None
    return url, pending


# --- step 2: back from the platform ------------------------------------------------------------


@dataclass(slots=True)
class Identity:
    """Who the platform says signed in."""

    provider: str
    subject: str  # DingTalk/WeCom userid, Feishu user id, OIDC sub
    name: str = ""
    employee_id: str = ""  # HR's 工号, when the provider is trusted to say (OIDC claim)
    second_factor: bool = False
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class SignedIn:
    user: User
    identity: Identity
    next_url: str
    needs_second_factor: bool


def check_pending(pending: Any, name: str, args: Mapping[str, str], lang: str
                  ) -> dict[str, Any]:
    """The pending round trip this callback ends, or SignInRefused (400): no pending one,
    another provider's, too old, or a state that is not ours (a forged or replayed link)."""
    if not isinstance(pending, dict) or pending.get("p") != name:
        raise SignInRefused(msg("platform.request_invalid", lang), 400)
    if time.time() - float(pending.get("at") or 0) > PENDING_SECONDS:
        raise SignInRefused(msg("platform.request_expired", lang), 400)
    if not secrets.compare_digest(str(args.get("state") or ""), str(pending.get("state"))):
        raise SignInRefused(msg("platform.state_mismatch", lang), 400)
    return pending


def sign_in(db: Session, app_config: Mapping[str, Any], name: str, args: Mapping[str, str],
            pending: Any, callback_url: str, ip: str, lang: str) -> SignedIn:
    """The user this platform sign-in is for (throttled per address like password attempts:
    refusals count, a success takes its attempt back)."""
    from server import mfa

    keys = _throttle_keys(app_config, ip)
    wait = throttle.count_attempt(db, keys, float(app_config["LOGIN_WINDOW_MINUTES"]) * 60)
    if wait is not None:
        from server.auth import _too_many

        raise _too_many(wait, lang)
    pending = check_pending(pending, name, args, lang)
    p = provider(app_config, name, lang)
    identity = _identify(p, args, pending, callback_url, app_config, lang)
    user = resolve(db, p, identity, lang)
    throttle.forget_attempt(db, keys, reset=())
    binding = db.scalar(select(PlatformBinding).where(PlatformBinding.provider == p.name,
                                                      PlatformBinding.subject == identity.subject))
    if binding is not None:
        binding.last_used_at = dt.datetime.now(dt.UTC)
    log.info("platform sign-in: user id %s via %s (%s)", user.id, p.name, identity.subject)
    needs = (mfa.enrolled(user) or mfa.required(user, app_config)) and not identity.second_factor
    return SignedIn(user, identity, str(pending.get("next") or ""), needs)


def _throttle_keys(app_config: Mapping[str, Any], ip: str) -> list[tuple[str, throttle.Rule]]:
    return [(f"platform_ip:{ip}", throttle.Rule(int(app_config["LOGIN_IP_FAILURES"]),
                                                float(app_config["LOGIN_FAILURE_DELAY"]),
                                                float(app_config["LOGIN_MAX_DELAY"])))]


def resolve(db: Session, p: Provider, identity: Identity, lang: str) -> User:
    """The active kpibook user bound to this platform account (never a new one)."""
    binding = db.scalar(select(PlatformBinding).where(PlatformBinding.provider == p.name,
                                                      PlatformBinding.subject == identity.subject))
    user = binding.user if binding is not None else None
    if user is None:
        employee_id = identity.employee_id
        if p.org_source:
            row = db.scalar(select(OrgIdentity).where(OrgIdentity.source == p.org_source,
                                                      OrgIdentity.user_id == identity.subject))
            employee_id = row.employee_id if row is not None else employee_id
        if employee_id:
            users = db.scalars(select(User).where(User.employee_id == employee_id)).all()
            if len(users) > 1:
                raise SignInRefused(msg("platform.several_accounts", lang,
                                        employee_id=employee_id, platform=p.label(lang)), 403)
            user = users[0] if users else None
    who = identity.name or identity.subject
    if user is None:
        log.warning("platform sign-in refused: %s %s is bound to nobody", p.name,
                    identity.subject)
        raise SignInRefused(msg("platform.unbound", lang, platform=p.label(lang), who=who),
                            403)
    if not user.active:
        raise SignInRefused(msg("platform.account_disabled", lang), 403)
    return user


# --- step 3 (from the account page): bind ------------------------------------------------------


def bind(db: Session, app_config: Mapping[str, Any], name: str, args: Mapping[str, str],
         pending: Any, callback_url: str, user: User, lang: str) -> PlatformBinding:
    """Bind the platform account that just signed in on the platform to `user` (the pending
    round trip was started by this user on the account page)."""
    pending = check_pending(pending, name, args, lang)
    if pending.get("intent") != "bind" or pending.get("uid") != user.id:
        raise SignInRefused(msg("platform.bind_invalid", lang), 400)
    p = provider(app_config, name, lang)
    identity = _identify(p, args, pending, callback_url, app_config, lang)
    return add_binding(db, p, identity.subject, user, user.name, identity.name, lang)


def add_binding(db: Session, p: Provider, subject: str, user: User, by: str, label: str = "",
                lang: str = "zh") -> PlatformBinding:
    subject = subject.strip()
    if not subject or len(subject) > 200:
        raise ClientError(msg("platform.enter_subject", lang), 400)
    existing = db.scalar(select(PlatformBinding).where(PlatformBinding.provider == p.name,
                                                       PlatformBinding.subject == subject))
    if existing is not None and existing.user_id != user.id:
        raise ClientError(msg("platform.bound_elsewhere", lang, platform=p.label(lang)), 409)
    if existing is None:
        existing = PlatformBinding(provider=p.name, subject=subject, user_id=user.id,
                                   label=label[:200], created_by=by,
                                   created_at=dt.datetime.now(dt.UTC))
        db.add(existing)
        db.flush()
        log.info("platform binding: %s %s -> user id %s by %s", p.name, subject, user.id, by)
    return existing


def bindings_of(db: Session, user: User) -> list[PlatformBinding]:
    return list(db.scalars(select(PlatformBinding).where(PlatformBinding.user_id == user.id)
                           .order_by(PlatformBinding.provider, PlatformBinding.id)))


def remove_binding(db: Session, binding_id: int, user: User, lang: str) -> PlatformBinding:
    """Remove one of `user`'s bindings (the account page: their own; the admin page: the
    user's whose page it is)."""
    row = db.get(PlatformBinding, binding_id)
    if row is None or row.user_id != user.id:
        raise NotFound(msg("platform.no_binding", lang))
    db.delete(row)
    db.flush()
    return row


# --- the platforms' APIs ---------------------------------------------------------------------


def _unavailable(p: Provider, lang: str, why: str = "") -> SignInRefused:
    return SignInRefused(msg("platform.unavailable", lang, platform=p.label(lang))
                         + (f" ({why})" if why else ""), 502)


def _refused_by_platform(p: Provider, lang: str, why: str) -> SignInRefused:
    return SignInRefused(msg("platform.refused", lang, platform=p.label(lang), why=why), 401)


def _call(p: Provider, lang: str, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    try:
        resp = requests.request(method, url, timeout=p.timeout, **kwargs)
    except requests.RequestException as exc:
        log.error("platform sign-in %s: %s %s failed: %s", p.name, method, url, exc)
        raise _unavailable(p, lang) from None
    try:
        doc = resp.json()
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        log.error("platform sign-in %s: %s %s answered HTTP %s without JSON", p.name, method,
                  url, resp.status_code)
        raise _unavailable(p, lang, f"HTTP {resp.status_code}")
    return resp.status_code, doc


def _identify(p: Provider, args: Mapping[str, str], pending: dict[str, Any],
              callback_url: str, app_config: Mapping[str, Any], lang: str) -> Identity:
    if args.get("error"):
        raise _refused_by_platform(p, lang, str(args["error"])[:100])
    code = str(args.get("authCode") or args.get("code") or "")
    if not code:  # WeCom sends the person back without a code when they decline
        raise _refused_by_platform(p, lang, msg("platform.no_code", lang))
    try:
        if p.platform == "dingtalk":
            identity = _dingtalk(p, code, lang)
        elif p.platform == "feishu":
            identity = _feishu(p, code, pending, callback_url, lang)
        elif p.platform == "wecom":
            identity = _wecom(p, code, lang)
        else:
            return _oidc(p, code, pending, callback_url, lang)
    except ConfigError as exc:
        log.error("platform sign-in %s: %s", p.name, exc)
        raise _unavailable(p, lang) from None
    identity.second_factor = bool(app_config.get("PLATFORM_SIGNIN_MFA", True))
    return identity


def _dingtalk(p: Provider, code: str, lang: str) -> Identity:
    api = p.url("api_url")
    status, doc = _call(p, lang, "POST", api + "/v1.0/oauth2/userAccessToken", json={
        "clientId": p.client_id, "clientSecret": p.secret(), "code": code,
        "grantType": "authorization_code"})
    if status != 200 or not doc.get("accessToken"):
        raise _refused_by_platform(p, lang, str(doc.get("code") or f"HTTP {status}"))
    status, me = _call(p, lang, "GET", api + "/v1.0/contact/users/me",
                       headers={"x-acs-dingtalk-access-token": str(doc["accessToken"])})
    if status != 200 or not me.get("unionId"):
        raise _refused_by_platform(p, lang, str(me.get("code") or f"HTTP {status}"))
    oapi = p.url("oapi_url")
    _status, tok = _call(p, lang, "GET", oapi + "/gettoken",
                         params={"appkey": p.client_id, "appsecret": p.secret()})
    if tok.get("errcode") != 0 or not tok.get("access_token"):
        raise _unavailable(p, lang, f"gettoken {tok.get('errcode')}")
    _status, found = _call(p, lang, "POST", oapi + "/topapi/user/getbyunionid",
                           params={"access_token": tok["access_token"]},
                           json={"unionid": me["unionId"]})
    userid = str((found.get("result") or {}).get("userid") or "")
    if found.get("errcode") != 0 or not userid:
        raise SignInRefused(msg("platform.not_in_dingtalk", lang, nick=me.get("nick", "")), 403)
    return Identity(p.name, userid, str(me.get("nick") or ""),
                    details={"unionId": me["unionId"]})


def _feishu(p: Provider, code: str, pending: dict[str, Any], callback_url: str,
            lang: str) -> Identity:
    api = p.url("api_url")
    status, doc = _call(p, lang, "POST", api + "/open-apis/authen/v2/oauth/token", json={
        "grant_type": "authorization_code", "client_id": p.client_id,
        "client_secret": p.secret(), "code": code, "redirect_uri": callback_url,
        "code_verifier": str(pending.get("verifier") or "")})
    if status != 200 or doc.get("code") not in (0, None) or not doc.get("access_token"):
        raise _refused_by_platform(p, lang, f"{doc.get('code')} {doc.get('error', '')}".strip())
    status, info = _call(p, lang, "GET", api + "/open-apis/authen/v1/user_info",
                         headers={"Authorization": f"Bearer {doc['access_token']}"})
    data = info.get("data") or {}
    if status != 200 or info.get("code") != 0 or not isinstance(data, dict):
        raise _refused_by_platform(p, lang, str(info.get("code") or f"HTTP {status}"))
    id_type = str(p.options.get("user_id_type") or "user_id")
    subject = str(data.get(id_type) or data.get("open_id") or "")
    if not subject:
        raise _refused_by_platform(p, lang, "user_info")
    return Identity(p.name, subject, str(data.get("name") or ""),
                    details={"open_id": data.get("open_id", "")})


def _wecom(p: Provider, code: str, lang: str) -> Identity:
    api = p.url("api_url")
    _status, tok = _call(p, lang, "GET", api + "/cgi-bin/gettoken",
                         params={"corpid": p.client_id, "corpsecret": p.secret()})
    if tok.get("errcode") != 0 or not tok.get("access_token"):
        raise _unavailable(p, lang, f"gettoken {tok.get('errcode')}")
    _status, info = _call(p, lang, "GET", api + "/cgi-bin/auth/getuserinfo",
                          params={"access_token": tok["access_token"], "code": code})
    if info.get("errcode") != 0:
        raise _refused_by_platform(p, lang, f"errcode {info.get('errcode')}")
    if not info.get("userid"):  # an openid only: someone outside the company
        raise SignInRefused(msg("platform.not_in_wecom", lang), 403)
    return Identity(p.name, str(info["userid"]), str(info["userid"]))


# --- OpenID Connect (authlib for the OAuth2 round trip, joserfc for the id_token) ---------


def _discover(p: Provider, lang: str) -> dict[str, Any]:
    issuer = p.url("issuer")
    _status, meta = _call(p, lang, "GET", issuer + "/.well-known/openid-configuration")
    if str(meta.get("issuer") or "").rstrip("/") != issuer or not all(
            meta.get(k) for k in ("authorization_endpoint", "token_endpoint", "jwks_uri")):
        # OIDC Discovery 4.3: the document must name the issuer it was fetched from.
        raise _unavailable(p, lang, "discovery")
    return meta


def _oidc_session(p: Provider, callback_url: str) -> Any:
    from authlib.integrations.requests_client import OAuth2Session

    return OAuth2Session(p.client_id, p.secret(), redirect_uri=callback_url,
                         scope=str(p.options.get("scope") or "openid profile email"),
                         code_challenge_method="S256", timeout=p.timeout)


def _oidc(p: Provider, code: str, pending: dict[str, Any], callback_url: str,
          lang: str) -> Identity:
    from authlib.integrations.base_client.errors import OAuthError
    from joserfc import jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    meta = _discover(p, lang)
    session = _oidc_session(p, callback_url)
    try:
        token = session.fetch_token(meta["token_endpoint"], code=code,
                                    code_verifier=str(pending.get("verifier") or ""))
    except OAuthError as exc:
        raise _refused_by_platform(p, lang, str(exc.error or "token")) from None
    except requests.RequestException:
        raise _unavailable(p, lang) from None
    raw = token.get("id_token")
    if not raw:
        raise _refused_by_platform(p, lang, "no id_token")
    _status, jwks = _call(p, lang, "GET", meta["jwks_uri"])
    nonce = str(pending.get("nonce") or "")
    try:
        keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        decoded = jwt.decode(raw, keys, algorithms=["RS256", "ES256", "PS256"])
        claims = decoded.claims
        jwt.JWTClaimsRegistry(
            leeway=60, iss={"essential": True, "value": p.url("issuer")},
            sub={"essential": True}, aud={"essential": True, "value": p.client_id},
            exp={"essential": True}, iat={"essential": True},
            nonce={"essential": True, "value": nonce}).validate(claims)
        aud = claims.get("aud")
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != p.client_id:
            raise ValueError("azp")  # OIDC Core 3.1.3.7: several audiences need azp = us
    except (JoseError, ValueError, TypeError) as exc:
        log.warning("platform sign-in %s: id_token refused: %s", p.name, exc)
        raise _refused_by_platform(p, lang, "id_token") from None
    amr = claims.get("amr") or []
    second = bool(set(map(str, amr if isinstance(amr, list) else [])) & set(p.mfa_amr)) or \
        (bool(claims.get("acr")) and str(claims.get("acr")) in p.mfa_acr)
    employee = str(claims.get(p.employee_claim) or "") if p.employee_claim else ""
    return Identity(p.name, str(claims["sub"]), str(claims.get("name") or ""), employee,
                    second_factor=second, details={"amr": amr, "acr": claims.get("acr")})
