"""Jira: REST search with JQL (`GET {url}/rest/api/2/search?jql=&startAt=&maxResults=`),
startAt/total pagination; `api = "cloud"` uses Jira Cloud's `/rest/api/3/search/jql` with
nextPageToken pages. Each issue becomes a flat record: key, assignee, status, done (1/0),
story_points, issuetype, priority, labels, created, resolutiondate, duedate, on_time (1/0),
plus any `fields = {name = "customfield_..."}`. Progress = ratio of done / all issues, or of
story points (docs/sync.md).

Options: url, jql (placeholders {period_start} {period_end_exclusive}), page_size (Jira caps
it at 100), assignee_field (name | accountId | emailAddress), story_points_field, fields, auth
(basic with username + password_env as e-mail + API token, or bearer).
"""

from __future__ import annotations

from typing import Any

from sync.config import PeriodWindow, SourceConfig, fill
from sync.connectors import FetchContext, Fetched
from sync.connectors.rest import session_for
from sync.errors import SourceError
from sync.http import json_of, request
from sync.mapping import AT

MAX_PAGES = 10_000


def fetch(source: SourceConfig, window: PeriodWindow, ctx: FetchContext) -> Fetched:
    opts = source.options
    base = str(opts.get("url") or "").rstrip("/")
    jql = fill(str(opts.get("jql") or ""), window.params())
    if not base or not jql:
        raise SourceError(source.name, "url and jql are required")
    size = int(opts.get("page_size") or 100)
    sp_field = str(opts.get("story_points_field") or "customfield_10016")
    extra = {str(k): str(v) for k, v in (opts.get("fields") or {}).items()}
    who = str(opts.get("assignee_field") or "name")
    wanted = ["assignee", "status", "resolution", "resolutiondate", "duedate", "created",
              "issuetype", "priority", "labels", sp_field, *extra.values()]
    if str(opts.get("api") or "v2").lower() == "cloud":
        return _fetch_cloud(source, ctx, base, jql, size, wanted, who, sp_field, extra)
    url = f"{base}/rest/api/2/search"
    sess = session_for(source)
    records: list[dict[str, Any]] = []
    start, pages, total = 0, 0, None
    try:
        while pages < MAX_PAGES and (total is None or start < total):
            resp = request(sess, source, "GET", url, params={
                "jql": jql, "startAt": start, "maxResults": size, "fields": ",".join(wanted)})
            doc = json_of(source, resp, f"search page {pages + 1}")
            issues = doc.get("issues") if isinstance(doc, dict) else None
            if not isinstance(issues, list) or not isinstance(doc.get("total"), int):
                raise SourceError(source.name, f"search page {pages + 1}: not a Jira search "
                                               "answer (no issues/total)", url)
            total = doc["total"]
            pages += 1
            for issue in issues:
                records.append(_flatten(issue, who, sp_field, extra, pages))
            ctx.progress(pages, len(records))
            if not issues:
                break  # a total that overstates the issues must not loop forever
            start += len(issues)
    finally:
        sess.close()
    return Fetched(records, f"Jira search {url} JQL: {jql}", pages)


def _fetch_cloud(source: SourceConfig, ctx: FetchContext, base: str, jql: str, size: int,
                 wanted: list[str], who: str, sp_field: str, extra: dict[str, str]) -> Fetched:
    """Jira Cloud's `GET /rest/api/3/search/jql`: nextPageToken pages until isLast."""
    url = f"{base}/rest/api/3/search/jql"
    sess = session_for(source)
    records: list[dict[str, Any]] = []
    token: str | None = None
    pages = 0
    try:
        while pages < MAX_PAGES:
            params: dict[str, Any] = {"jql": jql, "maxResults": size, "fields": ",".join(wanted)}
            if token:
                params["nextPageToken"] = token
            resp = request(sess, source, "GET", url, params=params)
            doc = json_of(source, resp, f"search page {pages + 1}")
            issues = doc.get("issues") if isinstance(doc, dict) else None
            if not isinstance(issues, list):
                raise SourceError(source.name, f"search page {pages + 1}: not a Jira search "
                                               "answer (no issues)", url)
            pages += 1
            records.extend(_flatten(issue, who, sp_field, extra, pages) for issue in issues)
            ctx.progress(pages, len(records))
            token = doc.get("nextPageToken")
            if doc.get("isLast", not token) or not token or not issues:
                break
    finally:
        sess.close()
    return Fetched(records, f"Jira search {url} JQL: {jql}", pages)


def _flatten(issue: dict[str, Any], who: str, sp_field: str, extra: dict[str, str],
             page: int) -> dict[str, Any]:
    f = issue.get("fields") or {}
    assignee = f.get("assignee") or {}
    status = f.get("status") or {}
    category = (status.get("statusCategory") or {}).get("key")
    done = 1 if category == "done" or f.get("resolution") else 0
    resolved_on = str(f.get("resolutiondate") or "")[:10]
    due = str(f.get("duedate") or "")[:10]
    rec: dict[str, Any] = {
        "key": issue.get("key"), "assignee": assignee.get(who) if assignee else None,
        "status": status.get("name"), "done": done, "resolved": done,
        "story_points": f.get(sp_field) or 0,
        "issuetype": (f.get("issuetype") or {}).get("name"),
        "priority": (f.get("priority") or {}).get("name"),
        "labels": list(f.get("labels") or []), "created": f.get("created"),
        "resolutiondate": f.get("resolutiondate"), "duedate": f.get("duedate"),
        "on_time": 1 if done and due and resolved_on and resolved_on <= due else 0,
        "issue": 1, AT: f"page {page} issue {issue.get('key')}"}
    for name, jira_field in extra.items():
        value = f.get(jira_field)
        rec[name] = value.get("value") if isinstance(value, dict) else value
    return rec
