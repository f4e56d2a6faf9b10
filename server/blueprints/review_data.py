"""What the review pages show, read from the git history and filtered by the policy.

Every function takes the viewer (`Viewer`) and returns only what `policy.visible` lets them
read: a department head gets their departments' cells of a commit, never the others (nor
the commit's subject line, which names employees); lists are filtered before they are
paged or counted. Departments come from the roster in force (the `employees` table), like
everywhere else on the server; people unknown to the roster are visible to "all departments"
viewers only.

Per-submission review (approve / send back) is recorded in git as a `Kind: approval` commit
whose Submission-Id is ``review-<approve|return>-<commit[:12]>-<random>``; it rewrites the
period's state.json with the *same* status (who and why change), so the period's own
approval state is untouched (docs/review.md explains how it relates to the workflow).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from server import policy
from server.ledger import CellChange, CommitInfo, DiffResult, History, Kind
from server.models import Employee, Period, ScoreRun, User
from server.scoring.messages import both
from server.services.errors import BadRequest
from server.services.feedback import RunData, run_data

PAGE_SIZE = 50
MAX_DIFF_ROWS = 500  # rows of one table on the diff page (the exports have all)
EXPORT_LIMIT = 20_000  # history entries in one export
REVIEW_PREFIX = "review-"
_SHA = re.compile(r"^[0-9a-f]{7,40}$")
CELL_KINDS = (Kind.ADJUSTMENT.value, Kind.REVERT.value)
PERIOD_KINDS = (Kind.BASELINE.value, Kind.RESCORE.value, Kind.APPROVAL.value,
                Kind.REOPEN.value)


def check_sha(text: str | None, what: str = "commit") -> str | None:
    text = (text or "").strip().lower()
    if not text:
        return None
    if not _SHA.match(text):
        raise BadRequest(both("review.bad_version_id", what=what))
    return text


@dataclass
class Viewer:
    """The signed-in user with the roster, deciding what they may read."""

    user: User
    departments: dict[str, str]  # employee_id -> department (roster)
    names: dict[str, str]  # employee_id -> name

    @classmethod
    def load(cls, db: Session, user: User) -> Viewer:
        rows = db.execute(select(Employee.employee_id, Employee.department, Employee.name)).all()
        return cls(user, {e: d for e, d, _ in rows}, {e: n for e, _, n in rows})

    @property
    def scope(self) -> frozenset[str] | None:
        return policy.department_scope(self.user)

    def sees(self, employee_id: str) -> bool:
        return policy.visible(self.user, employee_id, self.departments.get(employee_id))

    def subject(self, employee_id: str) -> policy.Subject:
        return policy.Subject(employee_id, self.departments.get(employee_id))

    def department_options(self) -> list[str]:
        scope = self.scope
        every = sorted({d for d in self.departments.values() if d})
        return every if scope is None else [d for d in every if d in scope]

    def name(self, employee_id: str) -> str:
        return self.names.get(employee_id, "")


# --- timeline --------------------------------------------------------------------------------


@dataclass
class Entry:
    """One version of the period as a viewer may see it."""

    info: CommitInfo
    cells: list[CellChange]  # the visible cells only
    hidden: bool  # some cells were left out (other departments)
    review: Review | None = None
    note: str = ""  # status commits: the reason in state.json

    @property
    def commit(self) -> str:
        return self.info.commit

    @property
    def short(self) -> str:
        return self.info.commit[:10]

    @property
    def kind(self) -> str:
        return self.info.kind

    @property
    def is_review(self) -> bool:
        return self.info.submission_id.startswith(REVIEW_PREFIX)

    @property
    def points_delta(self) -> Decimal:
        return sum(((c.new or 0) - (c.old or 0) for c in self.cells), Decimal(0))


@dataclass
class Review:
    decision: str  # approve | return
    by: str
    when: dt.datetime
    reason: str
    commit: str  # the review commit


def _visible_entry(viewer: Viewer, info: CommitInfo) -> Entry | None:
    if not info.cells:
        # baseline, re-score, approval, reopen: period-level, no per-person data
        return Entry(info, [], False)
    cells = [c for c in info.cells if viewer.sees(c.employee_id)]
    if not cells:
        return None
    return Entry(info, cells, len(cells) != len(info.cells))


@dataclass
class TimelinePage:
    entries: list[Entry]
    page: int
    has_next: bool
    filters: dict[str, str] = field(default_factory=dict)


def timeline(history: History, viewer: Viewer, period: str, *, employee: str | None = None,
             department: str | None = None, indicator: str | None = None,
             editor: str | None = None, kind: str | None = None, page: int = 1,
             size: int | None = None) -> TimelinePage:
    """A page of the period's versions, newest first, with what the viewer may see.

    Viewers limited to some departments read the library's department timelines (git walks
    only those employees' files) merged with the period-level commits (scores, approvals);
    asking for another department or person is refused (403) before anything is read."""
    page = max(1, page)
    size = size or PAGE_SIZE
    skip = (page - 1) * size
    want = skip + size + 1
    filters = {k: v for k, v in (("employee", employee), ("department", department),
                                 ("indicator", indicator), ("editor", editor),
                                 ("kind", kind)) if v}
    if employee is not None:
        policy.require(viewer.user, "result.view", viewer.subject(employee))
    scope = viewer.scope
    if department is not None and scope is not None and department not in scope:
        policy.require(viewer.user, "result.view", policy.Subject("", department))
    common = {"indicator": indicator, "editor": editor, "kind": kind}
    if scope is None or employee is not None or department is not None:
        found = history.timeline(period, employee=employee, department=department,
                                 limit=want, **common)
    else:
        lists = [history.timeline(period, department=d, limit=want, **common)
                 for d in sorted(scope)]
        if indicator is None and kind in (None, *PERIOD_KINDS):
            # scores and status commits: the library's per-process index, not one walk of
            # the whole history per kind (2.5 s a page at 20,000 commits)
            lists.append([i for i in history.period_commits(period)
                          if kind in (None, i.kind)
                          and editor in (None, i.author.name, i.author.email)][:want])
        found = _merge(lists)
    entries = [e for e in (_visible_entry(viewer, i) for i in found) if e is not None]
    window = entries[skip:skip + size]
    return TimelinePage(window, page, len(entries) > skip + size, filters)


def _merge(lists: list[list[CommitInfo]]) -> list[CommitInfo]:
    """Newest first, each commit once (the history is linear; equal times keep git order)."""
    seen: set[str] = set()
    out: list[tuple[dt.datetime, int, int, CommitInfo]] = []
    for li, infos in enumerate(lists):
        for pos, info in enumerate(infos):
            if info.commit not in seen:
                seen.add(info.commit)
                out.append((info.when, -li, -pos, info))
    out.sort(key=lambda x: (x[0], x[2]), reverse=True)
    return [x[3] for x in out]


# --- per-submission review ---------------------------------------------------------------------


def review_id(decision: str, commit: str) -> str:
    return f"{REVIEW_PREFIX}{decision}-{commit[:12]}-{uuid.uuid4().hex[:8]}"


def reviews(history: History, period: str, limit: int = 500) -> dict[str, Review]:
    """commit[:12] -> the latest review decision of that submission."""
    out: dict[str, Review] = {}
    for info in history.timeline(period, kind=Kind.APPROVAL.value, limit=limit):
        sid = info.submission_id
        if not sid.startswith(REVIEW_PREFIX):
            continue
        parts = sid[len(REVIEW_PREFIX):].split("-")
        if len(parts) < 2 or parts[0] not in ("approve", "return"):
            continue
        target = parts[1]
        if target in out:
            continue  # newest first: the first seen is the latest decision
        state = history.status(period, info.commit)
        out[target] = Review(parts[0], info.author.name, info.when,
                             _strip_prefix(str(state.get("reason", ""))), info.commit)
    return out


def _strip_prefix(reason: str) -> str:
    # stored as "<decision> <commit12>: <reason>" so each decision is a change of state.json
    head, sep, rest = reason.partition(": ")
    return rest if sep and re.match(r"^\S+ [0-9a-f]{12}$", head) else reason


def record_review(history: History, period: str, commit: str, decision: str, reason: str,
                  editor, submission_id: str | None = None) -> str | None:
    """Write the decision as an approval commit (period status unchanged)."""
    status = str(history.status(period).get("status") or "open")
    text = f"{decision} {commit[:12]}: {reason}".strip()
    return history.set_status(period, status, editor, text,
                              submission_id or review_id(decision, commit),
                              kind=Kind.APPROVAL)


# --- diff ---------------------------------------------------------------------------------------


@dataclass
class DiffView:
    a: str | None
    b: str | None
    cells: list  # CellDiff, visible only
    scores: list  # ScoreDiff, visible only
    totals: list  # TotalDiff, visible only
    per_employee: list[tuple[str, Decimal, int]]  # (employee, adjustment delta, cells)
    points_up: Decimal = Decimal(0)
    points_down: Decimal = Decimal(0)

    @property
    def employees(self) -> int:
        return len({c.employee_id for c in self.cells} | {t.employee_id for t in self.totals})

    @property
    def rank_moves(self) -> list:
        return [t for t in self.totals if t.rank_delta]


def diff(history: History, viewer: Viewer, period: str, a: str | None, b: str | None
         ) -> DiffView:
    result: DiffResult = history.diff(period, a, b)
    cells = [c for c in result.cells if viewer.sees(c.employee_id)]
    scores = [s for s in result.scores if viewer.sees(s.employee_id)]
    totals = [t for t in result.totals if viewer.sees(t.employee_id)]
    per: dict[str, list] = {}
    up = down = Decimal(0)
    for c in cells:
        delta = (c.new.points if c.new else 0) - (c.old.points if c.old else 0)
        row = per.setdefault(c.employee_id, [Decimal(0), 0])
        row[0] += delta
        row[1] += 1
        if delta > 0:
            up += delta
        else:
            down += delta
    return DiffView(a, b, cells, scores, totals,
                    [(e, v[0], v[1]) for e, v in sorted(per.items())], up, down)


# --- period facts for the dashboard and the manager page -------------------------------------


def latest_data(db: Session, periods: Iterable[Period]) -> dict[int, RunData]:
    """period id -> the totals and lines of its latest run (decoded once per process)."""
    ids = [p.id for p in periods]
    if not ids:
        return {}
    last = (select(ScoreRun.period_id, func.max(ScoreRun.run_no).label("run_no"))
            .where(ScoreRun.period_id.in_(ids)).group_by(ScoreRun.period_id).subquery())
    runs = db.scalars(select(ScoreRun).options(defer(ScoreRun.lines), defer(ScoreRun.totals))
                      .join(last, (ScoreRun.period_id == last.c.period_id)
                            & (ScoreRun.run_no == last.c.run_no)))
    out = {}
    for run in runs:
        data = run_data(db, run)
        if data is not None:
            out[run.period_id] = data
    return out


def dec(value: object) -> Decimal | None:
    if value in (None, "", "-"):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None
