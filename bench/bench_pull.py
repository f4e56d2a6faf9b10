"""Benchmark: Pull data for 5,000 managers from five loopback source systems.

Five SourceSimulator servers on 127.0.0.1 (ERP REST with OAuth2 + cursor pages, CRM with page
numbers, GitLab with Link headers, Jira search, DingTalk attendance), each answering 500
records a page after 50 ms. Measures the concurrent fetch + map (sync.pull.pull_sources) and
the full server path that also stores the facts (server.services.pull.run_pull on SQLite).
Prints figures; asserts nothing.

    .venv/bin/python bench/bench_pull.py [--managers 5000] [--latency 0.05] [--page 500]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sync.config import PeriodWindow, parse_config  # noqa: E402
from sync.pull import pull_sources  # noqa: E402
from sync.simulators import server as sim_server  # noqa: E402
from sync.simulators.data import SimData, dingtalk_user, staff_no, synthetic_data  # noqa: E402
from sync.simulators.server import SourceSimulator  # noqa: E402


def config_for(urls: dict[str, str], ids: list[str], page: int) -> dict:
    staff = {staff_no(e): e for e in ids}
    return {"settings": {"timeout": 10, "retries": 2, "workers": 5}, "source": [
        {"name": "erp", "kind": "rest", "url": f"{urls['erp']}/erp/api/v1/production",
         "items": "items", "params": {"from": "{period_start}", "to": "{period_end}"},
         "auth": {"type": "oauth2", "token_url": f"{urls['erp']}/oauth/token",
                  "client_id": sim_server.CLIENT_ID, "client_secret_env": "B_ERP"},
         "pagination": {"type": "cursor", "size": page}, "employee_key": "staff_no",
         "key_map": staff,
         "indicator": [{"indicator": "PROD_EFF", "aggregate": "ratio", "unit": "%",
                        "numerator": "output_qty", "denominator": "planned_qty"}]},
        {"name": "crm", "kind": "rest", "url": f"{urls['crm']}/crm/api/deliveries",
         "items": "data", "auth": {"type": "bearer", "token_env": "B_CRM"},
         "pagination": {"type": "page", "size": page, "total_pages_field": "total_pages"},
         "employee_key": "salesperson", "key_map": staff,
         "indicator": [{"indicator": "SALES", "value": "amount_yuan", "scale": "0.0001",
                        "unit": "万元"}]},
        {"name": "gitlab", "kind": "rest",
         "url": f"{urls['gitlab']}/gitlab/api/v4/merge_requests",
         "auth": {"type": "header", "header": "PRIVATE-TOKEN", "token_env": "B_GL"},
         "pagination": {"type": "link", "size": page, "size_param": "per_page"},
         "employee_key": "author_username", "key_map": {e.lower(): e for e in ids},
         "indicator": [{"indicator": "CODE_REVIEW", "aggregate": "ratio", "unit": "%",
                        "numerator": "reviewed", "denominator": {"where": {}}}]},
        {"name": "jira", "kind": "jira", "url": f"{urls['jira']}/jira", "page_size": page,
         "jql": "project = RD AND updated >= '{period_start}'",
         "auth": {"type": "basic", "username": sim_server.JIRA_USER, "password_env": "B_JIRA"},
         "employee_key": "assignee",
         "indicator": [{"indicator": "PROJ_PROGRESS", "aggregate": "ratio", "unit": "%",
                        "numerator": {"field": "story_points", "where": {"done": 1}},
                        "denominator": {"field": "story_points"}}]},
        {"name": "attendance", "kind": "dingtalk", "url": f"{urls['attendance']}/dingtalk",
         "appkey": sim_server.DINGTALK_KEY, "appsecret_env": "B_DT", "batch": page,
         "limit": page, "window_days": 31, "employee_key": "userId",
         "key_map": {dingtalk_user(e): e for e in ids},
         "indicator": [{"indicator": "ATTEND", "aggregate": "count", "zero_fill": True,
                        "where": {"timeResult": "Late"}}]},
    ]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--managers", type=int, default=5000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--page", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    data = synthetic_data(args.managers)
    ids = [f"B{n:06d}" for n in range(args.managers)]
    names = ("erp", "crm", "gitlab", "jira", "attendance")
    # five separate servers, each holding only its own system's records
    parts = {
        "erp": SimData(erp_production=data.erp_production),
        "crm": SimData(crm_deliveries=data.crm_deliveries),
        "gitlab": SimData(merge_requests=data.merge_requests),
        "jira": SimData(jira_issues=data.jira_issues),
        "attendance": SimData(attendance=data.attendance)}
    sims = {n: SourceSimulator(parts[n], latency=args.latency, page_size=args.page).start()
            for n in names}
    os.environ.update(B_ERP=sim_server.CLIENT_SECRET, B_CRM=sim_server.CRM_TOKEN,
                      B_GL=sim_server.GITLAB_TOKEN, B_JIRA=sim_server.JIRA_TOKEN,
                      B_DT=sim_server.DINGTALK_SECRET)
    try:
        config = parse_config(config_for({n: s.url for n, s in sims.items()}, ids, args.page))
        window = PeriodWindow.of("2026-10")
        known = set(ids)
        print(f"{args.managers} managers, 5 loopback sources, {args.page} records a page, "
              f"{args.latency * 1000:.0f} ms a page")
        best = None
        for r in range(args.rounds):
            began = time.perf_counter()
            outcomes = pull_sources(config, window, known)
            took = time.perf_counter() - began
            records = sum(o.progress.records for o in outcomes)
            facts = sum(len(o.facts) for o in outcomes)
            assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
            best = took if best is None else min(best, took)
            per = ", ".join(f"{o.source} {o.progress.pages}p {o.progress.seconds:.2f}s"
                            for o in outcomes)
            print(f"  fetch+map round {r + 1}: {took:.2f} s, {records} records, {facts} facts, "
                  f"{records / took:,.0f} records/s  [{per}]")
        serial = sum(o.progress.pages for o in outcomes) * args.latency
        print(f"  best fetch+map: {best:.2f} s ({records / best:,.0f} records/s); the pages "
              f"alone would take {serial:.1f} s one source after another")
        _with_database(config, known)
    finally:
        for s in sims.values():
            s.stop()


def _with_database(config, known: set[str]) -> None:
    """The server path: run_pull stores 25,000 facts in SQLite, then a second pull that
    changes nothing."""
    from server import create_app
    from server.db import session_scope, upgrade
    from server.models import Period
    from server.services.pull import run_pull

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite3"
        upgrade(url)
        app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": tmp, "LOG_LEVEL": "WARNING"})
        with session_scope(app) as s:
            s.add(Period(code="2026-10", template_code="bench", state="collecting"))
        for label in ("first pull (insert)", "second pull (unchanged)"):
            began = time.perf_counter()
            with session_scope(app) as s:
                period = s.query(Period).one()
                report = run_pull(s, period, "bench", config, app.config, roster=known)
            took = time.perf_counter() - began
            print(f"  fetch+map+store {label}: {took:.2f} s, {report.stored} stored, "
                  f"{report.unchanged} unchanged")


if __name__ == "__main__":
    main()
