"""Alembic environment: runs on the connection ``upgrade_to_head`` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from wattline.storage import schema
from wattline.storage.partitions import is_partition


def _include_object(
    _object: object, name: str | None, type_: str, _reflected: bool, _compare_to: object
) -> bool:
    # Monthly partitions are made at run time and are not part of schema.py.
    return not (type_ == "table" and name is not None and is_partition(name))


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=schema.metadata,
        # SQLite alters a table by copying it; batch mode does that and is a
        # plain ALTER TABLE on PostgreSQL, so one migration serves both.
        render_as_batch=True,
        include_object=_include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection: Connection | None = context.config.attributes.get("connection")
if _connection is None:
    raise RuntimeError(
        "Wattline runs its migrations in code: wattline.storage.migrations.upgrade_to_head"
    )
run_migrations(_connection)
