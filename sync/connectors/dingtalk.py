"""DingTalk-style attendance: `GET {url}/gettoken?appkey=&appsecret=` for an access token,
then `POST {url}/attendance/list?access_token=` with workDateFrom/workDateTo (at most
`window_days`, 7 in DingTalk), userIdList (at most `batch` ids, 50) and offset/limit paging
(`hasMore`). Records: userId, workDate, checkType, timeResult (Normal/Late/Early/
SeriousLate/Absenteeism/NotSigned), one per check.

Options: url, appkey, appsecret_env, batch, limit, window_days, user_ids (default: the keys of
key_map, else the roster's ids). Every user asked about is a subject (zero_fill: no late
records = 0 late arrivals).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests

from sync.config import PeriodWindow, SourceConfig
from sync.connectors import FetchContext, Fetched
from sync.errors import SourceError
from sync.http import json_of, request
from sync.mapping import AT

MAX_PAGES = 100_000


def fetch(source: SourceConfig, window: PeriodWindow, ctx: FetchContext) -> Fetched:
    opts = source.options
    base = str(opts.get("url") or "").rstrip("/")
    if not base:
        raise SourceError(source.name, "url is required")
    users = [str(u) for u in (opts.get("user_ids") or source.key_map.keys()
                              or sorted(ctx.known or ()))]
    if not users:
        raise SourceError(source.name, "no users to ask about (user_ids, key_map or roster)")
    batch, limit = int(opts.get("batch") or 50), int(opts.get("limit") or 50)
    days = int(opts.get("window_days") or 7)
    sess = requests.Session()
    token = _token(sess, source, base)
    records: list[dict[str, Any]] = []
    pages = 0
    try:
        day = window.start
        while day < window.end:
            until = min(day + dt.timedelta(days=days), window.end)
            for i in range(0, len(users), batch):
                offset, more = 0, True
                while more and pages < MAX_PAGES:
                    body = {"workDateFrom": f"{day} 00:00:00",
                            "workDateTo": f"{until - dt.timedelta(days=1)} 23:59:59",
                            "userIdList": users[i:i + batch], "offset": offset, "limit": limit}
                    doc = _post(sess, source, base, token, body, pages + 1)
                    if doc.get("errcode") in (40014, 42001, 88):  # token expired: once more
                        token = _token(sess, source, base)
                        doc = _post(sess, source, base, token, body, pages + 1)
                    _check(source, doc, f"attendance/list page {pages + 1}")
                    rows = doc.get("recordresult")
                    if not isinstance(rows, list):
                        raise SourceError(source.name, f"attendance/list page {pages + 1}: "
                                                       "no recordresult list")
                    pages += 1
                    for j, row in enumerate(rows):
                        records.append({**row, AT: f"page {pages} record {j + 1}"})
                    ctx.progress(pages, len(records))
                    more = bool(doc.get("hasMore")) and bool(rows)
                    offset += len(rows)
            day = until
    finally:
        sess.close()
    subjects = {source.key_map.get(u, u) for u in users}
    return Fetched(records, f"DingTalk {base}/attendance/list {window.start}..{window.end} "
                            f"for {len(users)} users", pages, subjects)


def _token(sess: requests.Session, source: SourceConfig, base: str) -> str:
    resp = request(sess, source, "GET", f"{base}/gettoken",
                   params={"appkey": str(source.options.get("appkey") or ""),
                           "appsecret": source.secret("appsecret")})
    doc = json_of(source, resp, "gettoken")
    _check(source, doc, "gettoken")
    token = doc.get("access_token")
    if not token:
        raise SourceError(source.name, "gettoken answered without access_token")
    return str(token)


def _post(sess: requests.Session, source: SourceConfig, base: str, token: str,
          body: dict[str, Any], page: int) -> dict[str, Any]:
    resp = request(sess, source, "POST", f"{base}/attendance/list",
                   params={"access_token": token}, json=body)
    doc = json_of(source, resp, f"attendance/list page {page}")
    if not isinstance(doc, dict):
        raise SourceError(source.name, f"attendance/list page {page}: not a JSON object")
    return doc


def _check(source: SourceConfig, doc: Any, what: str) -> None:
    if not isinstance(doc, dict) or doc.get("errcode", 0) != 0:
        code = doc.get("errcode") if isinstance(doc, dict) else "?"
        msg = doc.get("errmsg") if isinstance(doc, dict) else doc
        raise SourceError(source.name, f"{what}: errcode {code}: {msg}")
