"""Only functions every client implements are ever emitted, and only actions.py builds them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server.xlwire.actions import ALLOWED_ACTIONS
from tests.xlwire import action_log

ROOT = Path(__file__).resolve().parents[2]


def _xlwings_file(relative: str) -> str:
    xlwings = pytest.importorskip("xlwings")
    path = Path(xlwings.__file__).parent / relative
    if not path.exists():
        pytest.skip(f"{relative} not shipped with this xlwings")
    return path.read_text(encoding="utf-8", errors="replace")


def test_every_allowed_action_exists_in_the_vba_client() -> None:
    subs = set(re.findall(r"^Sub (\w+)\(wb As Workbook, action As Dictionary\)",
                          _xlwings_file("addin/Remote.bas"), re.M))
    assert subs >= ALLOWED_ACTIONS, ALLOWED_ACTIONS - subs


def test_every_allowed_action_exists_in_the_office_scripts_client() -> None:
    callbacks = set(re.findall(r"registerCallback\((\w+)\)", _xlwings_file("js/xlwings.ts")))
    assert callbacks >= ALLOWED_ACTIONS, ALLOWED_ACTIONS - callbacks


def test_no_action_dicts_built_outside_actions_module() -> None:
    pattern = re.compile(r"""["']func["']\s*:|func\s*=\s*["'][a-z]+[A-Z]\w*["']""")
    offenders = []
    for path in (ROOT / "server").rglob("*.py"):
        if path == ROOT / "server" / "xlwire" / "actions.py":
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for n, line in enumerate(text.splitlines(), start=1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_no_server_module_imports_the_xlwings_engine() -> None:
    pattern = re.compile(r"^\s*(import xlwings|from xlwings)", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "server").rglob("*.py")
                 if pattern.search(p.read_text(encoding="utf-8", errors="replace"))]
    offenders += [str(p.relative_to(ROOT)) for p in (ROOT / "addin").glob("*.py")
                  if pattern.search(p.read_text(encoding="utf-8", errors="replace"))]
    assert not offenders


def test_zz_every_action_logged_this_session_is_allowed() -> None:
    """Runs late in the module order; pytest_sessionfinish repeats the check at the end."""
    assert action_log.disallowed() == []
