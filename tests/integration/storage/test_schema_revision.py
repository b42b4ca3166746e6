"""A store opened without migrating checks the schema's revision instead."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, make_url, text

from wattline.storage.base import StoreUnavailableError
from wattline.storage.migrations import alembic_config
from wattline.storage.opening import open_store_at
from wattline.storage.postgres import psycopg_url
from wattline.storage.schema_revision import HEAD_REVISION


def test_the_revision_known_without_alembic_is_the_newest_migration() -> None:
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD_REVISION


@pytest.fixture(params=["sqlite", "postgres"])
def address(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """A database nobody has migrated yet: None for SQLite in tmp_path."""
    if request.param == "sqlite":
        yield None
        return
    admin_url: str = request.getfixturevalue("postgres_url")
    # An empty database of its own: the session's shared one is migrated already.
    engine = create_engine(psycopg_url(admin_url), isolation_level="AUTOCOMMIT")
    name = f"{make_url(admin_url).database}_unmigrated"
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        engine.dispose()


def test_a_store_not_yet_migrated_is_unavailable_until_it_is(
    address: str | None, tmp_path: Path
) -> None:
    path = tmp_path / "wattline.db"
    with pytest.raises(
        StoreUnavailableError, match=f"revision none, this Wattline needs {HEAD_REVISION}"
    ):
        open_store_at(address, path, "full", migrate=False)
    open_store_at(address, path, "full").close()  # what the collector does at start
    open_store_at(address, path, "full", migrate=False).close()


def test_a_schema_at_another_revision_is_unavailable(address: str | None, tmp_path: Path) -> None:
    path = tmp_path / "wattline.db"
    store = open_store_at(address, path, "full")
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    store.close()
    with pytest.raises(StoreUnavailableError, match="revision 9999"):
        open_store_at(address, path, "full", migrate=False)
