"""Errors the services raise and the app turns into plain-text 4xx answers.

Every client (Office.js, VBA MsgBox, headless) shows a non-200 body to the person who pressed
the button, so the message is a complete sentence, in the workbook's language where we know it.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Response

from server.scoring.model import Problem


class ClientError(Exception):
    """A request the server refuses, with the HTTP status and a message for people."""

    status = 400

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class BadRequest(ClientError):
    status = 400


class Unauthorized(ClientError):
    status = 401


class Forbidden(ClientError):
    status = 403


class NotFound(ClientError):
    status = 404


class Conflict(ClientError):
    status = 409


class Unprocessable(ClientError):
    """The workbook breaks the contract; `problems` say where."""

    status = 422

    def __init__(self, message: str, problems: Iterable[Problem] = ()):
        self.problems = list(problems)
        super().__init__(message)


def describe_problems(problems: Iterable[Problem], lang: str, limit: int = 50) -> str:
    """Problems as lines HR can act on: sheet, row, column, cell and reason."""
    problems = list(problems)
    lines = []
    for p in problems[:limit]:
        where = []
        if p.sheet:
            where.append(f"工作表「{p.sheet}」" if lang == "zh" else f"sheet '{p.sheet}'")
        elif p.table:
            where.append(f"表 {p.table}" if lang == "zh" else f"table {p.table}")
        if p.row is not None:
            where.append(f"第 {p.row} 行" if lang == "zh" else f"row {p.row}")
        if p.column:
            where.append(f"列「{p.column}」" if lang == "zh" else f"column '{p.column}'")
        if p.cell:
            where.append(f"单元格 {p.cell}" if lang == "zh" else f"cell {p.cell}")
        sep = "，" if lang == "zh" else ", "
        lines.append(f"- {sep.join(where)}: {p.message}")
    if len(problems) > limit:
        more = len(problems) - limit
        lines.append(f"- …另有 {more} 个问题" if lang == "zh" else f"- … and {more} more")
    return "\n".join(lines)


def plain(message: str, status: int) -> Response:
    """A text/plain UTF-8 answer: what every Excel client shows to the user verbatim."""
    resp = Response(message.rstrip("\n") + "\n", status=status,
                    content_type="text/plain; charset=utf-8")
    resp.headers["Cache-Control"] = "no-store"
    return resp
