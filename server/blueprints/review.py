"""Review pages over the git history of adjustments (docs/review.md).

    GET  /review                                   periods, links to their review pages
    GET  /review/me                                a manager: their published periods
    GET  /review/<code>                            progress dashboard + department charts
    GET  /review/<code>/timeline                   versions (who, when, what, why), filters, pages
    GET  /review/<code>/diff?a=&b=                 changed cells between two versions
    GET  /review/<code>/submission?commit=         one version: its cells, review, revert
    GET  /review/<code>/cell/<employee_id>?indicator=   one cell's history ("blame")
    GET  /review/<code>/people/<employee_id>       a manager's page (total, lines, adjustments,
                                                   trend); /print: printable result sheet
    GET  /review/<code>/chart.svg?department=      a department's score distribution
    GET  /review/<code>/people/<employee_id>/trend.svg
    GET  /review/<code>/export/diff?a=&b=&format=csv|xlsx      (csv by default)
    GET  /review/<code>/export/history?<filters>&format=csv|xlsx
    POST /review/<code>/revert                     revert a submission (reason required)
    POST /review/<code>/decide                     approve / send back a submission

Every view declares its policy; data-level checks (department scope, own result once
published) are made in the view or in review_data before anything is read.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import Blueprint, Response, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server import auth, charts, display, exports, guards, policy, workflow
from server.blueprints import lookups
from server.blueprints import review_data as rd
from server.db import get_session
from server.models import Period, PeriodState, Role, SourceFact, User
from server.scoring.messages import both, message, msg, word
from server.services import feedback
from server.services.adjust import revert_points
from server.services.errors import BadRequest, Conflict, Forbidden, NotFound
from server.services.history import editor_of, history_for
from server.web import back, columns, lang, say_msg, timezone

bp = Blueprint("review", __name__, template_folder="templates")
bp.url_value_preprocessor(lookups.period_code_in_url)

PUBLISHED = lookups.PUBLISHED
# while submissions may still be approved or sent back one by one
OPEN_REVIEW = (PeriodState.DRAFT, PeriodState.COLLECTING, PeriodState.SCORED,
               PeriodState.IN_REVIEW)


def _viewer() -> rd.Viewer:
    return rd.Viewer.load(get_session(), auth.current_user())


def _context(code: str) -> tuple[Session, rd.Viewer, Period]:
    """The session, the viewer and the period of a review page."""
    db = get_session()
    viewer = _viewer()
    return db, viewer, lookups.period(db, code)


def _person_context(code: str, employee_id: str) -> tuple[Session, rd.Viewer, Period]:
    """As _context, once the viewer may read employee_id's result in the period."""
    db, viewer, period = _context(code)
    _require(viewer, "result.view", employee_id)
    _own_published(viewer, period)
    return db, viewer, period


def _arg(name: str, limit: int = 100) -> str | None:
    value = (request.args.get(name) or "").strip()
    return value[:limit] or None


def _require(viewer: rd.Viewer, action: str, employee_id: str) -> None:
    policy.require(viewer.user, action, viewer.subject(employee_id), lang())


def _own_published(viewer: rd.Viewer, period: Period) -> None:
    """Managers see their own result only once it is published."""
    if viewer.user.role == Role.EMPLOYEE.value and period.state not in PUBLISHED:
        raise NotFound(both("line.not_published", period=period.code))


# --- lists ----------------------------------------------------------------------------------


@bp.get("/review")
@guards.web("period.view")
def index() -> str:
    db = get_session()
    periods = db.scalars(select(Period).order_by(Period.code.desc())).all()
    return render_template("review/index.html", periods=periods)


@bp.get("/review/me")
@guards.web("feedback.respond")
def mine() -> str:
    user = auth.current_user()
    db = get_session()
    periods = lookups.published_periods(db)
    runs = rd.latest_data(db, periods)
    rows = []
    for p in periods:
        total = runs[p.id].total_of.get(user.employee_id) if p.id in runs else None
        if total is not None:
            rows.append((p, total))
    return render_template("review/mine.html", rows=rows)


# --- dashboard ------------------------------------------------------------------------------


@bp.get("/review/<code>")
@guards.web("period.view")
def dashboard(code: str) -> str:
    db, viewer, period = _context(code)
    history = history_for()
    run = feedback.latest_run_light(db, period)
    data = feedback.run_data(db, run)
    totals = [x for x in (data.totals if data else ()) if viewer.sees(x["employee_id"])]
    by_dept: dict[str, list[Decimal]] = {}
    for x in totals:
        value = rd.dec(x.get("total"))
        dept = viewer.departments.get(x["employee_id"]) or msg("review.no_department", lang())
        by_dept.setdefault(dept, [])
        if value is not None:
            by_dept[dept].append(value)
    # one axis for every department, so that charts side by side compare
    low, high = charts.axis_range([v for vs in by_dept.values() for v in vs])
    distributions = [(d, charts.distribution(v, title=d, low=low, high=high), _stats(v))
                     for d, v in sorted(by_dept.items())]
    sources = _sources(db, period) if policy.can(viewer.user, "facts.view") else None
    from server.services.pull import pull_status

    pull = pull_status(period.history_key) if sources is not None else None
    in_roster = sum(1 for e in viewer.departments if viewer.sees(e))
    pending = _pending(db, history, viewer, period)
    return render_template(
        "review/dashboard.html", period=period, run=run, totals=totals,
        distributions=distributions, sources=sources, pull=pull, in_roster=in_roster,
        pending=pending, head=history.head(), waiting=workflow.waiting_for(db, period),
        order=workflow.ORDER, scoped=viewer.scope is not None)


def _stats(values: list[Decimal]) -> dict[str, object]:
    if not values:
        return {"n": 0}
    s = sorted(values)
    mid = len(s) // 2
    median = s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2
    return {"n": len(s), "min": s[0], "max": s[-1], "median": median,
            "mean": sum(s) / len(s)}  # rounded where shown (half away from zero)


def _sources(db, period: Period) -> list[dict[str, object]]:
    """Facts per source system: how many, how many stale (last pull failed), last fetch."""
    rows = db.execute(
        select(SourceFact.source, SourceFact.stale, func.count(),
               func.max(SourceFact.fetched_at))
        .where(SourceFact.period_id == period.id)
        .group_by(SourceFact.source, SourceFact.stale)).all()
    out: dict[str, dict[str, object]] = {}
    for source, stale, n, last in rows:
        row = out.setdefault(source, {"source": source, "facts": 0, "stale": 0, "last": None})
        row["facts"] += n  # type: ignore[operator]
        if stale:
            row["stale"] += n  # type: ignore[operator]
        if last and (row["last"] is None or last > row["last"]):  # type: ignore[operator]
            row["last"] = last
    return sorted(out.values(), key=lambda r: str(r["source"]))


def _pending(db, history, viewer: rd.Viewer, period: Period) -> dict[str, object]:
    """Submissions not yet reviewed, per executive who may approve them."""
    if period.state not in OPEN_REVIEW:
        return {"open": False, "count": 0, "approvers": [], "entries": []}
    decided = rd.reviews(history, period.history_key)
    # a reverted submission waits for nobody (its revert is a submission of its own)
    reverted = {info.reverts[:12] for info in history.timeline(period.history_key, kind="revert",
                                                               limit=500) if info.reverts}
    entries = []
    for info in history.timeline(period.history_key, kind="adjustment", limit=500):
        if info.commit[:12] in decided or info.commit[:12] in reverted:
            continue
        entry = rd._visible_entry(viewer, info)
        if entry is not None:
            entries.append(entry)
    approvers: list[tuple[User, int]] = []
    uncovered = 0
    if viewer.scope is None:
        executives = db.scalars(select(User).where(User.role == Role.EXECUTIVE.value,
                                                   User.active.is_(True))
                                .order_by(User.name)).all()
        counts = dict.fromkeys(range(len(executives)), 0)
        for e in entries:
            any_one = False
            for i, u in enumerate(executives):
                if editor_of(u).email.casefold() == e.info.author.email.casefold():
                    continue  # nobody approves their own submission
                if all(policy.visible(u, c.employee_id, viewer.departments.get(c.employee_id))
                       for c in e.info.cells):
                    counts[i] += 1
                    any_one = True
            uncovered += 0 if any_one else 1
        approvers = [(u, counts[i]) for i, u in enumerate(executives)]
    return {"open": True, "count": len(entries), "approvers": approvers,
            "uncovered": uncovered, "entries": entries[:10]}


# --- timeline, diff, submission, cell -------------------------------------------------------


@bp.get("/review/<code>/timeline")
@guards.web("period.view")
def timeline(code: str) -> str:
    db, viewer, period = _context(code)
    history = history_for()
    try:
        page_no = int(request.args.get("page", "1"))
    except ValueError:
        page_no = 1
    kind = _arg("kind")
    if kind is not None and kind not in (*rd.CELL_KINDS, *rd.PERIOD_KINDS):
        kind = None
    page = rd.timeline(history, viewer, period.history_key, **_filters(), kind=kind, page=page_no)
    decided = rd.reviews(history, period.history_key)
    for e in page.entries:
        _annotate(history, period, e, decided)
    return render_template("review/timeline.html", period=period, page=page,
                           viewer=viewer, head=history.head(), kinds=(*rd.CELL_KINDS,
                                                                      *rd.PERIOD_KINDS))


@bp.get("/review/<code>/diff")
@guards.web("period.view")
def diff(code: str) -> str:
    db, viewer, period = _context(code)
    history = history_for()
    a, b = _versions(history)
    view = rd.diff(history, viewer, period.history_key, a, b) if b else None
    infos = {}
    for sha in (a, b):
        if sha:
            infos[sha] = _info(history, period, sha)
    return render_template("review/diff.html", period=period, view=view, a=a, b=b,
                           infos=infos, viewer=viewer, limit=rd.MAX_DIFF_ROWS)


def _annotate(history, period: Period, entry: rd.Entry, decided: dict) -> None:
    """The entry's review (approved / sent back), and a status commit's reason."""
    entry.review = decided.get(entry.commit[:12])
    if entry.kind in (rd.Kind.APPROVAL.value, rd.Kind.REOPEN.value):
        entry.note = rd._strip_prefix(str(history.status(period.history_key, entry.commit)
                                          .get("reason", "")))


def _filters() -> dict[str, str | None]:
    """The timeline's filters from the query string."""
    return {"employee": _arg("employee"), "department": _arg("department", 200),
            "indicator": _arg("indicator"), "editor": _arg("editor", 200)}


def _versions(history) -> tuple[str | None, str | None]:
    """(a, b) from ?a=&b=; b defaults to the head, a to b's parent (the last change)."""
    b = rd.check_sha(request.args.get("b"), "b") or history.head()
    a = rd.check_sha(request.args.get("a"), "a")
    if b and not a and "a" not in request.args:
        try:
            a = history.commit_info(b).parent
        except Exception as exc:  # noqa: BLE001 - an unknown id
            raise NotFound(both("review.no_version")) from exc
    return a, b


def _info(history, period: Period, sha: str) -> rd.CommitInfo:
    try:
        info = history.commit_info(sha)
    except Exception as exc:  # noqa: BLE001 - git names an unknown id in its own words
        raise NotFound(both("review.no_version")) from exc
    if info.period and info.period != period.code:
        raise NotFound(both("review.other_period"))
    return info


def _chosen(history, period: Period, commit: str | None) -> rd.CommitInfo:
    """The version named by a ?commit= or a form's commit field."""
    sha = rd.check_sha(commit)
    if sha is None:
        raise BadRequest(both("review.choose_version"))
    return _info(history, period, sha)


@bp.get("/review/<code>/submission")
@guards.web("period.view")
def submission(code: str) -> str:
    db, viewer, period = _context(code)
    history = history_for()
    info = _chosen(history, period, request.args.get("commit"))
    entry = rd._visible_entry(viewer, info)
    if entry is None:
        # every cell belongs to departments the viewer may not read
        raise Forbidden(msg("review.other_department", lang()))
    _annotate(history, period, entry, rd.reviews(history, period.history_key))
    user = viewer.user
    cells_ok = not entry.hidden
    may_revert = (entry.kind in rd.CELL_KINDS and cells_ok
                  and period.state in workflow.ALLOWED_IN["adjust"]
                  and policy.can(user, "adjustment.make")
                  and not policy.change_refusals(db, user, period, revert_points(entry.cells),
                                                 lang()))
    open_review = period.state in OPEN_REVIEW
    may_approve = (entry.kind in rd.CELL_KINDS and cells_ok and open_review
                   and not policy.submission_review_refusals(
                       user, "approve", _authored(db, user, entry.info), lang()))
    may_return = (entry.kind in rd.CELL_KINDS and cells_ok and open_review
                  and policy.can(user, "adjustment.review"))
    return render_template("review/submission.html", period=period, entry=entry,
                           viewer=viewer, may_revert=may_revert, may_approve=may_approve,
                           may_return=may_return, head=history.head())


@bp.get("/review/<code>/cell/<employee_id>")
@guards.web("result.view")
def cell(code: str, employee_id: str) -> str:
    db, viewer, period = _person_context(code, employee_id)
    history = history_for()
    indicator = _arg("indicator")
    data = feedback.run_data(db, feedback.latest_run_light(db, period))
    indicators = sorted({ln["indicator"] for ln in (data.lines_of.get(employee_id, ())
                                                    if data else ())})
    if indicator is None and indicators:
        indicator = indicators[0]
    versions = list(reversed(history.cell_history(period.history_key, employee_id, indicator)))\
        if indicator else []
    from server.services.line_detail import last_pulled, line_facts

    pulled = last_pulled(line_facts(db, period.id, employee_id, indicator), lang(),
                         timezone()) if indicator else ""
    return render_template("review/cell.html", period=period, employee_id=employee_id,
                           name=viewer.name(employee_id), indicator=indicator,
                           indicators=indicators, versions=versions, viewer=viewer,
                           staff=viewer.user.role != Role.EMPLOYEE.value, pulled=pulled)


# --- a manager's page -----------------------------------------------------------------------


def _person(employee_id: str, code: str) -> dict[str, object]:
    db, viewer, period = _person_context(code, employee_id)
    view = lookups.latest_result(db, period, employee_id)
    history = history_for()
    changes = []
    for info in history.timeline(period.history_key, employee=employee_id, limit=200):
        for c in info.cells:
            if c.employee_id == employee_id:
                changes.append((info, c))
    trend = _trend(db, viewer, employee_id)
    breakdown = [(f"{ln['indicator']} {ln.get('name') or ''}".strip(),
                  rd.dec(ln.get("points")) or Decimal(0)) for ln in view.lines]
    return {"view": view, "period": period, "changes": changes, "trend": trend,
            "trend_svg": charts.line(trend, title=msg("chart.trend", lang())),
            "breakdown_svg": charts.bars(breakdown, title=msg("chart.breakdown", lang())),
            "staff": viewer.user.role != Role.EMPLOYEE.value}


def _trend(db, viewer: rd.Viewer, employee_id: str) -> list[tuple[str, Decimal | None]]:
    stmt = select(Period).order_by(Period.code)
    if viewer.user.role == Role.EMPLOYEE.value:
        stmt = stmt.where(Period.state.in_(PUBLISHED))
    periods = db.scalars(stmt).all()
    runs = rd.latest_data(db, periods)
    out = []
    for p in periods:
        total = runs[p.id].total_of.get(employee_id) if p.id in runs else None
        if total is not None:
            out.append((p.code, rd.dec(total.get("total"))))
    return out[-12:]


@bp.get("/review/<code>/people/<employee_id>")
@guards.web("result.view")
def person(code: str, employee_id: str) -> str:
    return render_template("review/person.html", **_person(employee_id, code))


@bp.get("/review/<code>/people/<employee_id>/print")
@guards.web("result.view")
def person_print(code: str, employee_id: str) -> str:
    return render_template("review/print.html", printed=dt.datetime.now(dt.UTC),
                           **_person(employee_id, code))


@bp.get("/review/<code>/people/<employee_id>/trend.svg")
@guards.web("result.view")
def trend_svg(code: str, employee_id: str) -> Response:
    db, viewer, period = _person_context(code, employee_id)
    svg = charts.line(_trend(db, viewer, employee_id), title=msg("chart.trend", lang()))
    return _svg(svg)


@bp.get("/review/<code>/chart.svg")
@guards.web("period.view")
def chart(code: str) -> Response:
    """One department's score distribution (all visible departments without ?department=)."""
    db, viewer, period = _context(code)
    department = _arg("department", 200)
    if department is not None and viewer.scope is not None and department not in viewer.scope:
        policy.require(viewer.user, "result.view", policy.Subject("", department), lang())
    data = feedback.run_data(db, feedback.latest_run_light(db, period))
    visible = [x for x in (data.totals if data else ()) if viewer.sees(x["employee_id"])]
    # the dashboard's axis: every visible department's
    low, high = charts.axis_range([rd.dec(x.get("total")) for x in visible])
    values = [rd.dec(x.get("total")) for x in visible
              if department is None or viewer.departments.get(x["employee_id"]) == department]
    title = department or msg("chart.all_departments", lang())
    return _svg(charts.distribution([v for v in values if v is not None], title=title,
                                    low=low, high=high))


def _svg(svg) -> Response:
    return Response(charts.standalone(svg), content_type="image/svg+xml; charset=utf-8",
                    headers={"Cache-Control": "no-store",
                             "Content-Security-Policy": "default-src 'none'; style-src "
                                                        "'unsafe-inline'; frame-ancestors 'none'"})


# --- exports ----------------------------------------------------------------------------------


def _diff_tables(code: str) -> tuple[str, list[exports.Table]]:
    db, viewer, period = _context(code)
    history = history_for()
    a, b = _versions(history)
    view = rd.diff(history, viewer, period.history_key, a, b) if b else None
    cells = exports.Table(msg("sheet.changed_cells", lang()), [
        *columns("employee_id", "name", "department", "indicator", "old_points", "old_reason",
                 "new_points", "reason", "changed_by"),
        _when_header(), *columns("submission")], [
        [c.employee_id, viewer.name(c.employee_id), viewer.departments.get(c.employee_id),
         c.indicator, c.old.points if c.old else None, c.old.reason if c.old else None,
         c.new.points if c.new else None, c.reason,
         c.changed_by.editor.name if c.changed_by else None,
         _stamp(c.changed_by.when) if c.changed_by else None,
         c.changed_by.submission_id if c.changed_by else None]
        for c in (view.cells if view else [])])
    totals = exports.Table(msg("sheet.totals", lang()), columns(
        "employee_id", "name", "old_total", "new_total", "change", "old_rank", "new_rank",
        "rank_change"), [
        [x.employee_id, viewer.name(x.employee_id), x.old.total if x.old else None,
         x.new.total if x.new else None, x.total_delta, x.old.rank if x.old else None,
         x.new.rank if x.new else None, x.rank_delta] for x in (view.totals if view else [])])
    name = f"kpibook-{exports.filename(code)}-diff-{(a or 'empty')[:10]}-{(b or 'empty')[:10]}"
    return name, [cells, totals]


def _history_table(code: str) -> tuple[str, exports.Table]:
    db, viewer, period = _context(code)
    history = history_for()
    page = rd.timeline(history, viewer, period.history_key, **_filters(), kind=_arg("kind"),
                       size=rd.EXPORT_LIMIT)
    rows = []
    for e in page.entries:
        base = [_stamp(e.info.when), e.info.author.name,
                e.info.author.email, e.kind, e.info.submission_id, e.info.commit]
        if not e.cells:
            rows.append([*base, None, None, None, None, None, None, None])
        for c in e.cells:
            rows.append([*base, c.employee_id, viewer.name(c.employee_id),
                         viewer.departments.get(c.employee_id), c.indicator, c.old, c.new,
                         c.reason])
    table = exports.Table(msg("sheet.history", lang()), [
        _when_header(), *columns("by", "email", "kind", "submission", "version", "employee_id",
                                 "name", "department", "indicator", "old", "new", "reason")],
        rows)
    return f"kpibook-{exports.filename(code)}-history", table


def _stamp(when: dt.datetime) -> str:
    """An export's time: the company's time zone, to the second (the header names the zone)."""
    return display.local_time(when, timezone(), seconds=True)


def _when(when: dt.datetime) -> str:
    """A time in a message: the company's time zone, named."""
    return f"{display.local_time(when, timezone())} ({timezone()})"


def _when_header() -> str:
    return msg("column.when", lang(), zone=timezone())


def _export(name: str, tables: list[exports.Table]) -> Response:
    """?format=xlsx: every table, one sheet each; csv: the first table."""
    if _format() == "xlsx":
        data, name, content_type = exports.to_xlsx(tables), name + ".xlsx", exports.XLSX_TYPE
    else:
        data, name, content_type = exports.to_csv(tables[0]), name + ".csv", exports.CSV_TYPE
    return Response(data, content_type=content_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


def _format() -> str:
    """?format=xlsx or csv (the default: plain text, also what a bare link gives)."""
    fmt = (request.args.get("format") or "csv").lower()
    if fmt not in ("csv", "xlsx"):
        raise BadRequest(both("web.format"))
    return fmt


@bp.get("/review/<code>/export/diff")
@guards.web("result.export")
def export_diff(code: str) -> Response:
    return _export(*_diff_tables(code))


@bp.get("/review/<code>/export/history")
@guards.web("result.export")
def export_history(code: str) -> Response:
    name, table = _history_table(code)
    return _export(name, [table])


# --- writes -----------------------------------------------------------------------------------


def _form_commit(history, period: Period, viewer: rd.Viewer) -> rd.Entry:
    info = _chosen(history, period, request.form.get("commit"))
    if info.kind not in rd.CELL_KINDS or not info.cells:
        raise BadRequest(both("review.no_adjustments"))
    for c in info.cells:
        _require(viewer, "result.view", c.employee_id)
    entry = rd._visible_entry(viewer, info)
    assert entry is not None and not entry.hidden
    return entry


@bp.post("/review/<code>/revert")
@guards.web("adjustment.make")
def revert(code: str) -> Response:
    db, viewer, period = _context(code)
    history = history_for()
    reason = (request.form.get("reason") or "").strip()
    if not reason:
        raise BadRequest(both("review.revert_needs_reason"))
    entry = _form_commit(history, period, viewer)
    workflow.require_allowed(period, "adjust", lang())
    # authority: the service's one check (policy.change_refusals) on every restored cell
    from server.services.adjust import revert_submission

    outcome = revert_submission(db, period, entry.commit, viewer.user, reason, lang())
    conflicts = [r for r in outcome.reports.values() if r.state == "conflict"]
    if outcome.commit is None and conflicts:
        db.rollback()
        raise Conflict(msg("revert.changed_since", lang(),
                           cells=", ".join(f"{r.key[0]} {r.key[1]}" for r in conflicts)))
    db.commit()  # the service moved an approved period back to review, with the reason
    if conflicts:
        say_msg("review.partly_reverted", "info", n=len(conflicts))
    else:
        say_msg("review.reverted", version=entry.short)
    return back("review.submission", code=code, commit=outcome.commit or entry.commit)


@bp.post("/review/<code>/decide")
@guards.web("adjustment.review")
def decide(code: str) -> Response:
    db, viewer, period = _context(code)
    history = history_for()
    decision = request.form.get("decision", "")
    if decision not in ("approve", "return"):
        raise BadRequest(both("review.unknown_decision"))
    reason = (request.form.get("reason") or "").strip()
    if decision == "return" and not reason:
        raise BadRequest(both("review.return_needs_reason"))
    entry = _form_commit(history, period, viewer)
    refused = policy.submission_review_refusals(
        viewer.user, decision, _authored(db, viewer.user, entry.info), lang())
    if refused:
        raise Forbidden(msg("review.refusals", lang(),
                            reasons=msg("glue.clauses", lang()).join(refused)))
    if period.state not in OPEN_REVIEW:
        raise Conflict(msg("review.closed_to_review", lang(),
                           state=workflow.state_word(period.state, lang())))
    earlier = rd.reviews(history, period.history_key).get(entry.commit[:12])
    if earlier is not None and earlier.decision == decision:
        # the same decision again (a second click, a resent form): nothing new to record
        say_msg("review.already_decided", "info", version=entry.short, by=earlier.by,
                when=_when(earlier.when), done=message(f"review.done.{decision}"))
        return back("review.submission", code=code, commit=entry.commit)
    sid = rd.review_id(decision, entry.commit)
    commit = rd.record_review(history, period.history_key, entry.commit, decision,
                              reason or msg("review.done.approve", lang()),
                              editor_of(viewer.user), sid)
    if commit is not None:
        # git first, then the database row keyed by the Submission-Id (docs/history.md)
        from server.services.history_record import record_commit

        record_commit(db, period, history.commit_info(commit), rd.Kind.APPROVAL.value, sid,
                      viewer.user.name, viewer.user.id)
        db.commit()
    if decision == "approve":
        say_msg("review.approved", version=entry.short)
    else:
        say_msg("review.sent_back", version=entry.short)
    return back("review.submission", code=code, commit=entry.commit)


def _authored(db: Session, user: User, info) -> bool:
    """Whether `user` authored the submission: its git author is theirs, or its cells'
    Adjustment rows name them."""
    from server.models import Adjustment

    mine = editor_of(user)
    if info.author is not None and info.author.email.casefold() == mine.email.casefold():
        return True
    return db.scalar(select(Adjustment.id).where(Adjustment.commit == info.commit,
                                                 Adjustment.author_id == user.id)
                     .limit(1)) is not None


def link_to_version(code: str, commit: str) -> str:
    return url_for("review.submission", code=code, commit=commit)


# --- template helpers -------------------------------------------------------------------------


@bp.app_context_processor
def _review_globals() -> dict[str, object]:
    return {"kind_word": _kind_word, "decision_word": _decision_word}


KIND_WORDS = {
    "adjustment": ("调整", "adjustment"), "revert": ("撤销", "revert"),
    "baseline": ("基线得分", "baseline scores"), "rescore": ("重新计算", "re-score"),
    "approval": ("审批", "approval"), "reopen": ("重新打开", "reopen"),
}


def _kind_word(kind: str) -> str:
    return word(KIND_WORDS.get(kind, (kind, kind)), lang())


def _decision_word(decision: str) -> str:
    return msg("review.decision.approve" if decision == "approve" else "review.decision.return",
               lang())
