"""HTTP for connectors: timeouts, bounded retries with exponential backoff, 429 Retry-After,
and JSON that is checked before anyone trusts it."""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import requests

from sync.config import SourceConfig
from sync.errors import SourceError

RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 60.0  # never sleep longer than this on a server's say-so


def _retry_after(resp: requests.Response, fallback: float) -> float:
    value = resp.headers.get("Retry-After", "").strip()
    if not value:
        return fallback
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return fallback
    return max(0.0, min(when.timestamp() - time.time(), MAX_RETRY_AFTER))


def request(session: requests.Session, source: SourceConfig, method: str, url: str,
            **kwargs: Any) -> requests.Response:
    """One request with `source.retries` retries on connection errors, timeouts, 429 and 5xx.
    Raises SourceError naming the source, the URL and the last failure."""
    attempts = max(1, source.retries + 1)
    last = ""
    for attempt in range(attempts):
        try:
            resp = session.request(method, url, timeout=source.timeout, **kwargs)
        except requests.Timeout:
            last = f"timed out after {source.timeout:g} s"
        except requests.ConnectionError as exc:
            last = f"cannot connect ({type(exc).__name__})"
        else:
            if resp.status_code not in RETRY_STATUSES:
                if resp.status_code >= 400:
                    raise SourceError(source.name, f"HTTP {resp.status_code} from {url}: "
                                                   f"{_snippet(resp.text)}", url)
                return resp
            last = f"HTTP {resp.status_code}"
            if attempt + 1 < attempts:
                time.sleep(_retry_after(resp, source.backoff * 2 ** attempt))
                continue
        if attempt + 1 < attempts:
            time.sleep(source.backoff * 2 ** attempt)
    raise SourceError(source.name, f"{last} ({url}, {attempts} attempts)", url)


def json_of(source: SourceConfig, resp: requests.Response, what: str) -> Any:
    try:
        return json.loads(resp.content.decode(resp.encoding or "utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceError(source.name, f"malformed JSON in {what} ({resp.url}): {exc}; "
                                       f"body starts {_snippet(resp.text)}", resp.url) from None


def dig(data: Any, path: str) -> Any:
    """`data.items` / `result.records` style lookup; '' is the whole document."""
    for part in [p for p in path.split(".") if p]:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return repr(text[:120] + ("…" if len(text) > 120 else ""))
