"""`kpibook verify` reports what it finds and never crashes: a corrupt git object, a period
code in the database that the history cannot hold, a missing history directory, a score run
whose stored figures are not numbers. Each case is a located discrepancy line and exit 1."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from server.db import session_scope
from server.models import Period, ScoreRun
from server.services import stored_run

from .conftest import set_adjustment


@pytest.fixture
def submitted(app, book, press, hr_token, make_token):
    """A scored period with one executive's adjustment: commits in git and the database."""
    for button in ("new_period?period=2026-10", "pull", "score"):
        press(button, book, hr_token)
    wang = make_token("wang", "executive", display_name="王总")
    set_adjustment(book, "M1001", "PROD_EFF", 2, "紧急订单")
    press("submit", book, wang)
    return app


def _verify(app):
    from server.cli import main

    env = {"KPIBOOK_DATABASE_URL": app.config["DATABASE_URL"],
           "KPIBOOK_HISTORY_DIR": str(app.config["HISTORY_DIR"]),
           "KPIBOOK_INSTANCE_PATH": str(Path(app.config["INSTANCE_PATH"]).parent / "verify"),
           "KPIBOOK_SECRET_KEY": "test"}
    return CliRunner().invoke(main, ["verify"], env=env, catch_exceptions=False)


def test_clean_history_verifies(submitted):
    result = _verify(submitted)
    assert result.exit_code == 0, result.output
    assert "OK: history and database agree" in result.output


def test_corrupt_git_object_is_reported(submitted):
    from server.services.history import close_all

    close_all()  # the server's own handle keeps objects in memory
    repo = Path(submitted.config["HISTORY_DIR"])
    victims = [p for p in (repo / "objects").rglob("*")
               if p.is_file() and p.parent.name not in ("info",) and p.suffix != ".idx"]
    assert victims
    for path in victims:  # every object file: loose objects and packs alike
        path.chmod(0o644)
        data = bytearray(path.read_bytes())
        for i in range(len(data) // 2, min(len(data), len(data) // 2 + 64)):
            data[i] ^= 0xFF
        path.write_bytes(bytes(data))
    result = _verify(submitted)
    assert result.exit_code == 1, result.output
    assert "[git fsck]" in result.output, result.output
    assert "Traceback" not in result.output


def test_odd_period_code_in_the_database_is_reported(submitted):
    with session_scope(submitted) as s:
        s.add(Period(code="../2026"))
    result = _verify(submitted)
    assert result.exit_code == 1, result.output
    assert "../2026" in result.output, result.output


def test_missing_history_directory_is_reported(submitted):
    from server.services.history import close_all

    close_all()
    shutil.rmtree(submitted.config["HISTORY_DIR"])
    result = _verify(submitted)
    assert result.exit_code == 1, result.output
    assert "history" in result.output.lower() and "not in git" in result.output, result.output


def test_history_directory_that_is_no_repository_is_reported(submitted):
    from server.services.history import close_all

    close_all()
    repo = Path(submitted.config["HISTORY_DIR"])
    shutil.rmtree(repo / "objects")
    shutil.rmtree(repo / "refs")
    result = _verify(submitted)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output


def test_score_run_with_odd_figures_is_reported(submitted):
    with session_scope(submitted) as s:
        run = s.scalars(select(ScoreRun).order_by(ScoreRun.id.desc())).first()
        period = s.get(Period, run.period_id)
        period.rules = {**(period.rules or {}), "total_cap": "sNaN"}
        # an old-format run (an object per line) with lines that are not lines
        run.lines = [*stored_run.lines(run), {"indicator": "X"}, "not a line",
                     {"employee_id": "M1001", "indicator": "Y", "base_points": "sNaN",
                      "adjustment": "Infinity", "points": "1e999999"}]
        run.totals = [*(run.totals or []), {"total": "7"}, None,
                      {"employee_id": "M1001", "total": "NaN"}]
    result = _verify(submitted)
    assert result.exit_code == 1, result.output
    assert "[score run]" in result.output, result.output
