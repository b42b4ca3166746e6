"""PostgreSQL's pooled connections are checked only after sitting idle (``ping_when_idle``).

A ping before every checkout was a round trip of every read and commit; now a
connection returned less than a second ago goes out unchecked. These tests kill
a pooled connection's server process and see what the next read does.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text
from tests.integration.conftest import POSTGRES_ADMIN_URL

from wattline.storage import postgres
from wattline.storage.base import StoreUnavailableError
from wattline.storage.sql import SqlStore

IDLE_S = 0.2


@pytest.fixture
def store(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[SqlStore]:
    monkeypatch.setattr(postgres, "_PING_AFTER_IDLE_S", IDLE_S)
    opened = postgres.open_postgres_store(postgres_url)
    yield opened
    opened.close()


@pytest.fixture
def pings(store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per ping the pool sends (the dialect's own check, counted)."""
    sent: list[int] = []
    dialect = store.engine.dialect
    ping = dialect._do_ping_w_event

    def counted(dbapi_connection: object) -> bool:
        sent.append(1)
        return ping(dbapi_connection)  # type: ignore[arg-type]

    monkeypatch.setattr(dialect, "_do_ping_w_event", counted)
    return sent


def server_pid(store: SqlStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def kill(pid: int) -> None:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_a_connection_back_moments_ago_goes_out_unpinged(store: SqlStore, pings: list[int]) -> None:
    server_pid(store)
    pings.clear()
    for _ in range(5):
        store.list_devices(tenant_id="default")
    assert pings == []


def test_a_connection_idle_longer_is_pinged_and_replaced_when_dead(
    store: SqlStore, pings: list[int]
) -> None:
    first = server_pid(store)
    kill(first)
    time.sleep(IDLE_S * 2)
    pings.clear()
    store.list_devices(tenant_id="default")  # no error: the pool replaced it
    assert pings, "the idle connection was not checked"
    assert server_pid(store) != first


def test_a_connection_killed_while_busy_fails_once_then_the_pool_recovers(
    store: SqlStore,
) -> None:
    kill(server_pid(store))
    with pytest.raises(StoreUnavailableError):
        store.list_devices(tenant_id="default")
    store.list_devices(tenant_id="default")  # a fresh connection
