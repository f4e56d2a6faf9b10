"""Records every action list `plan_to_actions` returns during the test session, so that one
check can prove no test ever produced a function outside ALLOWED_ACTIONS."""

from __future__ import annotations

import server.xlwire.actions as actions_module

LOG: list[dict] = []


def install() -> None:
    if getattr(actions_module.plan_to_actions, "_logged", False):
        return
    original = actions_module.plan_to_actions

    def logged(*args, **kwargs):
        result = original(*args, **kwargs)
        LOG.extend(result)
        return result

    logged._logged = True  # type: ignore[attr-defined]
    actions_module.plan_to_actions = logged


def disallowed() -> list[str]:
    return sorted({str(a.get("func")) for a in LOG} - actions_module.ALLOWED_ACTIONS)
