"""run inputs: the engine's input of each score run, to re-score web changes with the engine

Revision ID: 0014
Revises: 0007
Create Date: 2026-12-07 18:30:00

Web adjustments, reverts and appeal answers used to patch the latest run's totals with a
second, smaller scorer (grades under forced distribution went stale, line caps were not
checked). They are now re-scored by the engine from the input the latest run was scored
from plus the adjustments of record. Runs stored before this revision have no input: the
next Score (or Submit) stores one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_inputs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["period_id"], ["periods.id"],
                                name=op.f("fk_run_inputs_period_id_periods"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_inputs")),
        sa.UniqueConstraint("period_id", "digest", name="uq_run_inputs_digest"),
    )
    with op.batch_alter_table("run_inputs") as batch:
        batch.create_index(batch.f("ix_run_inputs_period_id"), ["period_id"], unique=False)
    with op.batch_alter_table("score_runs") as batch:
        batch.add_column(sa.Column("input_id", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_score_runs_input_id"), ["input_id"], unique=False)
        batch.create_foreign_key(batch.f("fk_score_runs_input_id_run_inputs"), "run_inputs",
                                 ["input_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("score_runs") as batch:
        batch.drop_constraint(batch.f("fk_score_runs_input_id_run_inputs"), type_="foreignkey")
        batch.drop_index(batch.f("ix_score_runs_input_id"))
        batch.drop_column("input_id")
    op.drop_table("run_inputs")
