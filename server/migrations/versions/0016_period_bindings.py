"""period bindings: the server-issued token that binds a workbook to its period

Revision ID: 0016
Revises: 0009
Create Date: 2026-12-07 19:10:00

Every existing period gets a random binding; its workbooks carry none yet, so HR presses New
period once on each to bind it (docs/records.md, "Binding").
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("periods") as batch:
        batch.add_column(sa.Column("binding", sa.String(length=32), nullable=True))
    periods = sa.table("periods", sa.column("id", sa.Integer), sa.column("binding", sa.String))
    conn = op.get_bind()
    for (period_id,) in conn.execute(sa.select(periods.c.id)).all():
        conn.execute(periods.update().where(periods.c.id == period_id)
                     .values(binding=secrets.token_hex(16)))
    with op.batch_alter_table("periods") as batch:
        batch.alter_column("binding", existing_type=sa.String(length=32), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("periods") as batch:
        batch.drop_column("binding")
