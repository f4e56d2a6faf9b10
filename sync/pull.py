"""Pull every configured source for one period, concurrently, reporting progress per source.

One source failing (down, timed out, garbage) never stops the others: its outcome says why
and the caller keeps that source's last good values. Flask-free; the server's
server/services/pull.py stores the outcomes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sync.config import PeriodWindow, SourceConfig, SyncConfig
from sync.connectors import FetchContext, fetch
from sync.errors import SourceError
from sync.mapping import MappedFact, RowProblem, map_records


@dataclass(slots=True)
class SourceProgress:
    """What the task pane and the CLI show for one source while a pull runs."""

    source: str
    kind: str
    state: str = "queued"  # queued | running | mapping | done | failed
    pages: int = 0
    records: int = 0
    facts: int = 0
    problems: int = 0
    seconds: float = 0.0
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}

    def line(self) -> str:
        text = (f"{self.source:<12} {self.state:<8} {self.pages:>5} pages {self.records:>7} "
                f"records {self.facts:>6} facts {self.problems:>4} problems "
                f"{self.seconds:6.2f} s")
        return text + (f"  {self.error}" if self.error else "")


@dataclass(slots=True)
class SourceOutcome:
    source: str
    ok: bool
    facts: list[MappedFact] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    rejected: dict[tuple[str, str, str], str] = field(default_factory=dict)
    error: str = ""
    request: str = ""
    indicators: frozenset[str] = frozenset()  # what this source provides
    progress: SourceProgress | None = None


ProgressCallback = Callable[[SourceProgress], None]


def pull_sources(config: SyncConfig, window: PeriodWindow, known: set[str] | None = None,
                 on_progress: ProgressCallback | None = None,
                 pushed: Callable[[str, str], list[dict[str, Any]]] | None = None,
                 uploads: str = "", only: set[str] | None = None) -> list[SourceOutcome]:
    """Fetch and map every source (or those in `only`) concurrently; one outcome per source,
    in configuration order."""
    sources = [s for s in config.sources if only is None or s.name in only]
    lock = threading.Lock()
    report = on_progress or (lambda p: None)

    def run(source: SourceConfig) -> SourceOutcome:
        prog = SourceProgress(source.name, source.kind, "running")
        began = time.perf_counter()

        def tick(pages: int, records: int) -> None:
            prog.pages, prog.records = pages, records
            prog.seconds = time.perf_counter() - began
            with lock:
                report(prog)

        tick(0, 0)
        indicators = frozenset(m.indicator for m in source.indicators)
        try:
            got = fetch(source, window, FetchContext(known, tick, pushed, uploads))
            prog.state = "mapping"
            tick(got.pages, len(got.records))
            records = _in_period(source, window, got.records)
            mapped = map_records(source, records, known, got.request, got.subjects)
        except SourceError as exc:
            prog.state, prog.error = "failed", exc.reason
            tick(prog.pages, prog.records)
            return SourceOutcome(source.name, False, error=exc.reason, request=exc.request,
                                 indicators=indicators, progress=prog)
        except Exception as exc:  # noqa: BLE001 - a connector bug must not stop other sources
            prog.state, prog.error = "failed", f"{type(exc).__name__}: {exc}"
            tick(prog.pages, prog.records)
            return SourceOutcome(source.name, False, error=prog.error, indicators=indicators,
                                 progress=prog)
        prog.state, prog.facts, prog.problems = "done", len(mapped.facts), len(mapped.problems)
        tick(got.pages, len(got.records))
        return SourceOutcome(source.name, True, mapped.facts, mapped.problems, mapped.rejected,
                             request=got.request, indicators=indicators, progress=prog)

    for source in sources:
        report(SourceProgress(source.name, source.kind))
    if not sources:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(config.workers, len(sources))),
                            thread_name_prefix="kpibook-pull") as pool:
        return list(pool.map(run, sources))


def _in_period(source: SourceConfig, window: PeriodWindow,
               records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Optional connector-level period filter: `period_field` equal to the period code, or
    `date_field` (ISO text) within the month."""
    pfield = source.options.get("period_field")
    dfield = source.options.get("date_field")
    if pfield:
        records = [r for r in records if str(r.get(pfield) or "").strip()[:7] == window.code]
    if dfield:
        lo, hi = window.start.isoformat(), window.end.isoformat()
        records = [r for r in records if lo <= str(r.get(dfield) or "")[:10] < hi]
    return records
