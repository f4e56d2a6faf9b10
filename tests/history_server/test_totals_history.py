"""The history holds totals and ranks at every version (adjustments and reverts included),
and a revert after approval takes the period back to review in git and in the database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from server.db import session_scope
from server.ledger import History
from server.models import Period, PeriodEvent, ScoreRun, User
from server.services.history import history_for, run_snapshot
from tests.web.conftest import csrf_from

from .conftest import set_adjustment

pytestmark = pytest.mark.usefixtures("book")
PERIOD = "2026-10"


@pytest.fixture
def scored(app, book, press, hr_token):
    for button in ("new_period?period=2026-10", "pull", "score"):
        press(button, book, hr_token)
    return book


def _post(client, page_url: str, url: str, form: dict):
    page = client.get(page_url).get_data(as_text=True)
    return client.post(url, data={**form, "csrf_token": csrf_from(page)})


@pytest.fixture(autouse=True)
def _executives_approve_periods(app):
    """This deployment lets executives approve a period (KPIBOOK_PERIOD_APPROVERS)."""
    app.config["PERIOD_APPROVERS"] = ("hr_admin", "executive")


def _transition(client, form: dict) -> None:
    resp = _post(client, f"/periods/{PERIOD}", f"/periods/{PERIOD}/transition", form)
    assert resp.status_code == 302, resp.get_data(as_text=True)


def _revert(client, commit: str, reason: str):
    return _post(client, f"/review/{PERIOD}/submission?commit={commit}",
                 f"/review/{PERIOD}/revert", {"commit": commit, "reason": reason})


def test_state_at_every_version_is_the_database_run_of_that_version(
        app, scored, press, make_token, web_login):
    """Rebuild each version's scores and totals from the repository alone (a fresh History
    on the directory, nothing cached) and compare with the ScoreRun the server stored for it:
    baseline, two Submits, a web adjustment, a revert."""
    wang = make_token("wang", "executive", display_name="王总")
    set_adjustment(scored, "M1004", "PROD_EFF", 3, "超额完成")
    set_adjustment(scored, "M1002", "PROD_EFF", -2, "返工")
    press("submit", scored, wang)
    set_adjustment(scored, "M1002", "PROD_EFF", -0.5, "供应商承担一部分")
    press("submit", scored, wang)
    hr = app.test_client()
    web_login(hr, "hr2", display_name="人力资源部 王")
    resp = _post(hr, f"/periods/{PERIOD}/results/M1005", f"/periods/{PERIOD}/results/M1005/adjust",
                 {"indicator": "PROD_EFF", "points": "1.25", "reason": "网页调整"})
    assert resp.status_code == 302
    history = history_for(app)
    first = history.timeline(PERIOD, kind="adjustment")[-1].commit
    assert _revert(hr, first, "撤销第一次提交").status_code == 302
    assert history.timeline(PERIOD, limit=1)[0].kind in ("revert", "approval")

    fresh = History(app.config["HISTORY_DIR"], durable=False, maintenance_every=0)
    try:
        with session_scope(app) as s:
            runs = [r for r in s.scalars(select(ScoreRun).order_by(ScoreRun.run_no))
                    if r.commit]
            kinds = [r.kind for r in runs]
            assert kinds.count("submit") == 2 and "adjust" in kinds and "revert" in kinds
            for run in runs:
                state = fresh.state_at(run.commit, PERIOD)
                want = run_snapshot(run)
                assert state.scores == dict(want.lines), (run.kind, run.run_no)
                assert state.totals == dict(want.totals), (run.kind, run.run_no)
            # ... and the totals really moved with the adjustments
            last = runs[-1]
            totals = {t["employee_id"]: Decimal(t["total"]) for t in last.totals}
            base = {t["employee_id"]: Decimal(t["total"]) for t in runs[0].totals}
            assert totals["M1005"] == base["M1005"] + Decimal("1.25")
    finally:
        fresh.close()
    # the diff between the baseline and the head names total and rank changes
    diff = history.diff(PERIOD, runs[0].commit, history.head())
    assert {t.employee_id for t in diff.totals} >= {"M1005", "M1002"}


def test_revert_after_approval_goes_back_to_review_published_stays_frozen(
        app, scored, press, make_token, web_login):
    wang = make_token("wang", "executive", display_name="王总")
    set_adjustment(scored, "M1004", "PROD_EFF", 3, "超额完成")
    press("submit", scored, wang)
    history = history_for(app)
    adj = history.timeline(PERIOD, kind="adjustment")[0].commit
    hr, gm = app.test_client(), app.test_client()
    web_login(hr, "hr2", display_name="人力资源部 王")
    web_login(gm, "gm", role="executive", display_name="总经理 王强")
    _transition(gm, {"action": "approve"})
    assert history.status(PERIOD)["status"] == "approved"

    # the submission page offers the revert after approval; reverting answers 302, not 409
    page = hr.get(f"/review/{PERIOD}/submission?commit={adj}").get_data(as_text=True)
    assert 'id="revert"' in page
    resp = _revert(hr, adj, "审批后发现重复计算")
    assert resp.status_code == 302, resp.get_data(as_text=True)

    reopen, revert = history.timeline(PERIOD, limit=3)[1::-1]
    assert (reopen.kind, revert.kind, revert.reverts) == ("reopen", "revert", adj)
    assert history.status(PERIOD, reopen.commit)["status"] == "in_review"
    assert "审批后发现重复计算" in str(history.status(PERIOD)["reason"])
    with session_scope(app) as s:
        period = s.scalar(select(Period).where(Period.code == PERIOD))
        assert period.state == "in_review"
        event = s.scalar(select(PeriodEvent).order_by(PeriodEvent.id.desc()).limit(1))
        assert (event.action, event.from_state, event.to_state) == (
            "adjust", "approved", "in_review")
        assert "审批后发现重复计算" in event.reason and adj[:10] in event.reason
        run = s.scalar(select(ScoreRun).order_by(ScoreRun.run_no.desc()).limit(1))
        assert (run.kind, run.commit) == ("revert", revert.commit)
        assert history.state_at(revert.commit, PERIOD).totals == dict(run_snapshot(run).totals)
    # the workflow's event commit was not written twice (git already said in_review)
    assert history.timeline(PERIOD, limit=1)[0].commit == revert.commit

    # approve again, publish: a revert is now refused with a clear 409 and nothing is written
    set_adjustment(scored, "M1001", "PROD_EFF", 2, "紧急订单")
    press("submit", scored, wang)
    adj2 = history.timeline(PERIOD, kind="adjustment")[0].commit
    _transition(gm, {"action": "approve"})
    _transition(hr, {"action": "publish", "confirmed": "yes"})
    head = history.head()
    resp = _revert(hr, adj2, "发布后撤销")
    assert resp.status_code == 409
    text = resp.get_data(as_text=True)
    assert "已发布" in text
    assert history.head() == head
    with session_scope(app) as s:
        assert s.scalar(select(Period.state)) == "published"


def test_revert_after_approval_with_every_cell_changed_since_writes_nothing(
        app, scored, press, make_token):
    """A revert that could change nothing must not reopen the period in git either."""
    from server.services.adjust import revert_submission
    from server.services.errors import Conflict

    wang = make_token("wang", "executive", display_name="王总")
    set_adjustment(scored, "M1004", "PROD_EFF", 3, "超额完成")
    press("submit", scored, wang)
    history = history_for(app)
    adj = history.timeline(PERIOD, kind="adjustment")[0].commit
    set_adjustment(scored, "M1004", "PROD_EFF", 1, "改为 1")
    press("submit", scored, wang)
    with app.test_request_context(), session_scope(app) as s:
        period = s.scalar(select(Period))
        user = s.scalar(select(User).where(User.name == "wang"))
        from server import workflow

        workflow.transition(s, period, "approve", user)
    assert history.status(PERIOD)["status"] == "approved"
    head = history.head()
    with app.test_request_context(), session_scope(app) as s:
        period = s.scalar(select(Period))
        user = s.scalar(select(User).where(User.name == "hr"))
        with pytest.raises(Conflict, match="M1004 PROD_EFF"):
            revert_submission(s, period, adj, user, "撤销", "zh")
        s.rollback()
    assert history.head() == head and history.status(PERIOD)["status"] == "approved"
    with session_scope(app) as s:
        assert s.scalar(select(Period.state)) == "approved"


def test_a_worker_warms_the_history_index_in_the_background(app, scored):
    from server.services.history import history_for, warm_in_background

    history = history_for(app)
    assert history._index_state[0] != history.head()  # no page has read it yet
    thread = warm_in_background(app)
    assert thread is not None
    thread.join(60)
    assert history._index_state[0] == history.head()


def test_an_unchanged_rescore_commits_nothing_a_changed_one_records_its_scores(
        app, scored, press, hr_token):
    """Score again on the same month: no commit, the run points at the head (the history
    is known to hold these scores, `History.holds_scores`). Change one source value: the
    next Score records the new scores, exactly those of its stored run."""
    import openpyxl

    from server.workbook.schema import DATA
    from tests.history_server.conftest import keyed_cells

    history = history_for(app)
    head = history.head()
    press("score", scored, hr_token)
    press("score", scored, hr_token)
    assert history.head() == head
    with session_scope(app) as s:
        runs = s.scalars(select(ScoreRun).order_by(ScoreRun.run_no)).all()
        assert [r.commit for r in runs[-2:]] == [head] * 2
        before = run_snapshot(runs[-1])

    wb = openpyxl.load_workbook(scored)
    ws, rows = keyed_cells(wb, "kb_data", DATA)
    row = next(r for r in rows if (r["employee_id"].value, r["indicator"].value)
               == ("M1001", "PROD_EFF"))
    row["value"].value = float(row["value"].value) * 0.5
    wb.save(scored)
    press("score", scored, hr_token)
    assert history.head() != head
    with session_scope(app) as s:
        run = s.scalars(select(ScoreRun).order_by(ScoreRun.run_no.desc())).first()
        assert run.commit == history.head()
        want = run_snapshot(run)
    state = history.state_at(history.head(), PERIOD)
    assert state.scores == dict(want.lines) and state.totals == dict(want.totals)
    assert state.scores[("M1001", "PROD_EFF")] != dict(before.lines)[("M1001", "PROD_EFF")]
    # and the same month once more: held again, nothing committed
    head = history.head()
    press("score", scored, hr_token)
    assert history.head() == head
