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
    headers: dict[str, str] = {}  # noqa: RUF012  # extra answer headers (read only)

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


class NeedValues(Conflict):
    """A request that sent sheets by digest the server holds no copy of (HR typed over a
    result, or the copy was pruned): the client sends it again with those sheets' values
    (server/xlwire/digest.py). `sheets` are their names, also in the answer's header."""

    def __init__(self, message: str, sheets: list[str], header: str, value: str):
        super().__init__(message)
        self.sheets = sheets
        self.headers = {header: value}


class Unprocessable(ClientError):
    """The workbook breaks the contract; `problems` say where."""

    status = 422

    def __init__(self, message: str, problems: Iterable[Problem] = ()):
        self.problems = list(problems)
        super().__init__(message)


def plain(message: str, status: int) -> Response:
    """A text/plain UTF-8 answer: what every Excel client shows to the user verbatim."""
    resp = Response(message.rstrip("\n") + "\n", status=status,
                    content_type="text/plain; charset=utf-8")
    resp.headers["Cache-Control"] = "no-store"
    return resp
