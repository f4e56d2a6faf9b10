"""Upgrading a database and history made by the release before issue #13 (schema 0007): the
month becomes its template's one scorecard, its history stays where it was, its workbook is
bound by one New period, and a second scorecard can then join the month.

The old release's database is made the way an operator would roll back to it: the month is
worked with this release, then the schema goes down to 0007 (what the old release reads), and
is upgraded again as the new release's first start would."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, select

from server import db
from server.db import session_scope
from server.models import Period, ScoreRun

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "workbook_templates"
H = pytest.importorskip("addin.headless")
RELEASE = "0007"  # the last migration of the release before scorecards and records of record


def _press(app, token):
    client = app.test_client()

    def press(button, path):
        poster = H.flask_poster(client, headers={"Authorization": f"Bearer {token}"})
        return H.run_button(button, path, post=poster)

    return press


def test_a_release_database_and_history_upgrade(app_config, app, hr_token, tmp_path):
    from server import create_app
    from server.verify import verify

    book = tmp_path / "manufacturing.xlsx"
    shutil.copy(TEMPLATES / "manufacturing.xlsx", book)
    press = _press(app, hr_token)
    press("new_period?period=2026-10", book)
    press("pull", book)
    press("score", book)
    with session_scope(app) as s:
        totals = s.scalars(select(ScoreRun).order_by(ScoreRun.id.desc())).first().totals
    db.get_engine(app).dispose()

    url = app_config["DATABASE_URL"]
    command.downgrade(db.alembic_config(url), RELEASE)  # what the release's database holds
    db.upgrade(url)  # the new release starts

    upgraded = create_app(app_config)
    try:
        with session_scope(upgraded) as s:
            (period,) = s.scalars(select(Period)).all()
            assert (period.code, period.scorecard, period.history_key) == (
                "2026-10", "manufacturing", "2026-10")
            assert len(period.binding) == 32
            run = s.scalars(select(ScoreRun).order_by(ScoreRun.id.desc())).first()
            assert run.totals == totals  # runs read as before
        found, _figures = verify(upgraded)
        assert found == [], [d.message for d in found]  # database and git agree
        press = _press(upgraded, hr_token)
        # the workbook made before bindings is refused until HR presses New period once
        with pytest.raises(H.ServerError) as exc:
            press("score", book)
        assert exc.value.status == 409
        press("new_period?period=2026-10", book)
        press("score", book)
        # a second scorecard joins the month, with its own history directory
        rnd = tmp_path / "rnd.xlsx"
        shutil.copy(TEMPLATES / "rnd.xlsx", rnd)
        press("new_period?period=2026-10", rnd)
        press("pull", rnd)
        press("score", rnd)
        with session_scope(upgraded) as s:
            keys = sorted(s.scalars(select(Period.history_key)))
            assert keys == ["2026-10", "2026-10.rnd"]
            assert s.scalar(select(func.count()).select_from(ScoreRun)) >= 3
        found, _figures = verify(upgraded)
        assert found == [], [d.message for d in found]
    finally:
        db.get_engine(upgraded).dispose()
