"""Connectors fetch records from one source for one period. They know protocols, not KPIs:
mapping records to facts is sync/mapping.py's job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sync.config import PeriodWindow, SourceConfig

# progress(pages_done, records_so_far)
Progress = Callable[[int, int], None]


@dataclass(slots=True)
class Fetched:
    records: list[dict[str, Any]]
    request: str  # what was asked, for provenance (no secrets)
    pages: int = 0
    subjects: set[str] | None = None  # employees the source answered for (zero_fill)


@dataclass(slots=True)
class FetchContext:
    known: set[str] | None = None  # roster employee ids
    progress: Progress = field(default=lambda pages, records: None)
    # push sources: the records systems sent us, stored by the server
    pushed: Callable[[str, str], list[dict[str, Any]]] | None = None
    uploads: str = ""  # folder of files uploaded through the web page


def fetch(source: SourceConfig, window: PeriodWindow, ctx: FetchContext) -> Fetched:
    from sync.connectors import dingtalk, files, jira, push, rest, sql

    kinds = {"rest": rest.fetch, "sql": sql.fetch, "files": files.fetch, "jira": jira.fetch,
             "dingtalk": dingtalk.fetch, "push": push.fetch}
    return kinds[source.kind](source, window, ctx)
