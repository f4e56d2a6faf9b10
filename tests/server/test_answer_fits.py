"""A button whose answer cannot be written into the workbook stores nothing (docs/workbook.md,
issue #14): HR typed a line under a table that had to grow. Before, the run or adjustment was
committed (database and git) and the button answered 500."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from server.db import session_scope
from server.models import Adjustment, InputRecord, ScoreRun
from server.services.history import history_for

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "workbook_templates" / "manufacturing.xlsx"
H = pytest.importorskip("addin.headless")


@pytest.fixture
def book(tmp_path) -> Path:
    path = tmp_path / "考核.xlsx"
    shutil.copy(TEMPLATE, path)
    return path


@pytest.fixture
def press(client, hr_token):
    def press(button, path, token=hr_token):
        poster = H.flask_poster(client, headers={"Authorization": f"Bearer {token}"})
        return H.run_button(button, path, post=poster)

    return press


def type_below(path: Path, table: str, text: str) -> None:
    """HR's note in the first cell under the table."""
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        if table in ws.tables:
            from openpyxl.utils import range_boundaries

            min_col, _min_row, _max_col, max_row = range_boundaries(ws.tables[table].ref)
            ws.cell(row=max_row + 1, column=min_col, value=text)
            wb.save(path)
            return
    raise KeyError(table)


def stored(app) -> tuple:
    with session_scope(app) as s:
        return tuple(s.scalar(select(func.count()).select_from(m))
                     for m in (ScoreRun, Adjustment, InputRecord)), history_for(app).head()


def test_score_that_cannot_grow_a_table_stores_nothing(app, book, press):
    press("new_period?period=2026-10", book)
    press("pull", book)
    type_below(book, "kb_scores", "HR 的备注")
    before = stored(app)
    with pytest.raises(H.ServerError) as exc:
        press("score", book)
    assert exc.value.status == 422
    assert "must grow" in str(exc.value) and "A3" in str(exc.value)
    assert stored(app) == before


def test_submit_that_cannot_grow_kb_meta_stores_nothing(app, book, press):
    from tests.history_server.conftest import set_adjustment

    press("new_period?period=2026-10", book)
    press("pull", book)
    press("score", book)
    type_below(book, "kb_meta", "HR 的备注")  # Submit adds submitted_at/by to kb_meta
    set_adjustment(book, "M1001", "PROD_EFF", 1, "紧急订单")
    before = stored(app)
    with pytest.raises(H.ServerError) as exc:
        press("submit", book)
    assert exc.value.status == 422 and "must grow" in str(exc.value)
    assert stored(app) == before
