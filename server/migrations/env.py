"""Alembic environment: the models' metadata is the target; the URL comes from the caller.

`server.db.upgrade(url)` (used by `kpibook db upgrade`, the demo and the tests) sets
`sqlalchemy.url`; nothing here reads an ini file or the Flask app, so migrations run the same
way from the CLI, from tests and from scripts.
"""

from __future__ import annotations

from alembic import context

from server.db import make_engine
from server.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # SQLite alters a table by copying it and dropping the old one (batch mode); with foreign
    # keys enforced that DROP would delete every row that references it through ON DELETE
    # CASCADE (a period's runs, facts and adjustments). So migrations run without them, and
    # the database's integrity is checked before the migration commits.
    engine = make_engine(config.get_main_option("sqlalchemy.url"), foreign_keys=False)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration broke {len(broken)} foreign key(s): "
                                   f"{broken[:5]}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
