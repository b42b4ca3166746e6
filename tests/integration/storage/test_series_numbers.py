"""Series numbers (ADR 0036): made before a transaction uses them, never taken back, and
made on the spot for staged readings or blocks that an earlier release left unnumbered."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import DBAPIError

from wattline.model.messages import Reading
from wattline.storage import schema
from wattline.storage.base import CommitBatch
from wattline.storage.postgres import open_postgres_store
from wattline.storage.rollups import DAY_MS
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore
from wattline.storage.sqlite import open_sqlite_store

T0 = 1_764_057_600_000  # 2025-11-25, a closed day


def _numbers(engine: Engine) -> dict[tuple[str, str], int]:
    s = schema.series.c
    with engine.connect() as conn:
        rows = conn.execute(select(s.device_id, s.metric, s.series_id))
        return {(d, m): n for d, m, n in rows}


def _points(store: SqlStore, device_id: str) -> list[tuple[int, dict[str, float]]]:
    return [(p.ts_ms, p.metrics) for p in store.raw_points(device_id, 0, 2**62, None, 1000)]


def _reopened(store: SqlStore) -> SqlStore:
    """The same database through a second store: another process, with an empty cache."""
    url = store.engine.url
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        return open_sqlite_store(Path(url.database))
    return open_postgres_store(
        url.set(drivername="postgresql").render_as_string(hide_password=False)
    )


def test_a_series_is_numbered_once_and_its_number_kept_across_stores(store: SqlStore) -> None:
    store.commit(CommitBatch(readings=[Reading("d1", T0, {"p": 1.0, "v": 2.0})], register=["d1"]))
    first = _numbers(store.engine)
    other = _reopened(store)
    try:
        other.commit(CommitBatch(readings=[Reading("d1", T0 + 1, {"p": 3.0, "q": 4.0})]))
    finally:
        other.close()
    numbers = _numbers(store.engine)
    assert set(numbers) == {("d1", "p"), ("d1", "v"), ("d1", "q")}
    assert {key: numbers[key] for key in first} == first
    assert _points(store, "d1") == [(T0, {"p": 1.0, "v": 2.0}), (T0 + 1, {"p": 3.0, "q": 4.0})]


def test_a_failed_commit_cannot_leave_a_number_another_series_takes(store: SqlStore) -> None:
    """A number made inside a transaction that then failed could be given again (SQLite
    reuses the highest rowid) while a process still held it: numbers are committed first."""
    refused = Reading("d1", T0, {"a": 1.0}, seq=2**63)  # no BIGINT column holds that seq
    with pytest.raises((OverflowError, DBAPIError)):
        store.commit(CommitBatch(readings=[refused], register=["d1"]))
    other = _reopened(store)
    try:
        other.commit(CommitBatch(readings=[Reading("d2", T0, {"b": 2.0})], register=["d2"]))
    finally:
        other.close()
    store.commit(CommitBatch(readings=[Reading("d1", T0 + 1, {"a": 3.0})], register=["d1"]))
    assert _points(store, "d1") == [(T0 + 1, {"a": 3.0})]
    assert _points(store, "d2") == [(T0, {"b": 2.0})]


def test_readings_staged_unnumbered_are_numbered_when_folded(store: SqlStore) -> None:
    """Readings an earlier release staged, whose series have no number, fold all the same."""
    readings = [Reading("d1", T0 + i, {"p": float(i), "new": 1.0}, seq=i) for i in range(3)]
    store.stage(CommitBatch(readings=readings, register=["d1"], seen_ms={"d1": T0}))
    with store.engine.begin() as conn:
        conn.execute(delete(schema.series))  # as if staged before migration 0024
    later = _reopened(store)
    try:
        result = later.fold(max_devices=10)
        assert result is not None
        assert result.samples_inserted == 6
        # and a commit of the same device finds them waiting, as after a restart
        later.stage(CommitBatch(readings=[Reading("d1", T0 + 9, {"x": 9.0}, seq=3)]))
        with later.engine.begin() as conn:
            conn.execute(delete(schema.series).where(schema.series.c.metric == "x"))
        fresh = _reopened(store)
        try:
            # its own series numbered first; the waiting row's, unnumbered, on a retry
            fresh.commit(CommitBatch(readings=[Reading("d1", T0 + 10, {"y": 10.0}, seq=4)]))
        finally:
            fresh.close()
    finally:
        later.close()
    assert [ts for ts, _ in _points(store, "d1")] == [T0, T0 + 1, T0 + 2, T0 + 9, T0 + 10]
    assert set(_numbers(store.engine)) == {("d1", m) for m in ("p", "new", "x", "y")}


def test_a_block_whose_series_has_no_number_reopens(store: SqlStore) -> None:
    """A closed day compacted before migration 0024 (no sample row left to number its
    series from) is reopened by a late reading like any other."""
    day = T0 - T0 % DAY_MS
    store.commit(
        CommitBatch(readings=[Reading("d1", day + i * 60_000, {"p": float(i)}) for i in range(5)])
    )
    assert store.compact_before(day + DAY_MS).rows > 0
    with store.engine.begin() as conn:
        assert conn.scalar(select(func.count()).select_from(schema.sample_rows)) == 0
        conn.execute(delete(schema.series))
    later = _reopened(store)
    try:
        later.commit(CommitBatch(readings=[Reading("d1", day + 30_000, {"p": 0.5})]))
    finally:
        later.close()
    values = [metrics["p"] for _, metrics in _points(store, "d1")]
    assert values == [0.0, 0.5, 1.0, 2.0, 3.0, 4.0]


def test_a_removed_device_keeps_its_numbers_and_gets_them_back(store: SqlStore) -> None:
    store.commit(CommitBatch(readings=[Reading("d1", T0, {"p": 1.0})], register=["d1"]))
    before = _numbers(store.engine)
    removed = store.delete_device("d1", tenant_id=DEFAULT_TENANT)
    assert removed is not None
    assert removed["samples"] == 1
    assert _numbers(store.engine) == before  # names only; nothing the device measured
    store.commit(CommitBatch(readings=[Reading("d1", T0 + 1, {"p": 2.0})], register=["d1"]))
    assert _numbers(store.engine) == before
    assert _points(store, "d1") == [(T0 + 1, {"p": 2.0})]


@pytest.mark.parametrize("count", [1, 40])
def test_two_stores_numbering_the_same_new_series_agree(store: SqlStore, count: int) -> None:
    metrics = {f"m{i:02d}": float(i) for i in range(count)}
    other = _reopened(store)
    try:
        store.commit(CommitBatch(readings=[Reading("d1", T0, metrics)], register=["d1"]))
        other.commit(CommitBatch(readings=[Reading("d1", T0 + 1, metrics)]))
    finally:
        other.close()
    assert len(_numbers(store.engine)) == count
    assert [m for _, m in _points(store, "d1")] == [metrics, metrics]
