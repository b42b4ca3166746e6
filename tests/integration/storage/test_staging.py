"""Staged commits (ADR 0033), on both backends.

Staging batches and folding them in parts, in any order of parts, stores what
committing the batches one by one stores: samples, the rollup tiers, latest
values, sequence state and the devices' dedup counters. Staged rows outlive
the process that staged them; a row the store refuses to fold is quarantined
rather than retried forever; rows younger than a fold's minimum age wait.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Table, func, insert, select

from wattline.model.messages import Hello, Reading
from wattline.storage import schema
from wattline.storage.base import CommitBatch
from wattline.storage.postgres import open_postgres_store
from wattline.storage.rollups import DAY_MS
from wattline.storage.sql import SqlStore
from wattline.storage.sqlite import open_sqlite_store

CLOSED_DAY = 1_764_057_600_000  # 2025-11-25T08:00Z

readings = st.builds(
    Reading,
    device_id=st.sampled_from(["a", "b", "c"]),
    ts_ms=st.integers(0, 5_000),
    metrics=st.dictionaries(
        st.sampled_from(["power_w", "voltage_v"]), st.sampled_from([1.0, 2.0, 3.5]), min_size=1
    ),
    seq=st.none() | st.integers(0, 6),
)
events = st.lists(
    readings | st.builds(Hello, st.sampled_from(["a", "b", "c"]), st.just("meter"), st.just("1.0")),
    min_size=1,
    max_size=10,
)
# after staging a batch: fold nothing, or the staged rows of this many devices
folds_after = st.lists(st.none() | st.integers(1, 3), max_size=2)


def _batch(arrival: list[Reading | Hello], prefix: str, t0: int, seen_ms: int) -> CommitBatch:
    renamed = [
        Reading(prefix + e.device_id, t0 + e.ts_ms, e.metrics, e.seq)
        if isinstance(e, Reading)
        else Hello(prefix + e.device_id, e.device_type, e.firmware_version)
        for e in arrival
    ]
    devices = sorted({e.device_id for e in renamed})
    return CommitBatch(
        readings=[e for e in renamed if isinstance(e, Reading)],
        hellos=[e for e in renamed if isinstance(e, Hello)],
        seen_ms=dict.fromkeys(devices, seen_ms),
        register=devices,
        arrival_order=renamed,
    )


def _rows(store: SqlStore, table: Table, prefix: str, leave_out: tuple[str, ...] = ()) -> list[Any]:
    columns = [c for c in table.c if c.name not in leave_out]
    query = select(*columns).where(table.c.device_id.startswith(prefix, autoescape=True))
    with store.engine.connect() as conn:
        rows = [list(row) for row in conn.execute(query)]
    for row in rows:
        row[0] = row[0].removeprefix(prefix)
    return sorted(rows, key=repr)


def _without_detection_times(gaps: str) -> list[list[int]]:
    """A gap's time of detection is the clock's when it was sequenced, not the data's."""
    return [gap[:3] for gap in json.loads(gaps)]


def stored_state(store: SqlStore, prefix: str) -> dict[str, Any]:
    """Everything a commit writes about the devices under ``prefix``, without the prefix."""
    sequence = _rows(store, schema.seq_state, prefix)
    for row in sequence:
        row[7] = _without_detection_times(row[7])
    return {
        "samples": _rows(store, schema.samples, prefix),
        "rollup_1m": _rows(store, schema.rollup_1m, prefix),
        "rollup_1h": _rows(store, schema.rollup_1h, prefix),
        "rollup_1d": _rows(store, schema.rollup_1d, prefix),
        "latest": _rows(store, schema.latest, prefix),
        "seq_state": sequence,
        "devices": [
            row
            for row in _rows(store, schema.devices, prefix)
            if row.__setitem__(4, None) is None  # registered at the clock's time
        ],
    }


def _fold_everything(store: SqlStore) -> None:
    while store.fold(100) is not None:
        pass


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=st.lists(st.tuples(events, st.booleans(), folds_after), min_size=1, max_size=5))
def test_staging_and_folding_in_any_parts_stores_what_committing_stores(
    store: SqlStore, batches: list[tuple[list[Reading | Hello], bool, list[int | None]]]
) -> None:
    """Some batches of the staged side are committed whole meanwhile (as the collector
    does with large ones): their devices' staged rows go first."""
    # One namespace per run of an example: the store outlives them, and hypothesis
    # runs a failing example again.
    example = f"st{uuid.uuid4().hex[:12]}"
    for index, (arrival, whole, folds) in enumerate(batches):
        seen_ms = CLOSED_DAY + 10_000 + index
        store.commit(_batch(arrival, f"{example}-c-", CLOSED_DAY, seen_ms))
        write = store.commit if whole else store.stage
        write(_batch(arrival, f"{example}-s-", CLOSED_DAY, seen_ms))
        for devices in folds:
            if devices is not None:
                store.fold(devices)
    _fold_everything(store)
    assert stored_state(store, f"{example}-s-") == stored_state(store, f"{example}-c-")


def test_todays_readings_fold_like_they_commit(store: SqlStore) -> None:
    """Live data takes the commit's early insert (ADR 0032) in the fold too."""
    now_ms = time.time_ns() // 1_000_000
    today = now_ms - now_ms % DAY_MS
    arrivals: list[list[Reading | Hello]] = [
        [Reading(d, 1_000 * i, {"power_w": float(i)}, i) for i in range(20) for d in "ab"],
        [Reading("a", 1_000 * i, {"power_w": float(i)}, i) for i in range(15, 30)],  # redelivery
        [Hello("b", "meter", "2.0"), Reading("b", 40_000, {"power_w": 7.0}, 0)],  # reboot
        [Reading("a", 5_000, {"power_w": 99.0}, None)],  # a correction
    ]
    for index, arrival in enumerate(arrivals):
        store.commit(_batch(arrival, "today-c-", today, now_ms + index))
        store.stage(_batch(arrival, "today-s-", today, now_ms + index))
        store.fold(1)
    _fold_everything(store)
    state = stored_state(store, "today-s-")
    assert state == stored_state(store, "today-c-")
    assert len(state["samples"]) == 30 + 21  # a: seqs 0-29; b: 0-19 and one after its reboot


def _staged(store: SqlStore) -> list[tuple[str, int | None]]:
    s = schema.staged.c
    query = select(s.device_id, s.received_ms).order_by(s.id)
    with store.engine.connect() as conn:
        return [(device, received) for device, received in conn.execute(query)]


def _reading(device: str, i: int) -> Reading:
    return Reading(device, CLOSED_DAY + i * 1_000, {"energy_wh": float(i)}, i)


def _stage(store: SqlStore, events: list[Reading | Hello], seen_ms: int = CLOSED_DAY) -> None:
    devices = sorted({e.device_id for e in events})
    store.stage(
        CommitBatch(
            readings=[e for e in events if isinstance(e, Reading)],
            hellos=[e for e in events if isinstance(e, Hello)],
            seen_ms=dict.fromkeys(devices, seen_ms),
            register=devices,
            arrival_order=events,
        )
    )


def test_a_stage_writes_one_row_per_device_and_the_rest_at_once(store: SqlStore) -> None:
    _stage(store, [_reading("r1", 0), Hello("r2", "plug", "3.1"), _reading("r1", 1)], 42)
    assert _staged(store) == [("r1", 42), ("r2", 42)]
    # devices, hellos and last-seen times are written by the stage itself
    device = store.get_device("r2", tenant_id="default")
    assert device is not None
    assert (device.firmware_version, device.last_seen_ms) == ("3.1", 42)
    assert store.raw_points("r1", CLOSED_DAY, CLOSED_DAY + 10_000, None, 10) == []
    result = store.fold(10)
    assert result is not None
    assert (result.samples_offered, result.samples_inserted) == (2, 2)
    assert _staged(store) == []
    assert len(store.raw_points("r1", CLOSED_DAY, CLOSED_DAY + 10_000, None, 10)) == 2
    assert store.fold(10) is None


def test_a_fold_takes_the_devices_staged_longest_ago_with_all_their_rows(store: SqlStore) -> None:
    _stage(store, [_reading("o1", 0), _reading("o2", 0)])
    _stage(store, [_reading("o3", 1), _reading("o1", 1)])
    result = store.fold(1)
    assert result is not None
    assert result.samples_inserted == 2  # both of o1's rows, in the order staged
    assert [device for device, _ in _staged(store)] == ["o2", "o3"]
    assert store.fold(5) is not None
    assert _staged(store) == []


def test_rows_younger_than_the_minimum_age_wait(store: SqlStore) -> None:
    _stage(store, [_reading("y1", 0)])
    assert store.fold(10, min_age_ms=60_000) is None
    assert len(_staged(store)) == 1
    assert store.fold(10, min_age_ms=0) is not None


def test_a_row_the_store_cannot_fold_is_quarantined_and_the_rest_folded(store: SqlStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            insert(schema.staged).values(
                device_id="bad1", received_ms=CLOSED_DAY, staged_ms=0, events=b"\xc1not msgpack"
            )
        )
    _stage(store, [_reading("good1", 0), _reading("good1", 1)])
    result = store.fold(10)
    assert result is not None
    assert result.samples_inserted == 2
    assert _staged(store) == []
    [entry] = store.quarantine(10)
    assert (entry.topic, entry.reason, entry.payload) == (
        "staged/bad1",
        "store_rejected",
        b"\xc1not msgpack",
    )
    assert "StagedEventError" in entry.detail


def test_staged_rows_outlive_the_store_that_staged_them(
    store: SqlStore, request: Any, tmp_path: Path
) -> None:
    _stage(store, [_reading("k1", i) for i in range(5)])
    if store.engine.dialect.name == "sqlite":
        assert store.engine.url.database is not None
        later = open_sqlite_store(Path(store.engine.url.database))
    else:
        later = open_postgres_store(request.getfixturevalue("postgres_url"))
    try:
        _fold_everything(later)
        assert len(later.raw_points("k1", CLOSED_DAY, CLOSED_DAY + 10_000, None, 10)) == 5
    finally:
        later.close()
    with store.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(schema.staged)) == 0


def test_a_batch_committed_whole_folds_its_devices_staged_rows_first(store: SqlStore) -> None:
    _stage(store, [_reading("w1", i) for i in range(5)] + [_reading("w2", 0)])
    result = store.commit(
        CommitBatch(readings=[_reading("w1", i) for i in range(5, 10)], seen_ms={"w1": 7})
    )
    assert result.samples_inserted == 10
    assert result.readings_seq_duplicate == 0
    assert [device for device, _ in _staged(store)] == ["w2"]  # another device's row waits
    points = store.raw_points("w1", CLOSED_DAY, CLOSED_DAY + 20_000, None, 20)
    assert len(points) == 10
    [state] = _rows(store, schema.seq_state, "w1")
    assert (state[2], json.loads(state[7])) == (10, [])  # next seq, no gaps
