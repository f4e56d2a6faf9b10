"""A company's own OpenID Connect identity provider on 127.0.0.1 (Keycloak, Authing, Azure AD
and the like), serving the demo organisation's people (docs/signin.md).

Routes (OpenID Connect Core 1.0, Discovery 1.0, RFC 7636 PKCE, RFC 6749 errors):
  GET  /.well-known/openid-configuration   the discovery document (issuer = this URL)
  GET  /jwks                               the RSA public key (RS256), with its kid
  GET  /authorize                          ?response_type=code&client_id&redirect_uri
                                           &scope=openid...&state&nonce&code_challenge
                                           &code_challenge_method=S256 -> the sign-in page
  POST /authorize/confirm                  -> 302 redirect_uri?code&state (denied:
                                           ?error=access_denied&state)
  POST /token                              grant_type=authorization_code, code,
                                           redirect_uri, code_verifier; client_secret_basic
                                           or client_secret_post -> {access_token,
                                           token_type, expires_in, id_token}; 400
                                           {error: invalid_grant | invalid_client ...}
The id_token carries iss, sub, aud, exp, iat, nonce, name, email, `employee_number` (HR's 工号)
and, when set for the person in `amr` / `acr`, those claims. Tests break it on purpose with
`id_token_overrides` (claims replaced) or `rogue_key` (signed by a key not in the JWKS).
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

from sync.simulators.org_data import OrgData
from sync.simulators.platform import PlatformSimulator, SimAnswer, SimRequest, route

CLIENT_ID, CLIENT_SECRET = "kpibook-web", "demo-oidc-secret"


def _rsa_jwk(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


def subject_of(userid: str) -> str:
    return "oidc-" + userid


class OidcSimulator(PlatformSimulator):
    platform = "oidc"

    def __init__(self, org: OrgData | None = None, port: int = 0) -> None:
        super().__init__(org, port)
        self.key = _rsa_jwk("kpibook-sim-1")
        self.rogue_key = False  # sign with another key under the same kid: a forgery
        self.id_token_overrides: dict[str, Any] = {}
        self.amr: dict[str, list[str]] = {}  # userid -> amr of their sign-in
        self.acr: dict[str, str] = {}

    def throttled(self, req: SimRequest) -> SimAnswer:
        return SimAnswer(429, {"error": "slow_down"}, {"Retry-After": "1"})

    @staticmethod
    def oauth_error(error: str, description: str, status: int = 400) -> SimAnswer:
        return SimAnswer(status, {"error": error, "error_description": description})

    @route("GET", "/.well-known/openid-configuration")
    def discovery(self, req: SimRequest) -> SimAnswer:
        return SimAnswer(200, {
            "issuer": self.url, "authorization_endpoint": self.url + "/authorize",
            "token_endpoint": self.url + "/token", "jwks_uri": self.url + "/jwks",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                      "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "name", "email", "employee_number", "amr", "acr"]})

    @route("GET", "/jwks")
    def jwks(self, req: SimRequest) -> SimAnswer:
        return SimAnswer(200, {"keys": [self.key.as_dict(private=False)]})

    @route("GET", "/authorize")
    def authorize(self, req: SimRequest) -> SimAnswer:
        q = req.query
        if q.get("client_id") != CLIENT_ID or not q.get("redirect_uri"):
            return self.sign_in_page(req, "Company sign-in", "/authorize/confirm",
                                     "unknown client_id or missing redirect_uri")
        if q.get("response_type") != "code" or "openid" not in (q.get("scope") or "").split():
            return self.redirect(q["redirect_uri"], error="invalid_request",
                                 state=q.get("state", ""))
        if not q.get("code_challenge") or q.get("code_challenge_method") != "S256":
            return self.redirect(q["redirect_uri"], error="invalid_request",
                                 error_description="PKCE S256 required",
                                 state=q.get("state", ""))
        return self.sign_in_page(req, "公司统一身份认证 / Company sign-in",
                                 "/authorize/confirm")

    @route("POST", "/authorize/confirm")
    def confirm(self, req: SimRequest) -> SimAnswer:
        form = req.form()
        target, state = form.get("redirect_uri", ""), form.get("state", "")
        if form.get("client_id") != CLIENT_ID or not target:
            return self.oauth_error("invalid_client", "unknown client")
        if form.get("deny"):
            return self.redirect(target, error="access_denied", state=state)
        code = self.issue_code(form.get("userid", ""), CLIENT_ID, target,
                               nonce=form.get("nonce", ""),
                               code_challenge=form.get("code_challenge", ""))
        return self.redirect(target, code=code, state=state)

    def _client(self, req: SimRequest, form: dict[str, str]) -> str | None:
        scheme, _, value = (req.headers.get("authorization") or "").partition(" ")
        if scheme.lower() == "basic":
            try:
                cid, _, secret = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return None
        else:
            cid, secret = form.get("client_id", ""), form.get("client_secret", "")
        return cid if (cid, secret) == (CLIENT_ID, CLIENT_SECRET) else None

    @route("POST", "/token", issues_token=True)
    def token(self, req: SimRequest) -> SimAnswer:
        form = req.form()
        if self._client(req, form) is None:
            return self.oauth_error("invalid_client", "client authentication failed", 401)
        if form.get("grant_type") != "authorization_code":
            return self.oauth_error("unsupported_grant_type", "authorization_code only")
        grant = self.take_code(form.get("code", ""))
        if isinstance(grant, str):
            return self.oauth_error("invalid_grant", f"code {grant} or already used")
        if form.get("redirect_uri") != grant.redirect_uri:
            return self.oauth_error("invalid_grant", "redirect_uri does not match")
        digest = base64.urlsafe_b64encode(hashlib.sha256(
            form.get("code_verifier", "").encode()).digest()).rstrip(b"=").decode()
        if digest != grant.extra.get("code_challenge"):
            return self.oauth_error("invalid_grant", "PKCE verification failed")
        p = self.org.person(grant.userid)
        if p is None:
            return self.oauth_error("invalid_grant", "no such person")
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url, "sub": subject_of(p.userid), "aud": CLIENT_ID, "iat": now,
            "exp": now + 300, "auth_time": now, "name": p.name, "email": p.email,
            "employee_number": p.job_number}
        if grant.extra.get("nonce"):
            claims["nonce"] = grant.extra["nonce"]
        if p.userid in self.amr:
            claims["amr"] = self.amr[p.userid]
        if p.userid in self.acr:
            claims["acr"] = self.acr[p.userid]
        claims.update(self.id_token_overrides)
        key = _rsa_jwk(self.key.kid) if self.rogue_key else self.key
        id_token = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
        access, seconds = self.issue_user_token(p.userid, "at-")
        return SimAnswer(200, {"access_token": access, "token_type": "Bearer",
                               "expires_in": seconds, "id_token": id_token,
                               "scope": "openid profile email"},
                         {"Cache-Control": "no-store"})


__all__ = ["CLIENT_ID", "CLIENT_SECRET", "OidcSimulator", "subject_of"]
