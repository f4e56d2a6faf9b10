"""roster changes and org identities: organisation sync proposals HR applies

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-07 18:00:00

`roster_changes` holds what a DingTalk/Feishu/WeCom org sync proposes (added, moved, left,
flagged people) and, once HR applied it, who applied it, when, why and from which date.
`org_identities` remembers which platform user is which employee, so that someone missing
from the lists can be looked up (left, or only outside the app's permission scope).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roster_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"],
                                name=op.f("fk_roster_changes_decided_by_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_changes")),
    )
    op.create_index("ix_roster_changes_source_state", "roster_changes", ["source", "state"])
    op.create_table(
        "org_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.Column("user_id", sa.String(length=100), nullable=False),
        sa.Column("employee_id", sa.String(length=50), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_identities")),
        sa.UniqueConstraint("source", "user_id", name="uq_org_identities_user"),
    )
    op.create_index(op.f("ix_org_identities_employee_id"), "org_identities", ["employee_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_org_identities_employee_id"), table_name="org_identities")
    op.drop_table("org_identities")
    op.drop_index("ix_roster_changes_source_state", table_name="roster_changes")
    op.drop_table("roster_changes")
