"""Opens the store the settings ask for."""

from __future__ import annotations

from wattline.config import Settings
from wattline.storage.postgres import URL_SCHEMES, open_postgres_store, redact
from wattline.storage.sql import SqlStore
from wattline.storage.sqlite import open_sqlite_store


def open_store(settings: Settings) -> SqlStore:
    url = settings.database_url
    if url is None:
        return open_sqlite_store(settings.database_path)
    if url.startswith(URL_SCHEMES):
        return open_postgres_store(url)
    raise ValueError(
        f"unsupported WATTLINE_DATABASE_URL {redact(url)!r}: expected postgresql://user@host/db,"
        " or leave it unset for SQLite in the data directory"
    )


def describe_store(settings: Settings) -> str:
    """Where the data goes, for the banner: the SQLite file, or the URL without its password."""
    if settings.database_url is None:
        return str(settings.database_path)
    return redact(settings.database_url)
