"""The add-in reads the line tables' key columns by caption in JavaScript
(addin/static/js/selection.js COLUMN_NAMES): the accepted captions must be exactly the
workbook contract's (server/workbook/schema.py), or the pane would miss lines the server reads."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from server.workbook.schema import TABLES

ADDIN = Path(__file__).resolve().parents[2] / "addin"


def test_column_names_are_the_contracts() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the add-in's tests need Node 20+")
    out = subprocess.run(
        [node, "--input-type=module", "-e",
         "import('./static/js/selection.js').then((m) => "
         "process.stdout.write(JSON.stringify(m.COLUMN_NAMES)))"],
        cwd=ADDIN, capture_output=True, text=True, timeout=60, check=True).stdout
    names = json.loads(out)
    assert set(names) == {"kb_scores", "kb_adjustments", "kb_data"}
    for table, columns in names.items():
        for key, captions in columns.items():
            assert captions == list(TABLES[table].column(key).names()), (table, key)
