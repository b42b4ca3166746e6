from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from tests.conftest import unavailable

from wattline.storage import schema
from wattline.storage.partitions import PARTITIONED_TABLES
from wattline.storage.postgres import open_postgres_store, psycopg_url
from wattline.storage.sql import SqlStore
from wattline.storage.sqlite import open_sqlite_store

# The server to test against; its user must be allowed to create databases.
POSTGRES_ADMIN_URL = os.environ.get(
    "WATTLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of its own for this test session, dropped at the end."""
    admin = create_engine(
        psycopg_url(POSTGRES_ADMIN_URL),
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3},
    )
    name = f"wattline_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
    except OperationalError as exc:
        admin.dispose()
        unavailable(f"no PostgreSQL at {make_url(POSTGRES_ADMIN_URL)!r}: {exc.orig}")
    yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        # FORCE terminates the connections a failed test may have left open.
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def reset_postgres(url: str) -> None:
    """Back to a freshly migrated database: no rows, no monthly partitions."""
    engine = create_engine(psycopg_url(url))
    with engine.begin() as conn:
        for table in PARTITIONED_TABLES:
            partitions = conn.scalars(
                text(
                    "SELECT c.relname FROM pg_inherits i"
                    " JOIN pg_class c ON c.oid = i.inhrelid"
                    " WHERE i.inhparent = CAST(:table AS regclass) AND c.relname <> :default"
                ),
                {"table": table, "default": f"{table}_default"},
            ).all()
            for partition in partitions:
                conn.execute(text(f"DROP TABLE {partition}"))
        tables = ", ".join(table.name for table in schema.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    """Every store test runs against each backend."""
    if request.param == "sqlite":
        backend = open_sqlite_store(tmp_path / "wattline.db")
    else:
        url: str = request.getfixturevalue("postgres_url")
        # Opening runs the migrations again: each test also checks they are idempotent.
        backend = open_postgres_store(url)
        reset_postgres(url)
    yield backend
    backend.close()
