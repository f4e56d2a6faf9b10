"""Adapter between the ribbon endpoints and the workbook/protocol modules.

Turns the protocol's and the contract's exceptions into `ClientError`s with located,
human-readable messages, and keeps every call into colleagues' modules in one place so that a
signature change there is fixed here once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from server.scoring.messages import both, msg
from server.scoring.model import Problem, ScoreInput, ValidationError
from server.services.errors import BadRequest, Unprocessable
from server.workbook.contract import Tables, read_meta, read_tables, to_score_input
from server.workbook.render import problems_message
from server.xlwire.plan import WritePlan
from server.xlwire.protocol import DamagedCopy, PayloadError, parse_payload
from server.xlwire.snapshot import BookSnapshot


def parse_book(raw: bytes | bytearray, copies: Mapping[str, bytes | bytearray] | None = None
               ) -> BookSnapshot:
    if not raw:
        raise BadRequest(both("workbook.none"))
    try:
        return parse_payload(raw, copies)
    except DamagedCopy:
        raise  # the server's own copy: sheet_copies.read_book asks for the values
    except PayloadError as exc:
        raise BadRequest(exc.message) from None


@dataclass(slots=True)
class Workbook:
    """A parsed workbook with its kpibook tables located (problems kept, not raised)."""

    book: BookSnapshot
    tables: Tables
    meta: dict[str, str]

    @property
    def period(self) -> str:
        return self.meta.get("period", "").strip()

    @property
    def template(self) -> str:
        return self.meta.get("template", "").strip()


def open_workbook(book: BookSnapshot, required: Iterable[str] | None = None) -> Workbook:
    tables = read_tables(book) if required is None else read_tables(book, tuple(required))
    return Workbook(book, tables, read_meta(tables))


def invalid(problems: list[Problem], lang: str) -> Unprocessable:
    n = len(problems)
    head = msg("workbook.problems", lang, n=n)
    return Unprocessable(problems_message(problems, lang, intro=head), problems)


def problems_of(wb: Workbook, lang: str = "zh") -> tuple[ScoreInput | None, list[Problem]]:
    """The engine input, or every problem (contract and engine) with its location, in `lang`."""
    try:
        return to_score_input(wb.tables, lang), []
    except ValidationError as exc:
        return None, exc.problems


def score_input(wb: Workbook, lang: str) -> ScoreInput:
    """The engine input; 422 listing sheet/row/column of every problem otherwise."""
    inp, problems = problems_of(wb, lang)
    if problems or inp is None:
        raise invalid(problems, lang)
    return inp


def plan_actions(book: BookSnapshot, plan: WritePlan) -> list[dict]:
    from server.xlwire.actions import plan_to_actions

    return plan_to_actions(book, plan)


def cell_value(value: object) -> object:
    """A value as the protocol carries it: Decimals as int/float, datetimes as text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value
