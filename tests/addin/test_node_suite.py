"""Runs the add-in's JavaScript tests (addin/test, Node's test runner) inside pytest.

The tests that talk to the server (custom functions, the selected line) get the real app on
127.0.0.1 with the world of tests/addin/conftest.py, named to Node by KPIBOOK_TEST_SERVER,
KPIBOOK_TEST_TOKENS and KPIBOOK_TEST_WORLD; run here, no Node test may be skipped.

`npm ci` runs first when addin/node_modules is missing, so a fresh clone needs only Node and
access to the npm registry. The Node output is shown when the suite fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.addin.conftest import OTHER, OWN, PERIOD, seed_addin_world
from tests.web.conftest import OTHER_NAME

ADDIN = Path(__file__).resolve().parents[2] / "addin"


def _run(args: list[str], timeout: int, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=ADDIN, capture_output=True, text=True, timeout=timeout, check=False,
        env={**os.environ, **(env or {})},
    )


def test_addin_node_suite(app, live_server) -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not installed: the add-in's JavaScript tests need Node 20+ and npm")
    if not (ADDIN / "node_modules").is_dir():
        setup = _run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], timeout=600)
        assert setup.returncode == 0, f"npm ci failed:\n{setup.stdout}\n{setup.stderr}"
    tokens = seed_addin_world(app)
    env = {"KPIBOOK_TEST_SERVER": live_server, "KPIBOOK_TEST_TOKENS": json.dumps(tokens),
           "KPIBOOK_TEST_WORLD": json.dumps({"period": PERIOD, "own": OWN, "other": OTHER,
                                             "other_name": OTHER_NAME})}
    result = _run([npm, "test", "--silent"], timeout=600, env=env)
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, f"addin JavaScript tests failed:\n{output}"
    skipped = re.search(r"^# skipped (\d+)$", result.stdout, re.MULTILINE)
    assert skipped is not None and skipped.group(1) == "0", f"Node tests were skipped:\n{output}"


def test_vba_fixture_is_current() -> None:
    """The committed VBA payload fixture is what addin/tools/make_vba_fixture.py writes."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_vba_fixture", ADDIN / "tools" / "make_vba_fixture.py"
    )
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    assert module.OUT.read_text(encoding="ascii") == module.vba_json(module.PAYLOAD)
