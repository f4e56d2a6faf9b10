"""score runs' line columns in their compact shapes (format 3)

Revision ID: 0019
Revises: 0015
Create Date: 2026-12-08 00:30:00

Runs stored from now on are format 3 (server/services/stored_run.py): a column repeated on
every line is stored once ({"all": v}), the points as the base points but for the adjusted
lines ({"like": "base_points", "except": [[k, v], ...]}), a column of few distinct values as
those values and an index per line. The one reader accepts format 2 as well, so the upgrade
rewrites nothing; the downgrade writes format 3 runs back as format 2 (every column a plain
list), the shape the code before this revision reads.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0015"
branch_labels = None
depends_on = None

# The migration's own copy of the format (a migration must not change when the code does).
_runs = sa.table("score_runs", sa.column("id", sa.Integer), sa.column("lines", sa.JSON))


def _plain_columns(lines: object) -> object:
    if not (isinstance(lines, dict) and lines.get("format") == 3):
        return lines
    n = lines["n"]
    columns: dict[str, list] = {}
    for name, column in zip(lines["fields"], lines["columns"], strict=True):
        if isinstance(column, list):
            columns[name] = column
        elif "index" in column:
            columns[name] = [column["values"][i] for i in column["index"]]
        elif "all" in column:
            columns[name] = [column["all"]] * n
        else:
            values = list(columns[column["like"]])
            for k, v in column["except"]:
                values[k] = v
            columns[name] = values
    return {"format": 2, "fields": list(columns), "columns": list(columns.values())}


def upgrade() -> None:
    pass  # format 2 runs read as they are


def downgrade() -> None:
    conn = op.get_bind()
    ids = [row[0] for row in conn.execute(sa.select(_runs.c.id).order_by(_runs.c.id))]
    for run_id in ids:  # one run in memory at a time: a run can be tens of megabytes
        lines = conn.execute(sa.select(_runs.c.lines).where(_runs.c.id == run_id)).scalar()
        new = _plain_columns(lines)
        if new is not lines:
            conn.execute(_runs.update().where(_runs.c.id == run_id).values(lines=new))
