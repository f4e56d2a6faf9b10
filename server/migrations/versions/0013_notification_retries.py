"""notification retries and the daily reminder: attempts, next attempt, a lease, the message
to send again, a once-only key; users' message language

Revision ID: 0013
Revises: 0014
Create Date: 2026-12-07 21:10:00

Existing rows were sent or failed for good: attempts 1, nothing to retry.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0014"
branch_labels = None
depends_on = None

_DEFAULTED = (("attempts", sa.Integer(), "1"), ("lease_owner", sa.String(length=40), ""))


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False,
                                   server_default="1"))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column("lease_owner", sa.String(length=40), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("dedupe_key", sa.String(length=120), nullable=True))
    op.execute("UPDATE notifications SET payload = '{}'")
    with op.batch_alter_table("notifications") as batch:
        batch.alter_column("payload", existing_type=sa.JSON(), nullable=False)
        for name, type_, _default in _DEFAULTED:
            batch.alter_column(name, existing_type=type_, server_default=None)
        batch.create_index("ix_notifications_next_attempt_at", ["next_attempt_at"])
        batch.create_unique_constraint("uq_notifications_dedupe_key", ["dedupe_key"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("lang", sa.String(length=5), nullable=False,
                                   server_default=""))
    with op.batch_alter_table("users") as batch:
        batch.alter_column("lang", existing_type=sa.String(length=5), server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("lang")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_constraint("uq_notifications_dedupe_key", type_="unique")
        batch.drop_index("ix_notifications_next_attempt_at")
        for name in ("dedupe_key", "updated_at", "lease_until", "lease_owner",
                     "next_attempt_at", "attempts", "payload", "user_id"):
            batch.drop_column(name)
