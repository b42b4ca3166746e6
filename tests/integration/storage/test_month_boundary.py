"""Readings either side of a UTC month boundary: one partition each on PostgreSQL, one answer."""

from __future__ import annotations

import pytest
from tests.integration.storage.raw_buckets import raw_buckets

from wattline.model.messages import Reading
from wattline.storage.base import CommitBatch
from wattline.storage.partitions import Month
from wattline.storage.sql import SqlStore

DEC_2026 = Month(2026, 12)
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


def commit(store: SqlStore, *timestamps_ms: int, device: str = "d1") -> int:
    readings = [Reading(device, ts, {"power_w": float(i)}) for i, ts in enumerate(timestamps_ms)]
    batch = CommitBatch(readings=readings, seen_ms={device: timestamps_ms[-1]}, register=[device])
    return store.commit(batch).samples_inserted


def test_data_across_a_month_boundary_is_read_in_one_call(store: SqlStore) -> None:
    edge = DEC_2026.start_ms
    timestamps = [edge - 120_000 + i * 30_000 for i in range(8)]  # 4 in November, 4 in December
    assert commit(store, *timestamps) == 8
    points = store.raw_points("d1", edge - HOUR_MS, edge + HOUR_MS, None, 100)
    assert [p.ts_ms for p in points] == timestamps
    assert [p.metrics["power_w"] for p in points] == [float(i) for i in range(8)]
    for interval_ms in (HOUR_MS, DAY_MS):
        buckets = raw_buckets(store, "d1", edge - DAY_MS, edge + DAY_MS, interval_ms, None)
        assert [(b.start_ms, b.metrics["power_w"].count) for b in buckets] == [
            (edge - interval_ms, 4),
            (edge, 4),
        ]
    wide = raw_buckets(store, "d1", edge - DAY_MS, edge + DAY_MS, 7 * DAY_MS, None)
    assert sum(b.metrics["power_w"].count for b in wide) == 8


@pytest.mark.parametrize(
    ("ts_ms", "month", "name"),
    [
        (0, Month(1970, 1), "sample_rows_1970_01"),
        (-1, Month(1969, 12), "sample_rows_1969_12"),
        (DEC_2026.start_ms - 1, Month(2026, 11), "sample_rows_2026_11"),
        (DEC_2026.start_ms, Month(2026, 12), "sample_rows_2026_12"),
        (1_772_323_199_999, Month(2026, 2), "sample_rows_2026_02"),  # 2026-02-28T23:59:59.999Z
        (951_782_400_000, Month(2000, 2), "sample_rows_2000_02"),  # 2000-02-29, a leap day
    ],
)
def test_the_month_of_a_timestamp(ts_ms: int, month: Month, name: str) -> None:
    assert Month.of(ts_ms) == month
    assert month.name == name
    assert month.start_ms <= ts_ms < month.end_ms


def test_months_datetime_cannot_bound_are_left_to_the_default_partition() -> None:
    assert Month.of(10**18) is None
    assert Month.of(253_402_300_799_999) is None  # 9999-12-31T23:59:59.999Z
    assert Month(2026, 12).end_ms == Month(2027, 1).start_ms
