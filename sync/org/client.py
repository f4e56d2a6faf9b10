"""The request loop every platform connector shares: an app access token fetched once and
fetched again when the platform says it is invalid or expired, bounded retries with
exponential backoff for throttling (the platform's own wait hint honoured up to `max_wait`)
and for transport failures, and the platform's error envelope turned into one verdict."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from sync.errors import SourceError
from sync.org.config import OrgSourceConfig

TRANSPORT_RETRY = {500, 502, 503, 504}


@dataclass(frozen=True, slots=True)
class Verdict:
    """What an answer means. kind: ok | token (invalid/expired: fetch a new one and ask
    again) | throttle (wait and ask again) | denied (outside the app's permission scope: the
    caller decides) | error (give up)."""

    kind: str
    message: str = ""
    wait: float | None = None  # seconds the platform asked us to wait


Classify = Callable[[requests.Response, Any], Verdict]


@dataclass(slots=True)
class Reply:
    verdict: Verdict
    doc: Any
    status: int


class PlatformClient:
    """One sync's HTTP session. `fetch_token(client)` returns (token, lifetime seconds)."""

    def __init__(self, source: OrgSourceConfig, classify: Classify,
                 fetch_token: Callable[[PlatformClient], tuple[str, float]]) -> None:
        self.source = source
        self.classify = classify
        self._fetch_token = fetch_token
        self.session = requests.Session()
        self._token = ""
        self._token_until = 0.0
        self.calls = 0
        self.token_fetches = 0

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- token
    def token(self) -> str:
        # 5 minutes early: a token about to expire is replaced before it is refused
        if not self._token or time.monotonic() > self._token_until - 300:
            self.refresh()
        return self._token

    def refresh(self) -> None:
        token, lifetime = self._fetch_token(self)
        if not token:
            raise SourceError(self.source.name, "the token endpoint answered without a token")
        self.token_fetches += 1
        self._token, self._token_until = token, time.monotonic() + max(lifetime, 0.0)

    # -- requests
    def send(self, method: str, url: str, what: str, **kwargs: Any) -> tuple[requests.Response,
                                                                              Any]:
        """One HTTP exchange with bounded retries on connection errors, timeouts and 5xx;
        (response, parsed JSON or None)."""
        attempts = max(1, self.source.retries + 1)
        last = ""
        for attempt in range(attempts):
            self.calls += 1
            try:
                resp = self.session.request(method, url, timeout=self.source.timeout, **kwargs)
            except requests.Timeout:
                last = f"timed out after {self.source.timeout:g} s"
            except requests.ConnectionError as exc:
                last = f"cannot connect ({type(exc).__name__})"
            else:
                if resp.status_code not in TRANSPORT_RETRY:
                    return resp, _json(resp)
                last = f"HTTP {resp.status_code}: {_snippet(resp.text)}"
            if attempt + 1 < attempts:
                self.pause(self.source.backoff * 2 ** attempt)
        raise SourceError(self.source.name, f"{what}: {last} ({attempts} attempts)", url)

    def call(self, method: str, url: str, what: str,
             auth: Callable[[str], dict[str, Any]], **kwargs: Any) -> Reply:
        """A request with the app token (`auth(token)` gives the params/headers that carry
        it). Returns ok and denied answers; raises SourceError for everything else, after
        at most one new token and `retries` throttled answers."""
        throttled = 0
        renewed = False
        while True:
            extra = auth(self.token())
            merged = {**kwargs}
            for key, value in extra.items():
                merged[key] = {**(merged.get(key) or {}), **value}
            resp, doc = self.send(method, url, what, **merged)
            verdict = self.classify(resp, doc)
            if verdict.kind in ("ok", "denied"):
                return Reply(verdict, doc, resp.status_code)
            if verdict.kind == "token" and not renewed:
                renewed = True  # expired mid-sync: once more with a new token
                self.refresh()
                continue
            if verdict.kind == "throttle" and throttled < self.source.retries:
                wait = verdict.wait if verdict.wait is not None else \
                    self.source.backoff * 2 ** throttled
                throttled += 1
                self.pause(wait)
                continue
            if verdict.kind == "throttle":
                raise SourceError(self.source.name, f"{what}: still rate-limited after "
                                                    f"{throttled} retries: {verdict.message}",
                                  url)
            raise SourceError(self.source.name, f"{what}: {verdict.message}", url)

    def pause(self, seconds: float) -> None:
        time.sleep(max(0.0, min(seconds, self.source.max_wait)))


def _json(resp: requests.Response) -> Any:
    try:
        return json.loads(resp.content.decode(resp.encoding or "utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return repr(text[:120] + ("…" if len(text) > 120 else ""))


def body_snippet(resp: requests.Response) -> str:
    return _snippet(resp.text)
