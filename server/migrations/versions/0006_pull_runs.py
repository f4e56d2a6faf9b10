"""pull runs: the running/last pull of each period shared by every worker (lease, progress)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pull_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_code", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("started_by", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pull_runs")),
        sa.UniqueConstraint("period_code", name=op.f("uq_pull_runs_period_code")),
    )


def downgrade() -> None:
    op.drop_table("pull_runs")
