"""Score run numbers under concurrency on the real PostgreSQL (issue #7, docs/deploy.md Faults).

`max(run_no) + 1` read inside the request's transaction gave two concurrent Submits the same
number: the second waited for the first's uncommitted row and then failed on
uq_score_runs_run (HTTP 500 after its git commit). Numbers now come from
`score_run_counters`, advanced in a short transaction of its own (runs.next_run_no).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text

from tests.production.conftest import start_gunicorn, stop_gunicorn

ROOT = Path(__file__).resolve().parents[2]


def _app(url: str, tmp_path: Path):
    from server import create_app

    return create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "instance"),
                       "HISTORY_DIR": str(tmp_path / "history"), "SECRET_KEY": "t",
                       "HISTORY_DURABLE": False})


def test_overlapping_store_runs_take_distinct_numbers(pg_migrated_url, tmp_path):
    """Two transactions storing a run of one period at the same time: the first has flushed
    its run and not committed when the second stores its own. Before the counter, the second
    read the same max(run_no), waited on the unique index for the first, then failed."""
    from server.auth import create_user
    from server.db import get_engine, session_scope
    from server.models import Period, ScoreRun
    from server.scoring.engine import score
    from server.services import periods as period_service
    from server.services.runs import store_run

    sys.path.insert(0, str(ROOT / "bench"))
    import workload

    inp = workload.generate(8, 3).score_input()
    result = score(inp, "en")
    app = _app(pg_migrated_url, tmp_path)
    engine = get_engine(app)
    with session_scope(app) as s:
        user = create_user(s, "hr", "hr_admin", "HR")
        period, _created = period_service.open_period(s, "2026-10", "custom", user, "en")
        period_id, user_id = period.id, user.id

    factory = app.extensions["kpibook.db"][1]
    first = factory()
    from server.models import User

    store_run(first, first.get(Period, period_id), inp, result, first.get(User, user_id),
              "en")  # flushed, not committed: its row is invisible to others until commit
    outcome: dict = {}

    def second() -> None:
        with factory() as s2:
            try:
                run = store_run(s2, s2.get(Period, period_id), inp, result,
                                s2.get(User, user_id), "en")
                s2.commit()
                outcome["run_no"] = run.run_no
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                outcome["error"] = repr(exc)

    thread = threading.Thread(target=second)
    thread.start()
    # Let the second reach its INSERT (with the old numbering it now waits for `first`).
    deadline = time.monotonic() + 10
    while thread.is_alive() and time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE "
                                "datname = current_database() AND wait_event_type = 'Lock'")):
                break
        time.sleep(0.05)
    first.commit()
    first.close()
    thread.join(30)
    assert not thread.is_alive()
    assert "error" not in outcome, outcome
    with session_scope(app) as s:
        numbers = sorted(s.scalars(select(ScoreRun.run_no).where(
            ScoreRun.period_id == period_id)))
    assert numbers == [1, 2]
    engine.dispose()


TEMPLATE = ROOT / "workbook_templates" / "manufacturing.xlsx"


@pytest.mark.skipif(not TEMPLATE.is_file(), reason="no templates")
def test_concurrent_submits_and_scores_through_gunicorn(pg_migrated_url, tmp_path):
    """3 gunicorn workers; 6 executives submit 3 cells each while HR presses Score 3 times,
    all at once, no client retry: every answer is 200, every edit is recorded exactly once
    (database and git) and the run numbers are 1..N without a duplicate or a gap (no request
    failed, so none left a gap), and `kpibook verify` passes."""
    sys.path.insert(0, str(ROOT / "bench"))
    import load_submit as ls

    from addin.headless import run_button
    from server.commands import http_post
    from server.db import make_engine
    from server.models import Period, ScoreRun

    url = pg_migrated_url
    hr, execs = ls.make_users(url, tmp_path, 6, 3)
    env = {"KPIBOOK_DATABASE_URL": url, "KPIBOOK_ALLOW_INSECURE_HTTP": "1",
           "KPIBOOK_SECRET_KEY": "run-numbers", "KPIBOOK_FACT_SOURCE": "simulator",
           "KPIBOOK_INSTANCE_PATH": str(tmp_path / "instance"),
           "KPIBOOK_HISTORY_DIR": str(tmp_path / "history"), "KPIBOOK_LOG_LEVEL": "WARNING",
           "KPIBOOK_FAULT": ""}
    server = start_gunicorn(tmp_path, env, workers=3)
    try:
        book = tmp_path / "book.xlsx"
        ls.build_book(book, len(execs))
        post = http_post(server.url, {"Authorization": f"Bearer {hr}"}, insecure=False)
        for button in ("new_period?period=2026-10", "pull", "score"):
            run_button(button, book, post=post)
        cells = [c for _n, _t, mine in execs for c in mine]
        base, where = ls.cell_locations(book, cells)
        points = ls.points_within_range(book)
        jobs = []
        for name, token, mine in execs:
            outs = []
            for k, cell in enumerate(mine):
                out = ls.Outcome(f"runs-{name}-{k}", cell, points=points[cell])
                outs.append((out, ls.payload_for(base, where[cell], float(out.points),
                                                 f"run numbers {name} #{k}")))
            jobs.append((token, outs))
        scores: list[object] = []
        barrier = threading.Barrier(len(jobs) + 1)
        deadline = time.monotonic() + 600

        def executive(token, outs) -> None:
            barrier.wait(60)
            for out, payload in outs:
                ls.submit(server.url, token, payload, out, deadline, max_attempts=1)

        def hr_scores() -> None:
            barrier.wait(60)
            for _ in range(3):
                try:
                    run_button("score", book, post=post)
                    scores.append("ok")
                except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                    scores.append(repr(exc)[:300])

        threads = [threading.Thread(target=executive, args=job) for job in jobs]
        threads.append(threading.Thread(target=hr_scores))
        for t in threads:
            t.start()
        for t in threads:
            t.join(660)
        outcomes = [out for _tok, outs in jobs for out, _p in outs]
        failed = [(o.sid, o.status, o.messages[-1:]) for o in outcomes if o.status != 200]
        assert not failed, (failed, server.log.read_text(errors="replace")[-3000:])
        assert scores == ["ok"] * 3, scores
        problems, dangling = ls.check_once(url, tmp_path, outcomes)
        assert not problems and not dangling, (problems, dangling)
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                numbers = sorted(conn.scalars(select(ScoreRun.run_no).join(Period).where(
                    Period.code == ls.PERIOD)))
        finally:
            engine.dispose()
        # 1 first Score + 18 Submits + 3 Scores
        assert numbers == list(range(1, 1 + 1 + len(outcomes) + 3)), numbers
        verify = subprocess.run([sys.executable, "-c", "from server.cli import main; main()",
                                 "verify"], cwd=ROOT, env={**os.environ, **env},
                                capture_output=True, text=True, timeout=600)
        assert verify.returncode == 0, verify.stdout[-3000:] + verify.stderr[-2000:]
    finally:
        stop_gunicorn(server)
