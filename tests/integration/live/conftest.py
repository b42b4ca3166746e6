from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.live.server import LiveServer

from wattline.storage.sql import SqlStore
from wattline.storage.sqlite import open_sqlite_store

T0 = 1_764_057_600_000


def two_tenants(store: SqlStore) -> SqlStore:
    """dev-a, dev-a2 (default tenant), dev-b (t2), home (default, a HyperVolt location)."""
    store.register_device("dev-a", "meter", T0, ["roof"], tenant_id="default")
    store.register_device("dev-a2", "smart_plug", T0, tenant_id="default")
    store.register_device("home", None, T0, tenant_id="default")
    store.register_device("dev-b", "meter", T0, ["roof"], tenant_id="t2")
    return store


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqlStore]:
    store = open_sqlite_store(tmp_path / "wattline.db")
    yield store
    store.close()


@pytest.fixture
def live(sqlite_store: SqlStore) -> Iterator[LiveServer]:
    server = LiveServer(two_tenants(sqlite_store)).start()
    yield server
    server.stop()
