"""sign-in at ASVS level 2: throttle counters, TOTP, token scopes, session user agents

Revision ID: 0009
Revises: 0010
Create Date: 2026-12-07 18:00:00

Tokens that existed before scopes keep every scope ("read submit admin"), so nobody's Excel
stops working on upgrade; new tokens get only the scopes chosen when they are created.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_throttles",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("delay", sa.Float(), nullable=False),
        sa.Column("not_before", sa.Float(), nullable=False),
        sa.Column("window_start", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sign_in_throttles")),
    )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("recovery_codes", sa.JSON(), nullable=True))
    op.execute("UPDATE users SET recovery_codes = '[]'")
    with op.batch_alter_table("users") as batch:
        batch.alter_column("recovery_codes", existing_type=sa.JSON(), nullable=False)
        batch.alter_column("totp_last_step", existing_type=sa.Integer(), server_default=None)
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("scopes", sa.JSON(), nullable=True))
    op.execute("""UPDATE api_tokens SET scopes = '["read", "submit", "admin"]'""")
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("scopes", existing_type=sa.JSON(), nullable=False)
    with op.batch_alter_table("web_sessions") as batch:
        batch.add_column(sa.Column("user_agent", sa.String(length=200), nullable=False,
                                   server_default=""))
    with op.batch_alter_table("web_sessions") as batch:
        batch.alter_column("user_agent", existing_type=sa.String(length=200),
                           server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("web_sessions") as batch:
        batch.drop_column("user_agent")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("scopes")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("recovery_codes")
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_secret")
    op.drop_table("sign_in_throttles")
