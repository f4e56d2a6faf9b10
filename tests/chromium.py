"""Debian's chromium driven by Playwright: one browser per test session, shared by every test
that opens a page (tests/browser, tests/cards). Playwright's sync API may run once per
thread, so there is exactly one definition of this fixture (imported by tests/conftest.py);
a second one started beside it fails.

Chromium runs with --no-sandbox, so the tests also run as root in CI (scripts/setup-system
installs chromium); Playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("KPIBOOK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

def _unavailable(reason: str) -> None:
    """Fail in CI (the setup scripts must provide it), skip elsewhere."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        _unavailable(f"{CHROMIUM} is missing (scripts/setup-system installs chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
