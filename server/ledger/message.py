"""Commit messages: a summary, the reasons for people, and git trailers for machines.

    Adjust 2026-10: 2 cells by Alice

    E001 SALES: +0.00 -> +2.00
        客户表扬
    E002 QUALITY: - -> -1.00
        返工

    Period: 2026-10
    Kind: adjustment
    Submission-Id: 7c1e0d4a
    Employee: E001
    Indicator: SALES
    Old: +0.00
    New: +2.00
    Reason: "客户表扬"
    Employee: E002
    ...

Trailer values are single lines: reasons are JSON string literals (newlines become ``\\n``),
so text inside a reason such as "Employee: X" can never start a trailer line of its own. The
body indents every reason line so a reason can never look like a trailer block or a ``---``
patch divider either. Per-cell trailers repeat in a fixed order starting with ``Employee:``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence

from .layout import MISSING, format_points, parse_points
from .model import CellChange

SUMMARY_CELLS = 3  # cells named in the subject line before "..."
_TRAILER = re.compile(r"^([A-Za-z][A-Za-z0-9-]*): ?(.*)$")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def build_message(*, subject: str, period: str, kind: str, submission_id: str,
                  cells: Sequence[CellChange] = (), note: str = "",
                  extra: Iterable[tuple[str, str]] = ()) -> str:
    body: list[str] = []
    if note.strip():
        body.extend("    " + line for line in note.strip().splitlines())
        body.append("")
    for c in cells:
        body.append(f"{c.employee_id} {c.indicator}: {format_points(c.old, signed=True)} -> "
                    f"{format_points(c.new, signed=True)}")
        body.extend("    " + line for line in (c.reason.splitlines() or [""]))
    trailers = [("Period", period), ("Kind", kind), ("Submission-Id", submission_id), *extra]
    for c in cells:
        trailers += [("Employee", c.employee_id), ("Indicator", c.indicator),
                     ("Old", format_points(c.old, signed=True)),
                     ("New", format_points(c.new, signed=True)),
                     ("Reason", json.dumps(c.reason, ensure_ascii=False))]
    parts = [_one_line(subject)]
    if body:
        parts.append("\n".join(line.rstrip() for line in body))
    parts.append("\n".join(f"{key}: {_one_line(value)}" for key, value in trailers))
    return "\n\n".join(parts) + "\n"


def parse_trailers(text: str) -> list[tuple[str, str]]:
    """`Key: value` lines as git prints them with %(trailers:only,unfold)."""
    out = []
    for line in text.splitlines():
        m = _TRAILER.match(line)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def cells_from_trailers(trailers: Sequence[tuple[str, str]]) -> tuple[CellChange, ...]:
    cells: list[CellChange] = []
    current: dict[str, str] | None = None

    def flush() -> None:
        if current is not None and "Indicator" in current:
            reason = current.get("Reason", '""')
            try:
                text = json.loads(reason)
            except ValueError:
                text = reason
            cells.append(CellChange(
                employee_id=current["Employee"], indicator=current["Indicator"],
                old=parse_points(current.get("Old", MISSING)),
                new=parse_points(current.get("New", MISSING)),
                reason=text if isinstance(text, str) else reason))

    for key, value in trailers:
        if key == "Employee":
            flush()
            current = {"Employee": value}
        elif current is not None and key in ("Indicator", "Old", "New", "Reason"):
            current[key] = value
    flush()
    return tuple(cells)


def first(trailers: Sequence[tuple[str, str]], key: str, default: str = "") -> str:
    for k, v in trailers:
        if k == key:
            return v
    return default
