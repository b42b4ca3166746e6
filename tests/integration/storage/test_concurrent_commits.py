"""Two collectors committing the same devices' readings at once: each reading stored
once, the rollups and the sequence state equal to one collector's.

The commit inserts a batch's samples before it locks the devices' sequence rows
(``storage/sql/commit.py``), so on PostgreSQL two transactions insert side by
side and a redelivered reading can reach both: one stores it, the other finds it
stored (a unique violation first, its RETURNING retry after), and that one's
sequencing drops it, undoing its early insert.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from wattline.model.messages import Reading
from wattline.storage import schema
from wattline.storage.base import CommitBatch
from wattline.storage.rollups import DAY_MS
from wattline.storage.sql import SqlStore

CLOSED_DAY = 1_764_057_600_000  # 2025-11-25T08:00Z
DEVICES = [f"cc{i}" for i in range(5)]
SEQS = 200
PER_BATCH = 10  # seqs per device per batch


def _reading(t0: int, device: str, seq: int) -> Reading:
    return Reading(device, t0 + seq * 1_000, {"power_w": float(seq), "energy_wh": 2.0 * seq}, seq)


def _batches(t0: int, collector: int) -> list[list[Reading]]:
    """Collector 0 the even seqs from 2, 1 the odd ones, in order; each batch also
    redelivers one of the other collector's readings, which may or may not be
    stored yet. (Seq 0, committed first, starts every device's count.)"""
    own = list(range(2 - collector, SEQS, 2))
    batches = []
    for start in range(0, len(own), PER_BATCH):
        seqs = own[start : start + PER_BATCH]
        other = seqs[0] + (1 if collector == 0 else -1)
        readings = [_reading(t0, d, s) for s in seqs for d in DEVICES]
        readings += [_reading(t0, d, other) for d in DEVICES if 0 < other < SEQS]
        batches.append(readings)
    return batches


@pytest.mark.parametrize("how", ["commit", "stage"])
@pytest.mark.parametrize("day", ["today", "closed"])
def test_two_collectors_on_the_same_devices_store_each_reading_once(
    store: SqlStore, day: str, how: str
) -> None:
    """Today's batches insert before sequencing; a closed day's are sequenced first.
    Staging collectors (ADR 0033) fold two devices' rows after each batch, at once
    (on PostgreSQL a fold skips the rows the other's holds)."""
    now_ms = time.time_ns() // 1_000_000
    t0 = now_ms - now_ms % DAY_MS + 60_000 if day == "today" else CLOSED_DAY
    store.commit(
        CommitBatch(
            readings=[_reading(t0, d, 0) for d in DEVICES],
            seen_ms=dict.fromkeys(DEVICES, t0),
            register=DEVICES,
        )
    )
    errors: list[BaseException] = []
    duplicates = [0, 0]
    start = threading.Barrier(2)

    def collect(collector: int) -> None:
        try:
            start.wait(10)
            for readings in _batches(t0, collector):
                batch = CommitBatch(readings=readings, seen_ms=dict.fromkeys(DEVICES, t0))
                if how == "commit":
                    duplicates[collector] += store.commit(batch).readings_seq_duplicate
                    continue
                store.stage(batch)
                folded = store.fold(2)
                duplicates[collector] += folded.readings_seq_duplicate if folded else 0
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=collect, args=(c,)) for c in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    while (folded := store.fold(len(DEVICES))) is not None:
        duplicates[0] += folded.readings_seq_duplicate
    offered = sum(len(batch) for c in (0, 1) for batch in _batches(t0, c))
    redelivered = offered - (SEQS - 1) * len(DEVICES)
    assert sum(duplicates) == redelivered

    s, r = schema.samples.c, schema.rollup_1m.c
    with store._connections.read() as conn:
        stored = conn.execute(
            select(s.device_id, s.metric, func.count(), func.sum(s.value)).group_by(
                s.device_id, s.metric
            )
        ).all()
        rolled = conn.execute(
            select(r.device_id, r.metric, func.sum(r.sample_count), func.sum(r.value_sum)).group_by(
                r.device_id, r.metric
            )
        ).all()
    total = sum(range(SEQS))
    expected = {
        (d, m, SEQS, float(k * total))
        for d in DEVICES
        for m, k in (("power_w", 1), ("energy_wh", 2))
    }
    assert {tuple(row) for row in stored} == expected
    assert {tuple(row) for row in rolled} == expected
    for device in DEVICES:
        state = store.sequence_state(device)
        assert state is not None
        assert (state.next_seq, state.gaps) == (SEQS, ())
    latest = store.latest_values(DEVICES)
    assert {(d, v.metric, v.value) for d in DEVICES for v in latest[d]} == {
        (d, m, k * (SEQS - 1.0)) for d in DEVICES for m, k in (("power_w", 1), ("energy_wh", 2))
    }
