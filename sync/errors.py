"""Errors of source-system sync. Every message names the source and what went wrong."""

from __future__ import annotations


class SyncError(Exception):
    """Base class: something about a source could not be done."""


class ConfigError(SyncError):
    """The connectors file is wrong; the message names the file, source and key."""


class SourceError(SyncError):
    """A source could not be read (down, timed out, refused, answered garbage)."""

    def __init__(self, source: str, message: str, request: str = "") -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.reason = message
        self.request = request
