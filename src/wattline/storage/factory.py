"""Opens the store the settings ask for."""

from __future__ import annotations

from wattline.config import Settings
from wattline.storage.sql import SqlStore
from wattline.storage.sqlite import open_sqlite_store


def open_store(settings: Settings) -> SqlStore:
    if settings.database_url is None:
        return open_sqlite_store(settings.database_path)
    raise ValueError(f"unsupported WATTLINE_DATABASE_URL {settings.database_url!r}")
