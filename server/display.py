"""How the server shows times, numbers, people and source requests to a person: one place
for the web pages, the exports, the workbook's kb_meta stamps and the notifications.

* `local_time(when, tz)`: stored times are UTC (naive values are read as UTC); people read
  them in the company's time zone, KPIBOOK_TIMEZONE (16:12 UTC is 00:12 the next day in
  Beijing). `zone_label=True` adds the offset ("UTC+08:00") where the reader has no page
  around the text (a workbook stamp, an e-mail).
* Numbers: `number` (2 decimals, half away from zero, never "-0.00": the engine's own
  `server.scoring.numbers.fmt`), `signed` (+2.00 / -1.50 for points), `percent` and
  `measure` (a value in its rule's unit: unit "%" means the value is a fraction, 0.855 is
  85.50%; docs/rules.md).
* `label_of(login, labels)`: the display name of an account (User.label), not its login.
* `request_words(request, lang)`: what a source system was asked, in words (the connectors
  store a technical line such as ``GET https://erp/api {'period': '2025-03'}``).

Pure functions, no Flask: server/web.py registers them for the templates.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import re
from collections.abc import Mapping
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from server.scoring.messages import msg
from server.scoring.numbers import fmt, to_decimal

DEFAULT_TIMEZONE = "Asia/Shanghai"
HUNDRED = Decimal(100)


@functools.lru_cache(maxsize=16)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name or DEFAULT_TIMEZONE)


def local_time(when: dt.datetime | str | None, tz: str = DEFAULT_TIMEZONE, *,
               seconds: bool = False, zone_label: bool = False) -> str:
    """`when` in the time zone `tz` as "2025-04-01 16:07" ("" for None). An ISO text (as
    JSON status records keep times) is read first; text that is not a time stays as it is."""
    if when is None or when == "":
        return ""
    if isinstance(when, str):
        try:
            when = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            return when
    if when.tzinfo is None:  # the database keeps UTC without a zone (SQLite)
        when = when.replace(tzinfo=dt.UTC)
    local = when.astimezone(zone(tz))
    text = local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    if zone_label:
        offset = local.strftime("%z")  # +0800
        text += f" UTC{offset[:3]}:{offset[3:]}" if offset else " UTC"
    return text


def decimal_or_none(value: object) -> Decimal | None:
    """A number from a stored value (Decimal, int, float, numeric text); None otherwise."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip() in ("", "-", "—"):
        return None
    try:
        return to_decimal(value)
    except ValueError:
        return None


def number(value: object, places: int = 2) -> str:
    """85.5 -> "85.50", -0.001 -> "0.00"; text that is not a number is shown as it is."""
    x = decimal_or_none(value)
    if x is None:
        return "" if value is None else str(value)
    return fmt(x, places)


def signed(value: object) -> str:
    """Points with their sign: +2.00, -1.50, 0.00."""
    x = decimal_or_none(value)
    if x is None:
        return "" if value is None else str(value)
    text = fmt(x)
    return "+" + text if x > 0 and text != "0.00" else text


def percent(value: object) -> str:
    """A fraction as a percentage: 0.855 -> "85.50%", 0.9 -> "90.00%"."""
    x = decimal_or_none(value)
    if x is None:
        return "" if value is None else str(value)
    return fmt(x * HUNDRED) + "%"


def is_percent(unit: object) -> bool:
    return str(unit or "").strip() == "%"


def measure(value: object, unit: object = "") -> str:
    """An actual or target in its rule's unit: a percentage when the unit is "%"."""
    return percent(value) if is_percent(unit) else number(value)


def label_of(login: str | None, labels: Mapping[str, str]) -> str:
    """The display name of the account `login` (labels: login -> User.label); the stored
    text itself for names that are not accounts (e.g. "system", a git author)."""
    if not login:
        return ""
    return labels.get(login) or login


# --- what a source system was asked ------------------------------------------------------------

_HTTP = re.compile(r"^(GET|POST|PUT|PATCH) (\S+)(?: (\{.*\}))?$", re.S)
_SQL = re.compile(r"^SQL (\S+): (.*?)(?: with (.*))?$", re.S)
_JIRA = re.compile(r"^Jira search (\S+) JQL: (.*)$", re.S)
_DINGTALK = re.compile(r"^DingTalk (\S+) (\S+)\.\.(\S+) for (\d+) users$")
_FILES = re.compile(r"^files (.*)$", re.S)
_PUSH = re.compile(r"^push records received for (\S+) \((\d+) external ids\)$")


def _place(url: str) -> str:
    """host/path of a URL without credentials or query ("erp.example.com/api/kpi")."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return (host + parts.path) or url


def _params(text: str | None, lang: str) -> str:
    """{'period': '2025-03', 'page': 2} -> "period = 2025-03, page = 2"."""
    if not text:
        return ""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    if not isinstance(value, dict):
        return str(value)
    sep = msg("glue.comma", lang)
    return sep.join(f"{k} = {v}" for k, v in value.items())


def request_words(request: str | None, lang: str) -> str:
    """The stored request line of a fact as a sentence (the line itself when its shape is
    not one the connectors write)."""
    text = " ".join((request or "").split())
    if not text:
        return ""
    m = _HTTP.match(text)
    if m:
        method, url, params = m.groups()
        sep = msg("glue.comma", lang)
        query = sep.join(f"{k} = {v}" for k, v in parse_qsl(urlsplit(url).query))
        what = sep.join(x for x in (query, _params(params, lang)) if x)
        key = "provenance.http_with" if what else "provenance.http"
        return msg(key, lang, place=_place(url), params=what,
                   verb=msg("provenance.send" if method != "GET" else "provenance.ask", lang))
    m = _SQL.match(text)
    if m:
        db, query, params = m.groups()
        where = _place(db.replace("+psycopg", "")) if "://" in db else db
        return msg("provenance.sql_with" if params else "provenance.sql", lang,
                   place=where, query=query, params=params or "")
    m = _JIRA.match(text)
    if m:
        return msg("provenance.jira", lang, place=_place(m.group(1)), jql=m.group(2))
    m = _DINGTALK.match(text)
    if m:
        base, start, end, users = m.groups()
        return msg("provenance.attendance", lang, place=_place(base), start=start, end=end,
                   users=users)
    m = _PUSH.match(text)
    if m:
        return msg("provenance.push", lang, period=m.group(1), n=m.group(2))
    m = _FILES.match(text)
    if m:
        return msg("provenance.files", lang, files=m.group(1))
    return text


def _word(key: str, fallback: str, lang: str) -> str:
    try:
        return msg(key, lang)
    except KeyError:
        return fallback


def appeal_word(status: str, lang: str) -> str:
    """An appeal's state as the reader sees it: open / answered / confirmed."""
    return _word(f"appeal.{status}", status, lang)


def pull_word(state: str, lang: str) -> str:
    """A pull's (or one source's) state: queued / running / mapping / done / failed."""
    return _word(f"pull.{state}", state, lang)
