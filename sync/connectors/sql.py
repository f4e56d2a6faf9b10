"""SQL: any SQLAlchemy URL (an ERP's reporting database) and one parameterised query.

The period bounds are bound parameters (`:period_start`, `:period_end_exclusive`, `:period`,
...), never formatted into the SQL text. Options: url, password_env (put into the URL so it
never sits in the file), query.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from sync.config import PeriodWindow, SourceConfig
from sync.connectors import FetchContext, Fetched
from sync.errors import SourceError
from sync.mapping import AT


def fetch(source: SourceConfig, window: PeriodWindow, ctx: FetchContext) -> Fetched:
    url_text = str(source.options.get("url") or "")
    query = str(source.options.get("query") or "")
    if not url_text or not query:
        raise SourceError(source.name, "url and query are required")
    try:
        url = make_url(url_text)
    except Exception:  # noqa: BLE001 - SQLAlchemy's ArgumentError and friends
        raise SourceError(source.name, "url is not a SQLAlchemy URL") from None
    if source.options.get("password_env"):
        url = url.set(password=source.secret("password"))
    stmt = text(query)
    wanted = set(stmt._bindparams)  # only the names the query uses
    bounds: dict[str, Any] = {"period": window.code, "period_start": window.start,
                              "period_end": window.end - dt.timedelta(days=1),
                              "period_end_exclusive": window.end}
    unknown = wanted - set(bounds)
    if unknown:
        raise SourceError(source.name, f"query uses unknown parameters {sorted(unknown)}; "
                                       f"available: {', '.join(sorted(bounds))}")
    params = {k: v for k, v in bounds.items() if k in wanted}
    connect_args = {"connect_timeout": int(source.timeout)} \
        if url.get_backend_name() == "postgresql" else {}
    engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
    shown = url.render_as_string(hide_password=True)
    request = f"SQL {shown}: {' '.join(query.split())} with {_show(params)}"
    try:
        with engine.connect() as conn:
            result = conn.execute(stmt, params)
            records = [{**{k: _plain(v) for k, v in row._mapping.items()}, AT: f"row {i + 1}"}
                       for i, row in enumerate(result)]
    except SQLAlchemyError as exc:
        raise SourceError(source.name, f"query failed on {shown}: "
                                       f"{str(exc.orig or exc).splitlines()[0]}",
                          request) from None
    finally:
        engine.dispose()
    ctx.progress(1, len(records))
    return Fetched(records, request, 1)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def _show(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
