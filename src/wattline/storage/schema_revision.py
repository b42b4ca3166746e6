"""The schema revision this code was written for, known without importing Alembic.

A process that opens its store without migrating it (the commit process: the
collector that started it migrated the same database a moment before) checks
the database is at this revision, so that a store opened too early, or by an
older or newer Wattline, is an outage to wait out instead of a stream of
commits failing on a table or column that is not there. A test keeps this
equal to the newest migration.
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

from wattline.storage.base import StoreUnavailableError

HEAD_REVISION = "0024"


def require_head_revision(conn: Connection) -> None:
    """Raise StoreUnavailableError unless the database's schema is at ``HEAD_REVISION``."""
    stored = None
    if inspect(conn).has_table("alembic_version"):
        stored = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    if stored != HEAD_REVISION:
        raise StoreUnavailableError(
            f"the database's schema is at revision {stored or 'none'}, this Wattline needs"
            f" {HEAD_REVISION}: the process that migrates it (wattline up, collect or serve)"
            " has not opened it yet, or it belongs to another version"
        )
