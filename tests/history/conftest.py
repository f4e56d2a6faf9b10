from __future__ import annotations

from decimal import Decimal

import pytest

from server.ledger import CellValue, Editor, History

PERIOD = "2026-10"
ALICE = Editor("Alice 张", "alice@example.cn")
BOB = Editor("Bob", "bob@example.cn")
CAROL = Editor("Carol", "carol@example.cn")


def adj(points: str, reason: str = "reason") -> CellValue:
    return CellValue(Decimal(points), reason)


@pytest.fixture
def history(tmp_path) -> History:
    # durable=False: fsync adds nothing to what these tests check (crash tests turn it on)
    h = History(tmp_path / "history.git", durable=False, maintenance_every=0)
    yield h
    h.close()
