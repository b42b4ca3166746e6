"""The SQLite backend: one file in WAL mode, the embedded default."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.dialects.sqlite import insert

from wattline.storage.schema_revision import require_head_revision
from wattline.storage.sql import SqlStore

# synchronous=FULL fsyncs every commit: a reading is acknowledged to the broker
# only after its commit, so the commit must survive a power cut, not just a
# process crash. Batching keeps the fsync count low. NORMAL (opt-in,
# WATTLINE_SQLITE_SYNCHRONOUS=normal) fsyncs the WAL only at checkpoints: a
# process crash loses nothing, a power cut may lose the latest commits.
_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=10000",
)
SYNCHRONOUS = ("full", "normal")


def open_sqlite_store(path: Path, *, synchronous: str = "full", migrate: bool = True) -> SqlStore:
    """The store in ``path``, its schema brought to the newest revision first; with
    ``migrate`` False only checked to be there (``schema_revision.py``), for a
    process that only commits beside the one that migrated (the commit process),
    which then never imports Alembic (11 MB after imports). An engine whose
    store cannot be opened is disposed of."""
    if synchronous not in SYNCHRONOUS:
        raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS)}: {synchronous!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}")
    pragmas = (*_PRAGMAS, f"PRAGMA synchronous={synchronous.upper()}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(pragma)
        cursor.close()

    try:
        with engine.begin() as conn:
            if migrate:
                from wattline.storage.migrations import upgrade_to_head  # noqa: PLC0415

                # No lock around the upgrade, unlike PostgreSQL: the embedded default is
                # one process per data directory, which migrates before it serves.
                upgrade_to_head(conn)
            else:
                require_head_revision(conn)
    except Exception:
        engine.dispose()
        raise
    return SqlStore(engine, insert)
