"""Database models (SQLAlchemy 2.x declarative).

The schema is owned by Alembic (server/migrations); `create_all` is never used outside
throw-away tests. Rule sets and score results are stored as JSON snapshots because they are
records of what was used/produced at a moment, not data that is edited in place. Decimal values
inside JSON are strings so that nothing is rounded by a float on the way.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Explicit constraint names so that migrations are identical on SQLite and PostgreSQL and
# batch (copy-table) migrations on SQLite can find constraints by name.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        dt.datetime: DateTime(timezone=True),
    }


class Role(StrEnum):
    HR_ADMIN = "hr_admin"  # runs periods: new period, pull, score, submit, users
    EXECUTIVE = "executive"  # adjusts scores within the authority stored on the user
    DEPT_HEAD = "dept_head"  # adjusts/reviews their department within their authority
    EMPLOYEE = "employee"  # sees their own results
    AUDITOR = "auditor"  # reads everything, changes nothing


class PeriodState(StrEnum):
    """The period workflow (server/workflow.py says who moves it and what each state freezes)."""

    DRAFT = "draft"  # created on the web page; nothing collected yet
    COLLECTING = "collecting"  # data is being pulled (New period on the ribbon starts here)
    SCORED = "scored"  # at least one score snapshot stored
    IN_REVIEW = "in_review"  # adjustments submitted, waiting for an executive's approval
    APPROVED = "approved"  # approved: facts and scores frozen (no Pull, no Score)
    PUBLISHED = "published"  # managers see results; no adjustments except appeal answers
    CLOSED = "closed"  # frozen: buttons that change state answer 409
    # Names used before the workflow existed; same values, so old code keeps working.
    OPEN = "collecting"
    SUBMITTED = "in_review"


class AdjustmentStatus(StrEnum):
    ACTIVE = "active"  # the current adjustment for (employee, indicator)
    SUPERSEDED = "superseded"  # replaced by a later submission
    REJECTED = "rejected"  # refused in review (the history issue)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)  # login-style handle
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))  # a Role value
    # An executive's or department head's authority is data, e.g.
    # {"departments": ["生产部"], "indicators": ["PROD_EFF"], "max_points": "5"}; empty: the
    # limits of the rules table (adjust_by / max up / max down) alone apply.
    authority: Mapped[dict[str, Any]] = mapped_column(default=dict)
    email: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Web sign-in (server/auth.py): argon2id hash; None = no password (token-only account).
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)  # in a row
    locked_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    # The roster's 工号 of the manager this account belongs to (role employee): their results.
    employee_id: Mapped[str] = mapped_column(String(50), default="")
    # Second factor (server/mfa.py): base32 TOTP secret once enrolment is confirmed; the last
    # time step accepted (a code works once); sha256 of the unused recovery codes.
    totp_secret: Mapped[str | None] = mapped_column(String(64), default=None)
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    recovery_codes: Mapped[list[Any]] = mapped_column(default=list)
    # Language of the messages and cards sent to this person (zh | en); "": KPIBOOK_LANG.
    lang: Mapped[str] = mapped_column(String(5), default="")

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")

    @property
    def label(self) -> str:
        return self.display_name or self.name


class ApiToken(Base):
    """A personal access token. Only the sha256 of the token is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, to recognise a token
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)  # None: never
    # What the token may do: "read", "submit", "admin" (server/policy.py token_scope).
    scopes: Mapped[list[Any]] = mapped_column(default=list)

    user: Mapped[User] = relationship(back_populates="tokens")


class Template(Base):
    """A KPI template (e.g. manufacturing): its rule set as a JSON snapshot."""

    __tablename__ = "templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    version: Mapped[str] = mapped_column(String(20), default="1")
    rules: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def _default_scorecard(context) -> str:  # noqa: ANN001 - SQLAlchemy's execution context
    template_code = (context.get_current_parameters().get("template_code") or "").strip()
    return scorecard_code(template_code) or "main"


def _default_history_key(context) -> str:  # noqa: ANN001 - SQLAlchemy's execution context
    return context.get_current_parameters()["code"]


SCORECARD_CODE = re.compile(r"[a-z][a-z0-9_-]{0,39}")


def scorecard_code(text: str) -> str:
    """`text` as a scorecard code (lower-case letter, then letters, digits, '-', '_'), or ""
    when it is not one."""
    text = (text or "").strip().lower()
    return text if SCORECARD_CODE.fullmatch(text) else ""


class Period(Base):
    """One scorecard of one month (or quarter, or year): its template and population, rules,
    workflow state and binding. The month is the set of rows sharing a `code`; each row has
    its own facts, runs, adjustments and history (docs/records.md, "Scorecards")."""

    __tablename__ = "periods"
    __table_args__ = (UniqueConstraint("code", "scorecard", name="uq_periods_scorecard"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), index=True)  # e.g. "2025-03"
    # e.g. "manufacturing": the template's code unless HR named it otherwise at New period
    scorecard: Mapped[str] = mapped_column(String(50), default=_default_scorecard)
    # Its directory in the history repository: the month's code for the month's first
    # scorecard (so histories made before scorecards stay valid), "<code>.<scorecard>" after.
    history_key: Mapped[str] = mapped_column(String(80), unique=True,
                                             default=_default_history_key)
    template_id: Mapped[int | None] = mapped_column(ForeignKey("templates.id"), index=True)
    template_code: Mapped[str] = mapped_column(String(50), default="")
    state: Mapped[str] = mapped_column(String(20), default=PeriodState.OPEN.value)
    lang: Mapped[str] = mapped_column(String(5), default="zh")
    # The rule set in force for the period, copied from the template or the workbook that
    # was scored, so that later template edits never change a past period.
    rules: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Issued by the server when the period is created and written into every workbook it
    # answers (kb_meta "binding"): a workbook whose binding is not this period's is refused
    # before anything is stored (docs/records.md, "Binding").
    binding: Mapped[str] = mapped_column(String(32), default=lambda: secrets.token_hex(16))

    template: Mapped[Template | None] = relationship()


class Employee(Base):
    __tablename__ = "employees"

    id: Mapped[int] = mapped_column(primary_key=True)
    employee_id: Mapped[str] = mapped_column(String(50), unique=True)  # HR's 工号
    name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(200), default="")
    position: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    manager: Mapped[str] = mapped_column(String(50), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class SourceFact(Base):
    """One value fetched from a source system, with where it came from.

    `raw_value` is what the source said (text, as received); `value_num`/`value_text` is the
    converted value the engine uses. A failed later pull keeps the last good value and sets
    `stale` instead of deleting it.
    """

    __tablename__ = "source_facts"
    __table_args__ = (
        UniqueConstraint("period_id", "employee_id", "indicator", "field",
                         name="uq_source_facts_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id", ondelete="CASCADE"),
                                           index=True)
    employee_id: Mapped[str] = mapped_column(String(50))
    indicator: Mapped[str] = mapped_column(String(50))
    field: Mapped[str] = mapped_column(String(50), default="actual")
    source: Mapped[str] = mapped_column(String(50))  # erp, qms, crm, attendance, simulator...
    raw_value: Mapped[str | None] = mapped_column(Text)
    value_num: Mapped[Decimal | None] = mapped_column(Numeric(20, 6))
    value_text: Mapped[str | None] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(20), default="")
    fetched_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    fetched_by: Mapped[str] = mapped_column(String(100), default="")
    request: Mapped[str] = mapped_column(Text, default="")  # what was asked of the source
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)  # last pull error when stale

    @property
    def value(self) -> Decimal | str | None:
        return self.value_num if self.value_num is not None else self.value_text


class ScoreRun(Base):
    """A score snapshot: every line and total of one scoring of a period."""

    __tablename__ = "score_runs"
    __table_args__ = (UniqueConstraint("period_id", "run_no", name="uq_score_runs_run"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id", ondelete="CASCADE"),
                                           index=True)
    run_no: Mapped[int] = mapped_column(Integer)  # 1, 2, ... within the period
    kind: Mapped[str] = mapped_column(String(20), default="score")  # score | submit
    lang: Mapped[str] = mapped_column(String(5), default="zh")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    rules_digest: Mapped[str] = mapped_column(String(64), default="")
    input_digest: Mapped[str] = mapped_column(String(64), default="")
    employee_count: Mapped[int] = mapped_column(Integer, default=0)
    # the lines by column (format 2); read and written only by server/services/stored_run.py
    lines: Mapped[Any] = mapped_column(JSON, default=list)
    totals: Mapped[list[Any]] = mapped_column(default=list)  # EmployeeResult as dicts
    # The git history (docs/history.md): the submission this run belongs to, the history
    # commit it recorded (or the head it was computed at) and the version the workbook was
    # based on. None for runs older than the history.
    submission_id: Mapped[str | None] = mapped_column(String(100), default=None, index=True)
    commit: Mapped[str | None] = mapped_column(String(40), default=None)
    base_commit: Mapped[str | None] = mapped_column(String(40), default=None)

    period: Mapped[Period] = relationship()


class InputRecord(Base):
    """One version of a period's inputs of record: rules, roster, source data and targets.

    The server owns these (docs/records.md): HR's Score adopts them (the first time) or
    applies differences with a reason; everyone else's Score and Submit is scored with them,
    whatever their workbook says. The latest row (highest id) of a period is in force; older
    rows are the record's history (who, when, why)."""

    __tablename__ = "input_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id", ondelete="CASCADE"),
                                           index=True)
    kind: Mapped[str] = mapped_column(String(20))  # adopted | applied | data
    rules_digest: Mapped[str] = mapped_column(String(64))
    roster_digest: Mapped[str] = mapped_column(String(64))
    input_digest: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column()  # server.scoring.codec.input_to_json
    changes: Mapped[list[Any]] = mapped_column(default=list)  # what differed from the last one
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ScorecardMember(Base):
    """Who a scorecard scores this month: its roster of record, one row per manager. A
    manager belongs to one scorecard a month (the database holds it: unique per month), and
    the pages find a manager's scorecard here (docs/records.md, "Scorecards")."""

    __tablename__ = "scorecard_members"
    __table_args__ = (UniqueConstraint("month", "employee_id", name="uq_scorecard_members"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id", ondelete="CASCADE"),
                                           index=True)
    month: Mapped[str] = mapped_column(String(20))  # the period's code
    employee_id: Mapped[str] = mapped_column(String(50))


class ScoreRunCounter(Base):
    """The last run number handed out per period (server/services/runs.py `next_run_no`).

    Advanced in its own short transaction, never inside a request's transaction, so numbering
    a run never waits for another request (docs/deploy.md, Faults). Deliberately no foreign
    key to `periods`: the counter's transaction must lock nothing but its own row."""

    __tablename__ = "score_run_counters"

    period_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_run_no: Mapped[int] = mapped_column(Integer)


class Adjustment(Base):
    __tablename__ = "adjustments"
    __table_args__ = (Index("ix_adjustments_lookup", "period_id", "employee_id", "indicator"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id", ondelete="CASCADE"))
    employee_id: Mapped[str] = mapped_column(String(50))
    indicator: Mapped[str] = mapped_column(String(50))
    points: Mapped[Decimal] = mapped_column(Numeric(9, 2))
    reason: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(100))  # user name at the time
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default=AdjustmentStatus.ACTIVE.value)
    score_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("score_runs.id", ondelete="SET NULL"))
    # The history submission (git commit) that recorded this value (docs/history.md).
    submission_id: Mapped[str | None] = mapped_column(String(100), default=None, index=True)
    commit: Mapped[str | None] = mapped_column(String(40), default=None)


class HistoryCommit(Base):
    """One git history commit known to the database, keyed by its Submission-Id.

    Written in the same transaction as the rows the commit produced (adjustments, a score
    run), after the git commit: a crash between the two leaves a commit the database lacks,
    which start-up recovery replays (server/services/history_record.py, docs/history.md).
    """

    __tablename__ = "history_commits"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[str] = mapped_column(String(100), unique=True)
    commit: Mapped[str | None] = mapped_column(String(40), default=None)
    kind: Mapped[str] = mapped_column(String(20))  # a server.ledger Kind value
    period_id: Mapped[int | None] = mapped_column(
        ForeignKey("periods.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    recovered: Mapped[bool] = mapped_column(Boolean, default=False)  # replayed at start-up


# --- accounts, workflow and feedback (docs/roles.md, docs/security.md) ------------------------


class WebSession(Base):
    """A signed-in browser. The cookie carries a random id; only its sha256 is stored, so
    signing out, deactivating a user or changing a password ends the session server-side."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")

    user: Mapped[User] = relationship()


class SignInThrottle(Base):
    """A counter of sign-in attempts for one key: an account at an address, an address, an
    account, or everything (server/throttle.py). Times are Unix seconds so that the one atomic
    UPDATE can compute them on SQLite and PostgreSQL alike."""

    __tablename__ = "sign_in_throttles"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # counted within the window
    delay: Mapped[float] = mapped_column(Float, default=0.0)  # seconds before the next one
    not_before: Mapped[float] = mapped_column(Float, default=0.0)
    window_start: Mapped[float] = mapped_column(Float, default=0.0)  # this window began


class PeriodEvent(Base):
    """One workflow step of a period (who moved it from which state to which, and why)."""

    __tablename__ = "period_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id", ondelete="CASCADE"),
                                           index=True)
    action: Mapped[str] = mapped_column(String(30))  # a workflow action, e.g. "approve"
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(100))  # user name at the time
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Acknowledgement(Base):
    """A manager confirmed they have seen their published result (the total at that time)."""

    __tablename__ = "acknowledgements"

    id: Mapped[int] = mapped_column(primary_key=True)
    # No cascade: feedback is kept permanently, a period with feedback cannot be deleted.
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"), index=True)
    employee_id: Mapped[str] = mapped_column(String(50))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    user_name: Mapped[str] = mapped_column(String(100))
    run_no: Mapped[int] = mapped_column(Integer)  # the score snapshot that was shown
    total: Mapped[str] = mapped_column(String(20), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AppealStatus(StrEnum):
    OPEN = "open"  # waits for HR's answer
    ANSWERED = "answered"  # waits for the manager's confirmation
    CONFIRMED = "confirmed"  # the manager confirmed the answer (closed)


class Appeal(Base):
    """A manager's appeal against a published result and HR's answer. Kept permanently."""

    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"), index=True)
    employee_id: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default=AppealStatus.OPEN.value)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    run_no: Mapped[int] = mapped_column(Integer)  # the snapshot appealed against
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_by: Mapped[str] = mapped_column(String(100), default="")
    answered_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    adjustment_id: Mapped[int | None] = mapped_column(
        ForeignKey("adjustments.id", ondelete="SET NULL"))
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    period: Mapped[Period] = relationship()


class OAuthClient(Base):
    """A machine client (source system, integration) of the OAuth2 client-credentials grant.
    The secret is shown once; only its sha256 is stored (it is random, like tokens)."""

    __tablename__ = "oauth_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100), default="")
    scopes: Mapped[list[Any]] = mapped_column(default=list)  # e.g. ["facts:write"]
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class OAuthToken(Base):
    """An access token issued to an OAuthClient (sha256 stored, never the token)."""

    __tablename__ = "oauth_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id", ondelete="CASCADE"),
                                           index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(500), default="")
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    client: Mapped[OAuthClient] = relationship()


class Notification(Base):
    """One notification sent (or that failed), for the admin page and for audits."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))  # e.g. adjustments_to_approve
    channel: Mapped[str] = mapped_column(String(20))  # email | webhook
    recipient: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    link: Mapped[str] = mapped_column(String(500), default="")
    # sent | retrying (failed; tried again at next_attempt_at) | failed (gave up, or a
    # failure no retry mends: an unknown user)
    status: Mapped[str] = mapped_column(String(20), default="sent")
    error: Mapped[str] = mapped_column(Text, default="")
    # Retries (server/services/cards.py): what to send again, how often it was tried, when
    # next, and which worker holds it now (a lease: two workers never send it together).
    user_id: Mapped[int | None] = mapped_column(Integer, default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(default=None, index=True)
    lease_owner: Mapped[str] = mapped_column(String(40), default="")
    lease_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    updated_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # Set for messages that must go out once only (the daily reminder:
    # "reminder:<date>:<user id>:<channel>"); unique, so a second worker's insert fails.
    dedupe_key: Mapped[str | None] = mapped_column(String(120), default=None, unique=True)


class PushedRecord(Base):
    """A record a source system sent to POST /api/v1/facts (sync/connectors/push.py).

    One row per (source, external id): sending it again replaces it (a correction) instead of
    adding to it, so a retried push never double-counts. `request_key` and `request_hash`
    make a repeated request with the same key answer the same way.
    """

    __tablename__ = "pushed_records"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_pushed_records_key"),
                      Index("ix_pushed_records_period", "source", "period_code"))

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(50))
    external_id: Mapped[str] = mapped_column(String(200))
    period_code: Mapped[str] = mapped_column(String(20))
    record: Mapped[dict[str, Any]] = mapped_column(default=dict)
    request_key: Mapped[str] = mapped_column(String(200), default="", index=True)
    request_hash: Mapped[str] = mapped_column(String(64), default="")
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    received_by: Mapped[str] = mapped_column(String(100), default="")  # the source's client


class PullRun(Base):
    """The running or last pull of a period, shared by every worker and host (PostgreSQL).

    One row per period: `owner` is the random id of the worker holding the lease while
    `state` is running; it refreshes `heartbeat_at`, and a row whose heartbeat is older than
    the lease (server/services/pull.py, LEASE_SECONDS) may be taken over by a new pull (its
    worker died). `status` holds the per-source progress, row problems and summary that
    GET /api/v1/periods/<code>/pull-status answers.
    """

    __tablename__ = "pull_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    period_code: Mapped[str] = mapped_column(String(20), unique=True)
    state: Mapped[str] = mapped_column(String(20), default="running")  # running|done|failed
    owner: Mapped[str] = mapped_column(String(64), default="")
    started_by: Mapped[str] = mapped_column(String(100), default="")
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    status: Mapped[dict[str, Any]] = mapped_column(default=dict)


class RosterChange(Base):
    """A roster change proposed by an organisation sync (DingTalk, Feishu, WeCom), reviewed
    and applied by HR (server/services/orgsync.py).

    `changes` lists one entry per person: kind (added, moved, updated, left, rejoined,
    flagged), employee_id, the platform user id, `before` (the roster's values when proposed,
    kept as the record of the old values) and `after`. Nothing reaches the Employee table
    until `apply_roster_change` runs: then state becomes applied with who, when, why and the
    effective date. A newer sync of the same source supersedes a proposal nobody applied.
    """

    __tablename__ = "roster_changes"
    __table_args__ = (Index("ix_roster_changes_source_state", "source", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(50))  # the [[org]] name
    platform: Mapped[str] = mapped_column(String(20))  # dingtalk | feishu | wecom
    state: Mapped[str] = mapped_column(String(20), default="proposed")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")  # user, cli, schedule
    request: Mapped[str] = mapped_column(Text, default="")  # what was asked of the platform
    digest: Mapped[str] = mapped_column(String(64), default="")  # of `changes`
    changes: Mapped[list[Any]] = mapped_column(default=list)
    notes: Mapped[dict[str, Any]] = mapped_column(default=dict)  # scope gaps, unmatched
    decided_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None)
    reason: Mapped[str] = mapped_column(Text, default="")
    effective_date: Mapped[dt.date | None] = mapped_column(Date, default=None)


class OrgIdentity(Base):
    """Which platform user is which employee, as the last org sync of a source saw it: the
    key to ask a platform about someone who vanished from its lists (left, or only out of
    the app's scope?)."""

    __tablename__ = "org_identities"
    __table_args__ = (UniqueConstraint("source", "user_id", name="uq_org_identities_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(50))
    user_id: Mapped[str] = mapped_column(String(100))
    employee_id: Mapped[str] = mapped_column(String(50), index=True)
    seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PlatformBinding(Base):
    """A platform account (DingTalk, Feishu, WeCom user id; an OIDC `sub`) that signs in as a
    kpibook user, set by the user (after signing in on the platform) or by an HR admin
    (server/services/platform_signin.py). Without one, sign-in falls back to org_identities
    (the platform user id -> 工号 -> the user with that employee id)."""

    __tablename__ = "platform_bindings"
    __table_args__ = (UniqueConstraint("provider", "subject",
                                       name="uq_platform_bindings_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(50))  # the [[signin]] name
    subject: Mapped[str] = mapped_column(String(200))  # the platform's id of the person
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    label: Mapped[str] = mapped_column(String(200), default="")  # the platform's name for them
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    user: Mapped[User] = relationship()


class ScheduleClaim(Base):
    """The last slot of one scheduled job that a worker claimed (server/schedule.py).

    One row per job ("pull:erp", "notify:retry", ...). A worker runs a slot only if its
    compare-and-set UPDATE moved `slot` forward (or took over a `running` claim whose lease
    ran out): the database lets exactly one of several concurrent claimers win, on SQLite
    (one writer at a time) and PostgreSQL (the row lock; the loser re-reads the row and its
    WHERE no longer matches)."""

    __tablename__ = "schedule_claims"

    job: Mapped[str] = mapped_column(String(100), primary_key=True)
    slot: Mapped[dt.datetime | None] = mapped_column(default=None)
    state: Mapped[str] = mapped_column(String(20), default="")  # running|done|failed
    owner: Mapped[str] = mapped_column(String(64), default="")
    claimed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    lease_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    note: Mapped[str] = mapped_column(Text, default="")


class SheetCopy(Base):
    """An output sheet (kb_scores, kb_summary) as a ribbon answer left it in a workbook, by
    its digest (server/xlwire/digest.py): a client that sends the digest instead of the
    sheet gets this copy parsed in its place (docs/protocol.md, "Sheet digests"). A cache,
    not a record: pruned to the newest KPIBOOK_SHEET_COPIES; a pruned copy costs the client
    one more round trip with the values."""

    __tablename__ = "sheet_copies"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    period_code: Mapped[str] = mapped_column(String(20), default="")
    body: Mapped[bytes] = mapped_column(LargeBinary)  # zlib of {"values": ..., "tables": ...}
    size: Mapped[int] = mapped_column(Integer, default=0)  # bytes before compression
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
