"""git history: history_commits, submission/commit ids on adjustments and score runs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "history_commits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.String(length=100), nullable=False),
        sa.Column("commit", sa.String(length=40), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recovered", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["period_id"], ["periods.id"],
                                name=op.f("fk_history_commits_period_id_periods"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history_commits")),
        sa.UniqueConstraint("submission_id", name=op.f("uq_history_commits_submission_id")),
    )
    with op.batch_alter_table("history_commits") as batch:
        batch.create_index(batch.f("ix_history_commits_period_id"), ["period_id"], unique=False)
    with op.batch_alter_table("adjustments") as batch:
        batch.add_column(sa.Column("submission_id", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("commit", sa.String(length=40), nullable=True))
        batch.create_index(batch.f("ix_adjustments_submission_id"), ["submission_id"],
                           unique=False)
    with op.batch_alter_table("score_runs") as batch:
        batch.add_column(sa.Column("submission_id", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("commit", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("base_commit", sa.String(length=40), nullable=True))
        batch.create_index(batch.f("ix_score_runs_submission_id"), ["submission_id"],
                           unique=False)


def downgrade() -> None:
    with op.batch_alter_table("score_runs") as batch:
        batch.drop_index(batch.f("ix_score_runs_submission_id"))
        batch.drop_column("base_commit")
        batch.drop_column("commit")
        batch.drop_column("submission_id")
    with op.batch_alter_table("adjustments") as batch:
        batch.drop_index(batch.f("ix_adjustments_submission_id"))
        batch.drop_column("commit")
        batch.drop_column("submission_id")
    with op.batch_alter_table("history_commits") as batch:
        batch.drop_index(batch.f("ix_history_commits_period_id"))
    op.drop_table("history_commits")
