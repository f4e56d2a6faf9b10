"""platform bindings: which DingTalk/Feishu/WeCom/OIDC account signs in as which user

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 21:10:00

An empty table: sign-in through a platform falls back to org_identities (docs/signin.md).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "platform_bindings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=50), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_platform_bindings_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_bindings")),
        sa.UniqueConstraint("provider", "subject", name="uq_platform_bindings_subject"),
    )
    op.create_index(op.f("ix_platform_bindings_user_id"), "platform_bindings", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_platform_bindings_user_id"), table_name="platform_bindings")
    op.drop_table("platform_bindings")
