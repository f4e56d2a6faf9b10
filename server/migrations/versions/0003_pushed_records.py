"""pushed records (inbound push API of source-system sync)

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-28 16:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pushed_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("period_code", sa.String(length=20), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("request_key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pushed_records")),
        sa.UniqueConstraint("source", "external_id", name="uq_pushed_records_key"),
    )
    with op.batch_alter_table("pushed_records") as batch:
        batch.create_index("ix_pushed_records_period", ["source", "period_code"], unique=False)
        batch.create_index(batch.f("ix_pushed_records_request_key"), ["request_key"],
                           unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pushed_records") as batch:
        batch.drop_index(batch.f("ix_pushed_records_request_key"))
        batch.drop_index("ix_pushed_records_period")
    op.drop_table("pushed_records")
