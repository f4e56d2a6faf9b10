"""score runs' lines by column: one list per line field instead of an object per line

Revision ID: 0015
Revises: 0017
Create Date: 2026-12-07 21:00:00

A 5,000-manager run held 50,000 objects each repeating its 11 field names; the lines are now
stored as {"format": 2, "fields": [...], "columns": [...]} (server/services/stored_run.py,
the one reader). The values are unchanged. Every stored run is rewritten, one at a time;
the downgrade writes the objects back.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0017"
branch_labels = None
depends_on = None

FIELDS = ("employee_id", "indicator", "actual", "target", "weight", "base_points",
          "adjustment", "points", "explanation", "status", "stale")

# The migration's own copy of the format (a migration must not change when the code does).
_runs = sa.table("score_runs", sa.column("id", sa.Integer), sa.column("lines", sa.JSON))


def _columnar(lines: object) -> object:
    if not isinstance(lines, list):
        return lines  # already columnar (or not lines at all): left as it is
    if not all(isinstance(ln, dict) for ln in lines):
        return lines  # not score lines: left for `kpibook verify` to report
    extra = [k for ln in lines for k in ln if k not in FIELDS]
    fields = list(FIELDS) + sorted(set(extra))
    return {"format": 2, "fields": fields,
            "columns": [[ln.get(name) for ln in lines] for name in fields]}


def _rows(lines: object) -> object:
    if not (isinstance(lines, dict) and lines.get("format") == 2):
        return lines
    fields = lines["fields"]
    return [dict(zip(fields, row, strict=True)) for row in zip(*lines["columns"], strict=True)]


def _rewrite(convert) -> None:
    conn = op.get_bind()
    ids = [row[0] for row in conn.execute(sa.select(_runs.c.id).order_by(_runs.c.id))]
    for run_id in ids:  # one run in memory at a time: a run can be tens of megabytes
        lines = conn.execute(sa.select(_runs.c.lines).where(_runs.c.id == run_id)).scalar()
        new = convert(lines)
        if new is not lines:
            conn.execute(_runs.update().where(_runs.c.id == run_id).values(lines=new))


def upgrade() -> None:
    _rewrite(_columnar)


def downgrade() -> None:
    _rewrite(_rows)
