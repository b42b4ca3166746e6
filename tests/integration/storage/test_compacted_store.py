"""The store contracts again, over compacted days (ADR 0018).

The ``store`` fixture here packs every closed day into blocks after each
commit, so every contract test, dedup count and DuckDB comparison below meets
blocks: late readings, redeliveries and corrections land in compacted days and
reopen them. The tests' timestamps (November 2025/2026) are all closed days.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import func, select

# Re-collected here, with this module's ``store``.
from tests.integration.storage.test_dedup_counts import (  # noqa: F401
    test_corrections_and_repeats_inside_one_batch_are_counted,
    test_redelivered_unsequenced_readings_are_counted_per_device,
)
from tests.integration.storage.test_rollup_tiers import (  # noqa: F401
    SPAN_MS,
    T0,
    _commit_stream,
    _oracle,
    _same,
    _stored_tier,
    streams,
    test_queries_from_every_tier_that_can_answer_agree_with_duckdb,
)
from tests.integration.storage.test_store_contract import (  # noqa: F401
    test_a_historical_batch_moves_last_seen_only_to_its_newest_reading,
    test_a_new_value_for_an_existing_key_is_a_counted_correction,
    test_latest_follows_the_reading_timestamp_not_arrival,
    test_raw_points_limit_whole_readings_and_filter_fields,
    test_redelivered_readings_are_stored_once,
    test_sequence_duplicates_are_dropped_and_gaps_recorded,
)

from wattline.storage import schema
from wattline.storage.base import CommitBatch, CommitResult
from wattline.storage.block_tables import M1, unpack_rows
from wattline.storage.rollups import DAY_MS, TIERS, Tier
from wattline.storage.sql import SqlStore

_example = iter(range(10**9))


def _today_ms() -> int:
    now_ms = time.time_ns() // 1_000_000
    return now_ms - now_ms % DAY_MS


@pytest.fixture
def store(store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> SqlStore:
    """The backend's store, packing every closed day right after each commit."""
    commit = store.commit

    def commit_then_compact(batch: CommitBatch) -> CommitResult:
        result = commit(batch)
        store.compact_before(_today_ms())
        return result

    monkeypatch.setattr(store, "commit", commit_then_compact)
    return store


def _rows(store: SqlStore, table: Any) -> int:
    with store.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)) or 0)


def _tier_with_blocks(store: SqlStore, tier: Tier, prefix: str) -> dict[Any, tuple[Any, ...]]:
    stored = _stored_tier(store, tier, prefix)
    if tier is Tier.M1:
        b = schema.rollup_1m_blocks.c
        with store.engine.connect() as conn:
            found = conn.execute(
                select(b.device_id, b.metric, b.payload).where(b.device_id.startswith(prefix))
            ).all()
        for device_id, metric, payload in found:
            for bucket_ms, *rest in unpack_rows(M1, bytes(payload)):
                assert (device_id, metric, bucket_ms) not in stored  # a day is rows or a block
                stored[device_id, metric, bucket_ms] = tuple(rest)
    return stored


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=streams)
def test_every_tier_over_blocks_equals_duckdb(store: SqlStore, batches: list[list[Any]]) -> None:
    prefix = f"c{next(_example)}-"
    final = _commit_stream(store, prefix, batches)
    stored_raw = {
        (f"{prefix}{d}", metric, p.ts_ms): value
        for d in ("a", "b")
        for p in store.raw_points(f"{prefix}{d}", T0, T0 + SPAN_MS, None, 10_000)
        for metric, value in p.metrics.items()
    }
    assert stored_raw == final
    for tier in TIERS:
        stored = _tier_with_blocks(store, tier, prefix)
        want = _oracle(final, tier.width_ms)
        assert stored.keys() == want.keys(), tier
        for key, row in stored.items():
            assert _same(row, want[key]), (tier, key, row, want[key])
    # Everything closed is packed: no sample row is left behind.
    assert _rows(store, schema.samples) == 0
    assert _rows(store, schema.rollup_1m) == 0
