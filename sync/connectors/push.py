"""Inbound push: systems POST /api/v1/facts; the server stores each record once per
(source, external id). A pull maps the stored records like any other source's."""

from __future__ import annotations

from sync.config import PeriodWindow, SourceConfig
from sync.connectors import FetchContext, Fetched
from sync.errors import SourceError


def fetch(source: SourceConfig, window: PeriodWindow, ctx: FetchContext) -> Fetched:
    if ctx.pushed is None:
        raise SourceError(source.name, "push records are only available inside the server")
    records = ctx.pushed(source.name, window.code)
    ctx.progress(1, len(records))
    return Fetched(records, f"push records received for {window.code} "
                            f"({len(records)} external ids)", 1)
