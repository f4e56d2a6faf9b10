"""Fixtures of the fuzz tests: an app with a period opened from the shipped template, and
the checks every answer to hostile input must pass."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "workbook_templates" / "manufacturing.xlsx"

# What must never reach a client: a stack trace, a source path, an exception's repr.
LEAKS = re.compile(r"Traceback|File \"|\.py\b|/work/|/usr/lib|site-packages|sqlalchemy\.|"
                   r"psycopg|sqlite3\.|Error\(|\bat 0x[0-9a-f]+")


def assert_safe(resp) -> None:
    body = resp.get_data(as_text=True) if hasattr(resp, "get_data") else resp.text
    assert resp.status_code != 500 and resp.status_code < 500, (resp.status_code, body[:500])
    leak = LEAKS.search(body)
    assert leak is None, (leak.group(0), body[:500])


def db_state(app) -> tuple:
    """Row counts of every table and the history branch head: what a refused request may
    not change."""
    from server.db import get_engine
    from server.models import Base

    with get_engine(app).connect() as conn:
        counts = tuple(conn.execute(select(func.count()).select_from(t)).scalar_one()
                       for t in Base.metadata.sorted_tables)
    return counts, history_head(app)


def history_head(app) -> str:
    folder = Path(app.config["HISTORY_DIR"])
    if not folder.exists():
        return ""
    git_dir = folder / ".git" if (folder / ".git").exists() else folder
    out = subprocess.run(["git", "--git-dir", str(git_dir), "for-each-ref",
                          "--format=%(refname) %(objectname)"],
                         capture_output=True, text=True, timeout=30)
    return out.stdout


@pytest.fixture
def template_payload(tmp_path) -> dict:
    """The template as linked to 2026-10 (the templates carry no period; New period's answer
    would write it into kb_meta, but the payload is sent as it is, button after button)."""
    headless = pytest.importorskip("addin.headless")
    if not TEMPLATE.is_file():
        pytest.skip("no templates")
    import openpyxl

    wb = openpyxl.load_workbook(TEMPLATE)
    meta = wb["_kpibook"]
    next(r for r in meta.iter_rows(min_row=2) if r[0].value == "period")[1].value = "2026-10"
    linked = tmp_path / "linked.xlsx"
    wb.save(linked)
    return headless.workbook_to_payload(linked)


@pytest.fixture
def opened(app, client, hr_token, template_payload, tmp_path):
    """The app with the template's period created and pulled (score/submit reach the engine).
    New period's answer is applied as a client would (it writes the period's binding into
    kb_meta); the payload is then sent as it is, button after button."""
    headless = pytest.importorskip("addin.headless")
    auth = {"Authorization": f"Bearer {hr_token}"}
    linked = tmp_path / "linked.xlsx"
    headless.run_button("new_period?period=2026-10", linked,
                        post=headless.flask_poster(client, headers=auth))
    template_payload.clear()
    template_payload.update(headless.workbook_to_payload(linked))
    resp = client.post("/xl/pull", json=template_payload, headers=auth)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return auth
