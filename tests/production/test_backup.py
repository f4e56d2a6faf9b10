"""`kpibook backup` -> `kpibook restore` -> `kpibook verify`, on SQLite and PostgreSQL, and
`kpibook verify` finding a history changed behind the server's back and a changed DB row."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from tests.history_server.conftest import set_adjustment

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "workbook_templates" / "manufacturing.xlsx"

pytestmark = [pytest.mark.both_databases,
              pytest.mark.skipif(not TEMPLATE.is_file(), reason="no templates")]


@pytest.fixture
def app_config(app_config):
    return {**app_config, "HISTORY_DURABLE": False}


def _env(config: dict) -> dict[str, str]:
    return {"KPIBOOK_DATABASE_URL": config["DATABASE_URL"],
            "KPIBOOK_HISTORY_DIR": config["HISTORY_DIR"],
            "KPIBOOK_INSTANCE_PATH": config["INSTANCE_PATH"],
            "KPIBOOK_SECRET_KEY": "test", "KPIBOOK_FACT_SOURCE": "simulator",
            "KPIBOOK_FAULT": ""}


def kpibook(config: dict, *args: str):
    from server.cli import main

    return CliRunner().invoke(main, list(args), env=_env(config), catch_exceptions=False)


@pytest.fixture
def submitted(app, client, tmp_path, make_token, hr_token):
    """A period scored by HR and two executives' submits (3 adjusted cells)."""
    from addin.headless import flask_poster, run_button

    book = tmp_path / "book.xlsx"
    shutil.copy(TEMPLATE, book)

    def press(button, token):
        return run_button(button, book, post=flask_poster(
            client, headers={"Authorization": f"Bearer {token}"}))

    for button in ("new_period?period=2026-10", "pull", "score"):
        press(button, hr_token)
    wang = make_token("wang", "executive", display_name="王总")
    set_adjustment(book, "M1001", "PROD_EFF", 2, "紧急订单")
    set_adjustment(book, "M1002", "PROD_EFF", -1, "返工\t两次")
    press("submit", wang)
    li = make_token("li", "executive", display_name="Li Ming")
    set_adjustment(book, "M1001", "PROD_EFF", 1.5, "改为 1.5")
    press("submit", li)
    return book


def _adjustments(app) -> list[tuple]:
    from server.db import session_scope
    from server.models import Adjustment

    with session_scope(app) as s:
        return [(a.employee_id, a.indicator, str(a.points), a.reason, a.status,
                 a.submission_id, a.commit)
                for a in s.scalars(select(Adjustment).order_by(Adjustment.id))]


def test_backup_restore_round_trip(app, app_config, submitted, tmp_path, request, db_backend):
    from server.backup import table_counts
    from server.db import get_engine, upgrade
    from server.services.history import history_for

    ok = kpibook(app_config, "verify")
    assert ok.exit_code == 0, ok.output
    assert "OK: history and database agree" in ok.output

    out = tmp_path / "backup"
    result = kpibook(app_config, "backup", str(out))
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    head = history_for(app).head()
    assert manifest["history_head"] == head
    assert manifest["counts"]["adjustments"] == 3
    assert manifest["counts"] == table_counts(get_engine(app))
    assert set(manifest["files"]) == {"history.bundle", "database.dump" if
                                      db_backend == "postgresql" else "database.sqlite3"}

    # restore into an empty database (migrated: what `kpibook db upgrade` leaves) and an
    # empty history folder
    if db_backend == "postgresql":
        target_url = request.getfixturevalue("pg_url")
    else:
        target_url = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    upgrade(target_url)
    target = {**app_config, "DATABASE_URL": target_url,
              "HISTORY_DIR": str(tmp_path / "restored-history"),
              "INSTANCE_PATH": str(tmp_path / "restored-instance")}
    result = kpibook(target, "restore", str(out))
    assert result.exit_code == 0, result.output

    from server import create_app

    restored = create_app(target)
    try:
        assert _adjustments(restored) == _adjustments(app)
        assert table_counts(get_engine(restored)) == manifest["counts"]
        assert history_for(restored).head() == head
        assert history_for(restored).cells_at(None, "2026-10") == \
            history_for(app).cells_at(None, "2026-10")
        ok = kpibook(target, "verify")
        assert ok.exit_code == 0, ok.output

        # not empty any more: refused, unless --force
        again = kpibook(target, "restore", str(out))
        assert again.exit_code != 0
        assert "not empty" in again.output and "--force" in again.output
        forced = kpibook(target, "restore", str(out), "--force")
        assert forced.exit_code == 0, forced.output
        assert _adjustments(restored) == _adjustments(app)
    finally:
        get_engine(restored).dispose()

    # a damaged backup file is refused before anything is touched
    with open(out / "history.bundle", "ab") as f:
        f.write(b"x")
    bad = kpibook(target, "restore", str(out), "--force")
    assert bad.exit_code != 0 and "sha256" in bad.output


def test_verify_reports_a_history_changed_with_plain_git(app, app_config, submitted, tmp_path):
    from server.services.history import history_for

    repo = Path(app_config["HISTORY_DIR"])
    work = tmp_path / "work"
    git = ["git", "-c", "user.name=Mallory", "-c", "user.email=m@example.com"]
    subprocess.run([*git, "clone", "--quiet", str(repo), str(work)], check=True, timeout=60)
    [path] = [p for p in (work / "periods/2026-10/adjustments").rglob("M1002.tsv")]
    text = path.read_text(encoding="utf-8")
    assert "\t-1.00\t" in text
    path.write_text(text.replace("\t-1.00\t", "\t+3.00\t"), encoding="utf-8")
    subprocess.run([*git, "-C", str(work), "commit", "--quiet", "-am", "quietly better"],
                   check=True, timeout=60)
    subprocess.run([*git, "-C", str(work), "push", "--quiet", "origin", "main"], check=True,
                   timeout=60)
    history_for(app)  # the server's view reads the new head

    result = kpibook(app_config, "verify")
    assert result.exit_code == 1, result.output
    assert "[head] 2026-10 M1002 PROD_EFF: git head +3.00 '返工\\t两次', database -1.00" \
        in result.output, result.output


def test_verify_reports_a_changed_database_row(app, app_config, submitted):
    from server.db import session_scope
    from server.models import Adjustment, AdjustmentStatus

    with session_scope(app) as s:
        s.execute(update(Adjustment).where(
            Adjustment.employee_id == "M1002",
            Adjustment.status == AdjustmentStatus.ACTIVE.value).values(points=5))
    result = kpibook(app_config, "verify")
    assert result.exit_code == 1, result.output
    out = result.output
    assert "[git->db]" in out and "M1002 PROD_EFF: git -1.00 '返工\\t两次', database +5.00" \
        in out, out
    assert "[head] 2026-10 M1002 PROD_EFF: git head -1.00" in out, out


def test_verify_reports_a_changed_score_run(app, app_config, submitted):
    from server.db import session_scope
    from server.models import ScoreRun

    with session_scope(app) as s:
        run = s.scalars(select(ScoreRun).order_by(ScoreRun.id.desc())).first()
        totals = [dict(t) for t in run.totals]
        first = next(t for t in totals if t.get("total") not in (None, ""))
        first["total"] = "999.00"
        run.totals = totals
    result = kpibook(app_config, "verify")
    assert result.exit_code == 1, result.output
    assert "[score run]" in result.output and "total 999.00" in result.output, result.output
