"""A workbook is bound to its period by the server (issue #13, docs/records.md "Binding"):
pressed against another period — its kb_meta edited, or a copy of another month's workbook —
it is refused with both named before anything is stored."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.db import session_scope
from server.models import InputRecord, ScoreRun, SourceFact
from tests.server.books import set_meta

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "workbook_templates" / "manufacturing.xlsx"
H = pytest.importorskip("addin.headless")


def stored(app) -> tuple:
    with session_scope(app) as s:
        return tuple(s.scalar(select(func.count()).select_from(m))
                     for m in (ScoreRun, SourceFact, InputRecord))


def test_a_workbook_pressed_against_another_period_is_refused(app, press, tmp_path):
    october, november = tmp_path / "10.xlsx", tmp_path / "11.xlsx"
    for path, month in ((october, "2026-10"), (november, "2026-11")):
        shutil.copy(TEMPLATE, path)
        press(f"new_period?period={month}", path)
    press("pull", october)
    press("score", october)
    before = stored(app)
    set_meta(october, "period", "2026-11")  # October's workbook said to be November's
    for button in ("pull", "score", "submit"):
        with pytest.raises(H.ServerError) as exc:
            press(button, october)
        assert exc.value.status == 409
        # the message names both: what the workbook says and what it is bound to
        assert "2026-11 manufacturing" in str(exc.value)
        assert "2026-10 manufacturing" in str(exc.value)
    assert stored(app) == before


def test_a_workbook_without_its_binding_is_refused_until_new_period(app, press, tmp_path):
    book = tmp_path / "10.xlsx"
    shutil.copy(TEMPLATE, book)
    press("new_period?period=2026-10", book)
    set_meta(book, "binding", None)
    with pytest.raises(H.ServerError) as exc:
        press("pull", book)
    assert exc.value.status == 409 and "新建期间" in str(exc.value)
    press("new_period?period=2026-10", book)  # HR binds it again
    press("pull", book)
