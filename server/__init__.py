"""kpibook server package.

`create_app` is imported lazily so that the pure modules (server.scoring, server.workbook,
server.xlwire) can be used without importing Flask and SQLAlchemy.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from server.app import create_app

        return create_app
    raise AttributeError(name)
