"""Generic REST/JSON: bearer, basic or OAuth2 client-credentials; page, offset, cursor or Link
header pagination; 429 Retry-After and 5xx retries (sync/http.py).

Options (docs/sync.md): url, method, params, body, headers, items (path of the record list),
auth = {type, token_env | token_url + client_id + client_secret_env + scope},
pagination = {type, size, page_param, size_param, offset_param, limit_param, cursor_param,
next_field, max_pages}.
"""

from __future__ import annotations

from typing import Any

import requests

from sync.config import PeriodWindow, SourceConfig, fill
from sync.connectors import FetchContext, Fetched
from sync.errors import SourceError
from sync.http import dig, json_of, request
from sync.mapping import AT

DEFAULT_MAX_PAGES = 10_000  # a loop guard: a source whose cursor never ends is an error


def session_for(source: SourceConfig) -> requests.Session:
    """A requests session carrying the source's credentials (OAuth2 token fetched here)."""
    auth = dict(source.options.get("auth") or {})
    kind = str(auth.get("type") or "none").lower()
    if kind in ("oauth2", "oauth2_client_credentials", "client_credentials"):
        from authlib.integrations.requests_client import OAuth2Session

        token_url = str(auth.get("token_url") or "")
        if not token_url:
            raise SourceError(source.name, "auth.token_url is required for OAuth2")
        opts = {**source.options, **auth}
        sess = OAuth2Session(str(auth.get("client_id") or ""),
                             SourceConfig(source.name, source.kind, opts).secret(
                                 "client_secret"),
                             scope=auth.get("scope"), token_endpoint=token_url,
                             grant_type="client_credentials")
        try:
            sess.fetch_token(token_url, grant_type="client_credentials",
                             timeout=source.timeout)
        except requests.RequestException as exc:
            raise SourceError(source.name, f"OAuth2 token request to {token_url} failed: "
                                           f"{type(exc).__name__}", token_url) from None
        except Exception as exc:  # noqa: BLE001 - authlib raises its own OAuthError family
            raise SourceError(source.name, f"OAuth2 token request to {token_url} was refused: "
                                           f"{exc}", token_url) from None
        return sess
    sess = requests.Session()
    if kind == "bearer":
        opts = {**source.options, **auth}
        token = SourceConfig(source.name, source.kind, opts).secret("token")
        sess.headers["Authorization"] = f"Bearer {token}"
    elif kind == "header":  # e.g. GitLab's PRIVATE-TOKEN
        opts = {**source.options, **auth}
        token = SourceConfig(source.name, source.kind, opts).secret("token")
        sess.headers[str(auth.get("header") or "X-API-Key")] = token
    elif kind == "basic":
        opts = {**source.options, **auth}
        cfg = SourceConfig(source.name, source.kind, opts)
        sess.auth = (str(auth.get("username") or ""), cfg.secret("password"))
    elif kind not in ("none", ""):
        raise SourceError(source.name, f"auth.type {kind!r} is not bearer, header, basic or oauth2")
    return sess


def fetch(source: SourceConfig, window: PeriodWindow, ctx: FetchContext) -> Fetched:
    opts, values = source.options, window.params()
    url = fill(str(opts.get("url") or ""), values)
    if not url:
        raise SourceError(source.name, "url is required")
    method = str(opts.get("method") or "GET").upper()
    params: dict[str, Any] = fill(dict(opts.get("params") or {}), values)
    body = fill(opts.get("body"), values)
    headers = {str(k): str(v) for k, v in (opts.get("headers") or {}).items()}
    items_path = str(opts.get("items") or "")
    pag = dict(opts.get("pagination") or {})
    ptype = str(pag.get("type") or "none").lower()
    size = int(pag.get("size") or 500)
    max_pages = int(pag.get("max_pages") or DEFAULT_MAX_PAGES)
    sess = session_for(source)
    records: list[dict[str, Any]] = []
    page_no = int(pag.get("start") or (0 if ptype == "offset" else 1))
    cursor: str | None = None
    next_url: str | None = url
    pages = 0
    try:
        while next_url and pages < max_pages:
            page_params = dict(params)
            if ptype == "page":
                page_params[pag.get("page_param") or "page"] = page_no
                page_params[pag.get("size_param") or "page_size"] = size
            elif ptype == "offset":
                page_params[pag.get("offset_param") or "offset"] = page_no
                page_params[pag.get("limit_param") or "limit"] = size
            elif ptype == "cursor":
                page_params[pag.get("size_param") or "limit"] = size
                if cursor:
                    page_params[pag.get("cursor_param") or "cursor"] = cursor
            if ptype == "link" and pages:
                page_params = {}  # the Link URL carries every parameter
            elif ptype == "link":
                page_params.setdefault(pag.get("size_param") or "per_page", size)
            resp = request(sess, source, method, next_url, params=page_params or None,
                           json=body, headers=headers)
            doc = json_of(source, resp, f"page {pages + 1}")
            items = dig(doc, items_path) if items_path else doc
            if not isinstance(items, list):
                raise SourceError(source.name, f"page {pages + 1}: expected a list at "
                                               f"{items_path or 'the top level'}, got "
                                               f"{type(items).__name__}", url)
            pages += 1
            for j, item in enumerate(items):
                if isinstance(item, dict):
                    records.append({**item, AT: f"page {pages} item {j + 1}"})
                else:
                    records.append({AT: f"page {pages} item {j + 1}", "_invalid": item})
            ctx.progress(pages, len(records))
            next_url = _next(ptype, pag, doc, resp, items, size, pages, url)
            if ptype == "page":
                page_no += 1
            elif ptype == "offset":
                page_no += len(items)
            elif ptype == "cursor":
                cursor = next_url and str(dig(doc, pag.get("next_field") or "next_cursor"))
        if next_url and pages >= max_pages:
            raise SourceError(source.name, f"more than {max_pages} pages: stopped "
                                           "(raise pagination.max_pages if this is real)", url)
    finally:
        sess.close()
    shown = {k: v for k, v in params.items()}
    return Fetched(records, f"{method} {url} {shown}" if shown else f"{method} {url}", pages)


def _next(ptype: str, pag: dict[str, Any], doc: Any, resp: requests.Response,
          items: list[Any], size: int, pages: int, url: str) -> str | None:
    if ptype == "cursor":
        nxt = dig(doc, pag.get("next_field") or "next_cursor")
        return url if nxt not in (None, "", False) and items else None
    if ptype == "link":
        return resp.links.get("next", {}).get("url")
    if ptype == "page":
        total = dig(doc, str(pag.get("total_pages_field") or "")) \
            if pag.get("total_pages_field") else None
        if isinstance(total, int):
            return url if pages < total else None
        return url if len(items) >= size else None
    if ptype == "offset":
        return url if len(items) >= size else None
    return None
