"""`kpibook demo`: a ready-to-try server (the README's `scripts/run`).

Migrates the database, creates demo users with fresh tokens (printed), a demo period with the
manufacturing template's people and source facts from the simulator, writes the template
workbooks, then serves over HTTPS on localhost and prints how to sideload the add-in.
Running it again is safe: existing data is kept, demo tokens are replaced.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

DEMO_USERS = (
    # name, role, display name, authority
    ("hr", "hr_admin", "人力资源部 李娜", {}),
    ("gm", "executive", "总经理 周建国", {"max_points": "5"}),
    ("zhangwei", "dept_head", "一车间主任 张伟", {"departments": ["一车间"], "max_points": "3"}),
    ("auditor", "auditor", "审计 孙丽华", {}),
    # a scored manager (employee account linked to the roster's 工号 M1004)
    ("M1004", "employee", "一车间副主任 赵敏", {}),
)
# Employee ids of demo accounts (their 工号 on the simulated platforms, G0001 and A0001 for
# 周建国 and 孙丽华): platform sign-in finds them and cards address them through the org
# sync's identities (docs/signin.md, docs/notifications.md).
DEMO_EMPLOYEE_IDS = {"gm": "G0001", "auditor": "A0001", "M1004": "M1004"}
DEMO_TEMPLATE = "manufacturing"
# October holds three scorecards side by side, each scored from its own template workbook
DEMO_SCORECARDS = ("manufacturing", "rnd", "sales")
DEMO_TOKEN_LABEL = "demo"


def setup_demo(app: Flask, workbook_dir: Path | None = None) -> dict[str, object]:
    """Everything but serving. Returns {"tokens": {user: token}, "period": code,
    "workbooks": [paths]} so that tests and scripts can use it."""
    from server import db as database

    database.upgrade(app.config["DATABASE_URL"])
    from server.db import session_scope

    with session_scope(app) as session:
        tokens, passwords, totp = _users(session, app.config)
        period = _period(session)
    workbooks: list[Path] = []
    try:
        from server.workbook.templates import write_templates
    except ImportError:  # the template builder is not there (yet)
        write_templates = None
    if write_templates is not None:
        workbooks = write_templates(workbook_dir or Path(app.instance_path) / "workbooks")
    return {"tokens": tokens, "passwords": passwords, "totp": totp, "period": period,
            "workbooks": workbooks}


def _users(session: Session, config: Any
           ) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    import secrets

    from server import mfa
    from server.auth import create_token, create_user, end_all_sessions, set_password
    from server.models import ApiToken, User

    tokens, passwords, totp = {}, {}, {}
    now = dt.datetime.now(dt.UTC)
    for name, role, display, authority in DEMO_USERS:
        user = session.scalar(select(User).where(User.name == name))
        if user is None:
            user = create_user(session, name, role, display, authority,
                               employee_id=DEMO_EMPLOYEE_IDS.get(name, ""))
        elif not user.employee_id:
            user.employee_id = DEMO_EMPLOYEE_IDS.get(name, "")
        # A fresh web password per demo run, printed like the tokens.
        passwords[name] = "demo-" + secrets.token_urlsafe(8)
        set_password(user, passwords[name])
        end_all_sessions(session, user)
        for old in session.scalars(select(ApiToken).where(
                ApiToken.user_id == user.id, ApiToken.name == DEMO_TOKEN_LABEL,
                ApiToken.revoked_at.is_(None))):
            old.revoked_at = now  # tokens printed by an earlier demo run stop working
        tokens[name] = create_token(session, user, DEMO_TOKEN_LABEL)
        if mfa.required(user, config):
            # Roles that sign in with a second factor get a fresh authenticator secret per run,
            # printed with the passwords (add it to an authenticator app, or `oathtool`).
            totp[name] = mfa.new_secret()
            user.totp_secret, user.totp_last_step = totp[name], 0
            user.recovery_codes = []
    return tokens, passwords, totp


def _period(session: Session) -> str:
    from server.models import Employee, Period, PeriodState, Template, User
    from server.services.facts import facts_for, store_facts
    from server.services.periods import history_key_for
    from server.services.simulator import template_facts
    from server.workbook import template_content as content

    for key, tpl in content.TEMPLATES.items():
        if session.scalar(select(Template).where(Template.code == key)) is None:
            session.add(Template(code=key, name=tpl.title_zh, version="1",
                                 rules={"indicators": [r.as_row() for r in tpl.rules]}))
    session.flush()
    code = content.DEMO_PERIOD
    for key in DEMO_SCORECARDS:
        tpl = content.TEMPLATES[key]
        for m in tpl.roster:
            if session.scalar(select(Employee).where(Employee.employee_id == m.employee_id)) \
                    is None:
                session.add(Employee(employee_id=m.employee_id, name=m.name,
                                     department=m.department, position=m.position,
                                     email=m.email, manager=m.manager))
        period = session.scalar(select(Period).where(Period.code == code,
                                                     Period.scorecard == key))
        if period is None:
            template = session.scalar(select(Template).where(Template.code == key))
            period = Period(code=code, scorecard=key,
                            history_key=history_key_for(session, code, key),
                            template=template, template_code=key,
                            state=PeriodState.OPEN.value, lang="zh",
                            rules=dict(template.rules) if template else {}, created_by="demo")
            session.add(period)
            session.flush()
        if not facts_for(session, period):
            hr = session.scalar(select(User).where(User.name == "hr"))
            store_facts(session, period, template_facts(key, code) or [],
                        fetched_by=f"simulator/{hr.name if hr else 'demo'}")
    return code


def prepare_demo_org(app: Flask, org: object) -> str:
    """The demo company has synced its roster from DingTalk before: the first run loads it
    (a proposal applied by "demo"; Feishu and WeCom learn who is who), then the simulated
    platforms move one manager, lose one, hire one and narrow the app's scope, and a sync
    proposes those changes to HR (the hourly schedule or Sync now on /admin/roster would)."""
    from server.db import session_scope
    from server.models import RosterChange
    from server.services import orgsync

    with session_scope(app) as session:
        loaded = session.scalar(select(RosterChange.id).where(
            RosterChange.created_by == "demo").limit(1))
    if loaded is None:
        today = dt.datetime.now(orgsync.COMPANY_TZ).date()
        for name in ("dingtalk", "feishu", "wecom"):
            with session_scope(app) as session:
                change = orgsync.sync_now(session, app.config, name, "demo")
                if change is not None:
                    orgsync.apply_roster_change(session, change.id, "demo",
                                                f"demo: roster loaded from {name}", today)
    org.things_happen()  # type: ignore[attr-defined]
    with session_scope(app) as session:  # what the hourly sync would find: HR's to review
        change = orgsync.sync_now(session, app.config, "dingtalk", "demo")
    waiting = f"roster change #{change.id} waits for HR" if change else "no roster change waits"
    return f"DingTalk/Feishu/WeCom simulated; {waiting}"


@click.command(help="Run the demo: migrate, demo users/tokens/period/facts, serve over HTTPS.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8443, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Prepare everything, print it, do not serve.")
def demo(host: str, port: int, no_serve: bool) -> None:
    from server import create_app
    from server.commands import run_server

    base = f"https://localhost:{port}" if host in ("127.0.0.1", "localhost", "0.0.0.0") \
        else f"https://{host}:{port}"
    # Simulated source systems (ERP, CRM, finance, DingTalk, Jira, GitLab, file drops) on
    # 127.0.0.1, one set per October scorecard (docs/sync.md "The demo"),
    # so that Pull data works on the first day; without a connectors file Pull would invent
    # facts for a new period.
    from sync.simulators.demo import DEMO_CONFIG, start_demo_sources

    app = create_app({"FACT_SOURCE": "simulator", "BASE_URL": base,
                      "SYNC_CONFIG": str(DEMO_CONFIG)})
    sources = start_demo_sources(Path(app.instance_path) / "demo_drop")
    from sync.simulators.demo import start_demo_org

    org = start_demo_org()
    info = setup_demo(app)
    org_note = prepare_demo_org(app, org)
    click.echo("kpibook demo")
    click.echo(f"  database:  {app.config['DATABASE_URL']}")
    click.echo(f"  period:    {info['period']} (template {DEMO_TEMPLATE}; Pull data reads the "
               f"simulated source systems)")
    click.echo("  tokens (shown once; paste one into the add-in's settings):")
    for name, role, display, _ in DEMO_USERS:
        click.echo(f"    {name:<9} {role:<10} {display}: {info['tokens'][name]}")
    click.echo(f"  web pages: {base}/login  (user / password, new each run)")
    for name, role, _display, _ in DEMO_USERS:
        secret = info["totp"].get(name)  # type: ignore[union-attr]
        click.echo(f"    {name:<9} {role:<10} {info['passwords'][name]}" +
                   (f"  TOTP secret {secret} (authenticator app: enter the key)" if secret
                    else ""))
    for path in info["workbooks"]:  # type: ignore[union-attr]
        click.echo(f"  workbook:  {path}")
    click.echo(f"  sources:   simulated ERP/CRM/finance/DingTalk/Jira/GitLab at {sources.url}, "
               f"file drops in {Path(app.instance_path) / 'demo_drop'} ({DEMO_CONFIG.name}); "
               f"`kpibook pull {info['period']} --config {DEMO_CONFIG}` from another shell "
               "needs the same KPIBOOK_DEMO_* variables")
    click.echo(f"  org sync:  {org_note}: {base}/admin/roster (hr); "
               f"`kpibook org sync --platform dingtalk --config {DEMO_CONFIG}` from another "
               "shell needs the same KPIBOOK_DEMO_* variables")
    click.echo(f"  platform sign-in: {base}/login shows DingTalk, Feishu, WeCom and Group SSO "
               "(simulated on 127.0.0.1: choose who scans); 周建国 -> gm, 孙丽华 -> auditor, "
               "赵敏 -> M1004 (docs/signin.md)")
    click.echo(f"  cards:     approvals, results and appeal answers go to each person's "
               f"DingTalk / Feishu / WeCom ([[notify]] in {DEMO_CONFIG.name}); see them at "
               f"{org.dingtalk.url}/_sim/cards, {org.feishu.url}/_sim/cards, "
               f"{org.wecom.url}/_sim/cards; failures and retries: {base}/admin/notifications")
    click.echo(f"  manifest:  {base}/addin/manifest.xml")
    click.echo("  sideload:  Excel on the web: Insert > Add-ins > Upload My Add-in > the manifest;"
               "\n             Windows: put the manifest in a shared-folder catalogue (Trust "
               "Center);\n             Mac: copy it to ~/Library/Containers/com.microsoft.Excel/"
               "Data/Documents/wef/")
    click.echo("  headless:  kpibook xl score WORKBOOK.xlsx --server "
               f"{base} --token <token> --insecure")
    click.echo("  The certificate is self-signed: open the manifest URL once in a browser and "
               "trust it (docs/server.md).")
    try:
        if not no_serve:
            from server.services.orgsync import start_org_scheduler

            start_org_scheduler(app)  # the hourly DingTalk org sync of the demo
            from server.services.schedule import start_pull_scheduler

            start_pull_scheduler(app)  # the demo connectors' scheduled pulls
            from server.services.cards import start_notify_scheduler

            start_notify_scheduler(app)  # notification retries and the daily reminder
            run_server(app, host, port)
    finally:
        org.stop()
        sources.stop()
