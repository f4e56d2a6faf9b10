"""The period workflow: who moves it, what each state freezes, reopening with a reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from server import workflow
from tests.web.conftest import csrf_from, sign_in

TEMPLATE = Path(__file__).resolve().parents[2] / "workbook_templates" / "manufacturing.xlsx"
needs_template = pytest.mark.skipif(not TEMPLATE.is_file(), reason="templates not built yet")


def _move(client, code: str, action: str, **form):
    page = client.get(f"/periods/{code}")
    return client.post(f"/periods/{code}/transition", data={
        "action": action, "csrf_token": csrf_from(page.get_data(as_text=True)), **form})


def _state(app, code: str) -> str:
    from server.db import session_scope
    from server.services.periods import find_period

    with session_scope(app) as s:
        return find_period(s, code).state


@needs_template
def test_ribbon_and_web_follow_the_workflow(app, world, tmp_path):
    from addin.headless import ServerError, flask_poster, run_button

    seen: list[workflow.PeriodEventInfo] = []
    workflow.subscribe(seen.append)
    try:
        _flow(app, tmp_path, seen, ServerError, flask_poster, run_button)
    finally:
        workflow.on_period_event.remove(seen.append)


def _flow(app, tmp_path, seen, ServerError, flask_poster, run_button):  # noqa: N803
    from server.auth import create_token
    from server.db import session_scope
    from server.models import User

    with session_scope(app) as s:
        hr_token = create_token(s, s.get(User, 1), "ribbon")
    book = tmp_path / "kpi.xlsx"
    shutil.copy(TEMPLATE, book)
    post = flask_poster(app.test_client(), headers={"Authorization": f"Bearer {hr_token}"})
    for button in ("new_period?period=2026-10", "pull", "score"):
        run_button(button, book, post=post)
    from openpyxl import load_workbook

    code = next(r for r in load_workbook(book)["_kpibook"].iter_rows(values_only=True)
                if r and r[0] == "period")[1]
    assert _state(app, code) == "scored"

    hr, gm = app.test_client(), app.test_client()
    sign_in(hr, "hr")
    sign_in(gm, "gm")
    # the executive may not send for review; a period is approved by HR (the default of
    # KPIBOOK_PERIOD_APPROVERS), not by an executive
    assert _move(gm, code, "send_for_review").status_code == 403
    assert _move(hr, code, "send_for_review").status_code == 302
    refused = _move(gm, code, "approve")
    assert refused.status_code == 403 and "人力资源" in refused.get_data(as_text=True)
    assert _move(hr, code, "approve").status_code == 302
    assert _state(app, code) == "approved"

    # approved: no more pulls, with a clear message
    with pytest.raises(ServerError) as exc:
        run_button("pull", book, post=post)
    assert exc.value.status == 409 and "审批后数据与得分已冻结" in str(exc.value.message)

    # publishing asks first, saying who will be told; only the confirmation publishes
    asked = _move(hr, code, "publish")
    assert asked.status_code == 200 and 'id="confirm-form"' in asked.get_data(as_text=True)
    assert _state(app, code) == "approved"
    assert _move(hr, code, "publish", confirmed="yes").status_code == 302
    # published: no more adjustments from the ribbon
    with pytest.raises(ServerError) as exc:
        run_button("submit", book, post=post)
    assert exc.value.status == 409 and "已发布" in str(exc.value.message)

    # reopening needs a reason, and the reason is in the history
    assert _move(hr, code, "reopen", to_state="in_review").status_code == 400
    assert _state(app, code) == "published"
    assert _move(hr, code, "reopen", to_state="in_review",
                 reason="总经理要求复核二车间").status_code == 302
    assert _state(app, code) == "in_review"
    page = hr.get(f"/periods/{code}").get_data(as_text=True)
    assert "总经理要求复核二车间" in page
    actions = [(e.action, e.from_state, e.to_state) for e in seen]
    assert ("create", "", "collecting") in actions
    assert actions[-1] == ("reopen", "published", "in_review")
    assert seen[-1].reason == "总经理要求复核二车间" and seen[-1].actor == "hr"
    # a refused move leaves no event behind
    assert ("approve", "scored", "approved") not in actions
    assert [a for a in actions if a[0] == "publish"] == [("publish", "approved", "published")]


def test_close_waits_for_open_appeals_and_auditor_changes_nothing(app, world):
    hr, auditor = app.test_client(), app.test_client()
    sign_in(hr, "hr")
    sign_in(auditor, "auditor")
    assert auditor.get("/periods/2025-03").status_code == 200
    assert _move(auditor, "2025-03", "close").status_code == 403
    blocked = _move(hr, "2025-03", "close", confirmed="yes")
    assert blocked.status_code == 409 and "申诉" in blocked.get_data(as_text=True)
    assert _state(app, "2025-03") == "published"


def test_period_list_says_what_waits_for_whom(app, world):
    client = app.test_client()
    sign_in(client, "auditor")
    html = client.get("/periods").get_data(as_text=True)
    assert "2025-03" in html and "已发布" in html
    assert "答复 2 个申诉" in html  # two open appeals wait for HR
    en = client.get("/periods?lang=en").get_data(as_text=True)
    assert "answer 2 appeal(s)" in en
