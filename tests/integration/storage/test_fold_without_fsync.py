"""A fold commits without waiting for the disk; every other write still does.

A fold moves readings already committed durably (staged) into samples, rollups
and latest values; undone by a power cut it leaves them staged, and the next
durable commit makes it durable anyway (both engines' logs are written in
order). So its commit skips the fsync: SQLite's ``synchronous`` is NORMAL for
that transaction only, PostgreSQL's ``synchronous_commit`` off for it only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from wattline.model.messages import Reading
from wattline.storage.base import CommitBatch, StoreUnavailableError
from wattline.storage.postgres import psycopg_url
from wattline.storage.sql.connections import Connections
from wattline.storage.sqlite import open_sqlite_store

pytestmark = pytest.mark.integration

FULL, NORMAL = 2, 1  # what PRAGMA synchronous answers


def _synchronous(connections: Connections, *, durable: bool) -> int:
    with connections.write(durable=durable) as conn:
        return int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())


def _fail_inside(connections: Connections) -> None:
    with connections.write(durable=False) as conn:
        conn.exec_driver_sql("CREATE TABLE undone (n INTEGER)")
        raise RuntimeError("undone")


def test_sqlite_skips_the_fsync_of_that_transaction_alone(tmp_path: Path) -> None:
    store = open_sqlite_store(tmp_path / "w.db")
    connections = Connections(store.engine)
    try:
        assert _synchronous(connections, durable=False) == NORMAL
        # the pool hands the same connection out again: FULL once more
        assert _synchronous(connections, durable=True) == FULL
        with pytest.raises(RuntimeError, match="undone"):
            _fail_inside(connections)
        assert _synchronous(connections, durable=True) == FULL
        with store.engine.connect() as conn:
            tables = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE name = 'undone'")
            assert tables.first() is None  # rolled back, as any failed transaction
    finally:
        store.close()


def _write_then_refuse_full(connections: Connections, authorizer: Any) -> None:
    with connections.write(durable=False) as conn:
        conn.exec_driver_sql("CREATE TABLE kept (n INTEGER)")
        driver = conn.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        driver.set_authorizer(authorizer)


def test_a_connection_whose_setting_cannot_be_put_back_is_discarded(tmp_path: Path) -> None:
    """Never back into the pool without its fsyncs: the failure is an outage, and the
    next transaction gets a new connection, set up as the store sets every one."""
    store = open_sqlite_store(tmp_path / "w.db")
    connections = Connections(store.engine)

    def refuse_full(action: int, arg1: str | None, arg2: str | None, *_: object) -> int:
        restoring = action == sqlite3.SQLITE_PRAGMA and arg1 == "synchronous" and arg2 == "2"
        return sqlite3.SQLITE_DENY if restoring else sqlite3.SQLITE_OK

    try:
        with pytest.raises(StoreUnavailableError, match="not authorized"):
            _write_then_refuse_full(connections, refuse_full)
        assert _synchronous(connections, durable=True) == FULL
        with store.engine.connect() as conn:
            tables = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE name = 'kept'")
            assert tables.first() is not None  # committed before the setting was put back
    finally:
        store.close()


def test_sqlite_opened_without_fsyncs_stays_so(tmp_path: Path) -> None:
    store = open_sqlite_store(tmp_path / "w.db", synchronous="normal")
    connections = Connections(store.engine)
    try:
        assert _synchronous(connections, durable=False) == NORMAL
        assert _synchronous(connections, durable=True) == NORMAL
    finally:
        store.close()


def test_only_the_fold_skips_the_fsync(tmp_path: Path) -> None:
    """The statements the driver runs: the stage's commit under FULL, the fold's under
    NORMAL, and FULL again after it."""
    store = open_sqlite_store(tmp_path / "w.db")
    statements: list[str] = []
    try:
        with store.engine.connect() as conn:
            driver = conn.connection.driver_connection
            assert isinstance(driver, sqlite3.Connection)
            driver.set_trace_callback(statements.append)
        readings = [Reading(f"dev{i}", 1_000 + i, {"power_w": 1.0}, i) for i in range(20)]
        devices = sorted({r.device_id for r in readings})
        store.stage(
            CommitBatch(
                readings=readings,
                seen_ms=dict.fromkeys(devices, 2_000),
                register=devices,
                arrival_order=list(readings),
            )
        )
        staged_until = len(statements)
        assert store.fold(max_devices=100) is not None
    finally:
        store.close()
    stage, fold = statements[:staged_until], statements[staged_until:]
    assert not any(s.startswith("PRAGMA synchronous") for s in stage)
    assert "COMMIT" in stage
    begin, commit = fold.index("BEGIN IMMEDIATE"), fold.index("COMMIT")
    assert f"PRAGMA synchronous={NORMAL}" in fold[:begin]
    assert f"PRAGMA synchronous={FULL}" in fold[commit:]


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    made = create_engine(psycopg_url(postgres_url), pool_size=1, max_overflow=0)
    yield made
    made.dispose()


def test_postgres_commits_that_transaction_alone_asynchronously(pg_engine: Engine) -> None:
    connections = Connections(pg_engine)

    def synchronous_commit(*, durable: bool) -> str:
        with connections.write(durable=durable) as conn:
            return str(conn.execute(text("SHOW synchronous_commit")).scalar_one())

    assert synchronous_commit(durable=False) == "off"
    # one pooled connection: SET LOCAL ended with the transaction
    assert synchronous_commit(durable=True) == "on"
