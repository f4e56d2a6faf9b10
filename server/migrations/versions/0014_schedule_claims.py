"""schedule claims: which slot of each scheduled job a worker has claimed

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-07 21:00:00

`schedule_claims` holds one row per scheduled job (a pull of one source, "pull:erp", and
whatever else runs on the workers' clock): the last slot claimed, by which worker, until when
its lease runs and how the run ended (server/schedule.py). The compare-and-set on this row is
what keeps several gunicorn workers from running the same slot twice.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedule_claims",
        sa.Column("job", sa.String(length=100), nullable=False),
        sa.Column("slot", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("job", name=op.f("pk_schedule_claims")),
    )


def downgrade() -> None:
    op.drop_table("schedule_claims")
