"""OAuth2 client credentials (authlib): tokens with scopes for machine clients."""

from __future__ import annotations

import base64
import datetime as dt

from flask import jsonify

from server.guards import require_oauth

HTTPS = {"base_url": "https://kpi.example.com"}


def _basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def test_client_credentials_scopes_expiry_and_revocation(app_config):
    from server import create_app
    from server.auth import create_oauth_client
    from server.db import session_scope
    from server.models import OAuthClient, OAuthToken

    app = create_app({**app_config, "ALLOW_INSECURE_HTTP": False})

    @app.post("/api/v1/test-push")
    @require_oauth("facts:write")
    def push():  # noqa: ANN202 - a route of this test only
        from server.auth import current_oauth_client

        return jsonify(client=current_oauth_client().name)

    @app.get("/api/v1/test-read")
    @require_oauth("periods:read")
    def read():  # noqa: ANN202
        return jsonify(ok=True)

    with session_scope(app) as s:
        row, secret = create_oauth_client(s, "ERP", ["facts:write"], "hr")
        client_id = row.client_id
        stored = s.get(OAuthClient, row.id).secret_hash
    assert secret not in stored
    client = app.test_client()
    grant = {"grant_type": "client_credentials", "scope": "facts:write"}
    # plain HTTP: refused before authlib sees the secret
    assert client.post("/oauth/token", data=grant,
                       headers=_basic(client_id, secret)).status_code == 403
    assert client.post("/oauth/token", data=grant, headers=_basic(client_id, "wrong"),
                       **HTTPS).status_code == 401
    resp = client.post("/oauth/token", data=grant, headers=_basic(client_id, secret), **HTTPS)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    token = resp.json["access_token"]
    assert token.startswith("kpo_") and resp.json["expires_in"] == 3600
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/test-push", headers=bearer, **HTTPS).json == {"client": "ERP"}
    assert client.get("/api/v1/test-read", headers=bearer, **HTTPS).status_code == 403
    assert client.post("/api/v1/test-push", **HTTPS).status_code == 401
    # a scope the client does not have is not granted
    resp = client.post("/oauth/token", data={**grant, "scope": "periods:read"},
                       headers=_basic(client_id, secret), **HTTPS)
    assert resp.status_code == 400
    # expired, then revoked client
    with session_scope(app) as s:
        s.query(OAuthToken).one().expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(1)
    assert client.post("/api/v1/test-push", headers=bearer, **HTTPS).status_code == 401
    fresh = client.post("/oauth/token", data=grant, headers=_basic(client_id, secret),
                        **HTTPS).json["access_token"]
    with session_scope(app) as s:
        s.query(OAuthClient).one().revoked_at = dt.datetime.now(dt.UTC)
    assert client.post("/api/v1/test-push", headers={"Authorization": f"Bearer {fresh}"},
                       **HTTPS).status_code == 401
    assert client.post("/oauth/token", data=grant, headers=_basic(client_id, secret),
                       **HTTPS).status_code == 401
    from server.db import get_engine

    get_engine(app).dispose()
