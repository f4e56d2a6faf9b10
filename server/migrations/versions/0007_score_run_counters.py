"""score run counters: run numbers handed out without a lock held by the request

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 10:00:00

`max(run_no) + 1` inside the request's transaction gave two concurrent Submits the same number
(one failed on uq_score_runs_run after its git commit); a period row lock instead deadlocked.
The counter is advanced in its own committed transaction (scoring.next_run_no); it starts at
each period's highest existing run number.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "score_run_counters",
        sa.Column("period_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_run_no", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("period_id", name=op.f("pk_score_run_counters")),
    )
    op.execute("INSERT INTO score_run_counters (period_id, last_run_no) "
               "SELECT period_id, MAX(run_no) FROM score_runs GROUP BY period_id")


def downgrade() -> None:
    op.drop_table("score_run_counters")
