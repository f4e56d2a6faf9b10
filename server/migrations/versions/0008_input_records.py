"""inputs of record: the rules, roster, data and targets a period is scored with

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 18:00:00

Before this revision every Score took rules, roster and data from whichever workbook arrived.
Existing periods start without a record: HR's next Score adopts its workbook's inputs as the
first record (docs/records.md), as the first Score of a new period does.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "input_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("rules_digest", sa.String(length=64), nullable=False),
        sa.Column("roster_digest", sa.String(length=64), nullable=False),
        sa.Column("input_digest", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["period_id"], ["periods.id"],
                                name=op.f("fk_input_records_period_id_periods"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_input_records")),
    )
    with op.batch_alter_table("input_records") as batch:
        batch.create_index(batch.f("ix_input_records_period_id"), ["period_id"], unique=False)


def downgrade() -> None:
    op.drop_table("input_records")
