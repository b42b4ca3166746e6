"""Each device's dropped and corrected samples are counted where a user can see them.

Issue 8: the gaps endpoint said `duplicates: 62` after 219 duplicate readings
were dropped; the others had no seq (or came from an earlier boot) and were
dropped by (device, metric, ts), counted only in /metrics.
"""

from __future__ import annotations

from wattline.model.messages import Reading
from wattline.storage.base import CommitBatch, DedupCounts
from wattline.storage.sql import SqlStore

T0 = 1_764_057_600_000


def commit(store: SqlStore, readings: list[Reading]) -> None:
    seen = {r.device_id: T0 for r in readings}
    store.commit(CommitBatch(readings=readings, seen_ms=seen, register=list(seen)))


def unsequenced(device: str, count: int, value: float = 1.0) -> list[Reading]:
    return [
        Reading(device, T0 + i * 1000, {"power_w": value, "voltage_v": 230.0}) for i in range(count)
    ]


def test_redelivered_unsequenced_readings_are_counted_per_device(store: SqlStore) -> None:
    commit(store, unsequenced("plug-a", 5) + unsequenced("plug-b", 2))
    assert store.dedup_counts("plug-a") == DedupCounts(0, 0)

    # the same readings again, plus one new one; two samples per reading
    commit(store, unsequenced("plug-a", 6))
    assert store.dedup_counts("plug-a") == DedupCounts(duplicate_samples=10, corrected_samples=0)
    assert store.dedup_counts("plug-b") == DedupCounts(0, 0)


def test_corrections_and_repeats_inside_one_batch_are_counted(store: SqlStore) -> None:
    commit(store, unsequenced("plug-c", 3))
    # a new power value for each stored reading; voltage unchanged
    commit(store, unsequenced("plug-c", 3, value=2.0))
    assert store.dedup_counts("plug-c") == DedupCounts(duplicate_samples=3, corrected_samples=3)
    # one batch holding a new reading twice, its second copy with another value
    twice = [Reading("plug-c", T0 + 60_000, {"power_w": 1.0}), *unsequenced("plug-c", 0)]
    twice.append(Reading("plug-c", T0 + 60_000, {"power_w": 5.0}))
    commit(store, twice)
    assert store.dedup_counts("plug-c") == DedupCounts(duplicate_samples=3, corrected_samples=4)


def test_an_unknown_device_has_no_counts(store: SqlStore) -> None:
    assert store.dedup_counts("nobody") is None
