"""Which backend a database address names: the one place that decides it.

Kept apart from ``wattline.runtime.backends`` so that the commit process can open
its store without importing the settings (pydantic) and the archive backends.
"""

from __future__ import annotations

from pathlib import Path

from wattline.storage.postgres import URL_SCHEMES, open_postgres_store, redact
from wattline.storage.sql import SqlStore
from wattline.storage.sqlite import open_sqlite_store


def open_store_at(
    url: str | None, database_path: Path, sqlite_synchronous: str, *, migrate: bool = True
) -> SqlStore:
    """PostgreSQL at ``url``, or, with no URL, SQLite at ``database_path``; ``migrate``
    False checks the schema's revision instead of migrating (see ``open_sqlite_store``)."""
    if url is None:
        return open_sqlite_store(database_path, synchronous=sqlite_synchronous, migrate=migrate)
    if url.startswith(URL_SCHEMES):
        return open_postgres_store(url, migrate=migrate)
    raise ValueError(
        f"unsupported WATTLINE_DATABASE_URL {redact(url)!r}: expected postgresql://user@host/db,"
        " or leave it unset for SQLite in the data directory"
    )
