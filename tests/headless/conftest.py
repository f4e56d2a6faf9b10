from __future__ import annotations

import pytest

from tests.browser.conftest import live_server  # noqa: F401 - the one live server fixture
from tests.xlwire import action_log

action_log.install()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    bad = action_log.disallowed()
    if bad:
        session.exitstatus = 1
        print(f"\nactions outside ALLOWED_ACTIONS were produced: {bad}")
