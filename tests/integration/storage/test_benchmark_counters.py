"""The ingest benchmark's store counters (benchmarks/ingest.py) against real stores.

They poll a store every 20 ms while it is measured, so they ask over one
connection held for the run; these tests check that the held connection still
sees each new commit, that it stays one connection, and that the SQLite counter
never creates the file it waits for.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tests.benchmark_modules import load_benchmark
from tests.integration.conftest import reset_postgres

from wattline.model.messages import Reading
from wattline.storage.base import CommitBatch
from wattline.storage.postgres import open_postgres_store
from wattline.storage.sql import SqlStore
from wattline.storage.sqlite import open_sqlite_store

T0 = 1_764_057_600_000
METRICS = ("power_w", "energy_wh")

harness = load_benchmark("ingest")


def commit(store: SqlStore, device: str, seqs: range) -> None:
    readings = tuple(
        Reading(device_id=device, ts_ms=T0 + seq, metrics=dict.fromkeys(METRICS, 1.0), seq=seq)
        for seq in seqs
    )
    store.commit(CommitBatch(readings=readings, seen_ms={device: T0}, register=[device]))


@pytest.fixture(params=["sqlite", "postgres"])
def store_and_counter(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    if request.param == "sqlite":
        store = open_sqlite_store(tmp_path / "wattline.db")
        counter = harness.sqlite_counter(tmp_path / "wattline.db", len(METRICS))
    else:
        url: str = request.getfixturevalue("postgres_url")
        store = open_postgres_store(url)
        reset_postgres(url)
        counter = harness.postgres_counter(url, len(METRICS))
    yield store, counter
    counter.close()
    store.close()


def test_the_held_connection_sees_every_commit(store_and_counter: tuple[Any, Any]) -> None:
    store, count = store_and_counter
    assert count.estimate() == 0
    commit(store, "d1", range(3))
    assert (count.estimate(), count(), count.of_device("d1")) == (3, 3, 3)
    # a snapshot kept from the first question would still say 3
    commit(store, "d1", range(3, 10))
    commit(store, "d2", range(4))
    assert (count.estimate(), count(), count.of_device("d1")) == (14, 14, 10)


def test_the_postgres_counter_asks_over_one_connection(postgres_url: str) -> None:
    store = open_postgres_store(postgres_url)
    reset_postgres(postgres_url)
    count = harness.postgres_counter(postgres_url, len(METRICS))
    try:
        commit(store, "d1", range(5))
        store.close()  # its pool's connections are not the counter's
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            others = (
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert admin.execute(others).fetchall() == []
            assert count.estimate() == 5
            held = admin.execute(others).fetchall()
            assert len(held) == 1
            for _ in range(20):
                assert count.estimate() == 5
            assert admin.execute(others).fetchall() == held
        count.close()
        # closed, it connects again when asked
        assert count.estimate() == 5
    finally:
        count.close()
        store.close()


def test_the_sqlite_counter_waits_for_the_file_without_making_it(tmp_path: Path) -> None:
    path = tmp_path / "wattline.db"
    count = harness.sqlite_counter(path, len(METRICS))
    assert (count.estimate(), count()) == (0, 0)
    assert not path.exists()
    store = open_sqlite_store(path)
    try:
        commit(store, "d1", range(6))
        assert (count.estimate(), count()) == (6, 6)
    finally:
        count.close()
        store.close()
