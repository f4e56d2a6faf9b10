"""sheet copies: output sheets as answers left them, for clients that send digests

Revision ID: 0017
Revises: 0013
Create Date: 2026-12-07 21:10:00

A cache, not a record (server/services/sheet_copies.py): dropping it costs clients one more
round trip with their values.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sheet_copies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("period_code", sa.String(length=20), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sheet_copies")),
        sa.UniqueConstraint("digest", name=op.f("uq_sheet_copies_digest")),
    )
    op.create_index(op.f("ix_sheet_copies_created_at"), "sheet_copies", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sheet_copies_created_at"), table_name="sheet_copies")
    op.drop_table("sheet_copies")
