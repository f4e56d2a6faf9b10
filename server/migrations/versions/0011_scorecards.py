"""scorecards: a month holds one periods row per scorecard

Revision ID: 0011
Revises: 0016
Create Date: 2026-12-07 21:10:00

A `periods` row becomes one scorecard of one month: (code, scorecard) is unique instead of
the code alone, so October can hold manufacturing, R&D and sales side by side, each with its
own workbook binding, facts, runs, adjustments, workflow state and history. Existing rows
take their template's code as their scorecard ("main" when they have none) and keep their
history directory (`history_key` = the month's code), so existing histories stay valid.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("periods") as batch:
        batch.add_column(sa.Column("scorecard", sa.String(length=50), nullable=True))
        batch.add_column(sa.Column("history_key", sa.String(length=80), nullable=True))
    periods = sa.table("periods", sa.column("id", sa.Integer), sa.column("code", sa.String),
                       sa.column("template_code", sa.String),
                       sa.column("scorecard", sa.String), sa.column("history_key", sa.String))
    conn = op.get_bind()
    for period_id, code, template_code in conn.execute(
            sa.select(periods.c.id, periods.c.code, periods.c.template_code)).all():
        conn.execute(periods.update().where(periods.c.id == period_id).values(
            scorecard=_scorecard_code(template_code), history_key=code))
    with op.batch_alter_table("periods") as batch:
        batch.alter_column("scorecard", existing_type=sa.String(length=50), nullable=False)
        batch.alter_column("history_key", existing_type=sa.String(length=80), nullable=False)
        batch.drop_constraint("uq_periods_code", type_="unique")
        batch.create_unique_constraint("uq_periods_scorecard", ["code", "scorecard"])
        batch.create_unique_constraint("uq_periods_history_key", ["history_key"])
        batch.create_index("ix_periods_code", ["code"], unique=False)
    # Filled from each scorecard's roster of record by its next Score (server/services/
    # records.py); a month made before scorecards has one scorecard and needs none to be found.
    op.create_table(
        "scorecard_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=20), nullable=False),
        sa.Column("employee_id", sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(["period_id"], ["periods.id"], ondelete="CASCADE",
                                name=op.f("fk_scorecard_members_period_id_periods")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scorecard_members")),
        sa.UniqueConstraint("month", "employee_id", name="uq_scorecard_members"),
    )
    op.create_index("ix_scorecard_members_period_id", "scorecard_members", ["period_id"])


def downgrade() -> None:
    conn = op.get_bind()
    months = conn.execute(sa.text(
        "SELECT code FROM periods GROUP BY code HAVING COUNT(*) > 1")).scalars().all()
    if months:
        raise RuntimeError("cannot downgrade: these months hold several scorecards: "
                           + ", ".join(months))
    op.drop_index("ix_scorecard_members_period_id", table_name="scorecard_members")
    op.drop_table("scorecard_members")
    with op.batch_alter_table("periods") as batch:
        batch.drop_index("ix_periods_code")
        batch.drop_constraint("uq_periods_history_key", type_="unique")
        batch.drop_constraint("uq_periods_scorecard", type_="unique")
        batch.create_unique_constraint("uq_periods_code", ["code"])
        batch.drop_column("history_key")
        batch.drop_column("scorecard")


def _scorecard_code(template_code: str | None) -> str:
    """A scorecard code from a stored template code (kept as it is when it is one)."""
    import re

    text = (template_code or "").strip().lower()
    return text if re.fullmatch(r"[a-z][a-z0-9_-]{0,39}", text) else "main"
