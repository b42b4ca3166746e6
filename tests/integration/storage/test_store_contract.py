"""The contract every TelemetryStore backend keeps."""

from __future__ import annotations

import time
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from tests.integration.storage.raw_buckets import raw_buckets

from wattline.model.messages import ConnectionState, Hello, Reading, StatusReport
from wattline.storage import schema
from wattline.storage.base import CommitBatch, QuarantineEntry
from wattline.storage.rollups import DAY_MS
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore

T0 = 1_764_057_600_000


def reading(ts_ms: int, value: float, device: str = "d1", seq: int | None = None) -> Reading:
    return Reading(device_id=device, ts_ms=ts_ms, metrics={"power_w": value}, seq=seq)


def commit(store: SqlStore, *readings: Reading) -> int:
    devices = {r.device_id for r in readings}
    result = store.commit(
        CommitBatch(readings=readings, seen_ms=dict.fromkeys(devices, T0), register=sorted(devices))
    )
    return result.samples_inserted


def test_redelivered_readings_are_stored_once(store: SqlStore) -> None:
    batch = [reading(T0 + i, float(i), seq=i) for i in range(100)]
    assert commit(store, *batch) == 100
    assert commit(store, *batch[50:]) == 0
    points = store.raw_points("d1", T0, T0 + 1000, None, 1000)
    assert [p.metrics["power_w"] for p in points] == [float(i) for i in range(100)]
    assert [p.seq for p in points] == list(range(100))


def test_latest_follows_the_reading_timestamp_not_arrival(store: SqlStore) -> None:
    commit(store, reading(T0 + 5_000, 5.0))
    commit(store, reading(T0 + 1_000, 1.0))  # a late upload of an older reading
    [latest] = store.latest_values(["d1"])["d1"]
    assert (latest.ts_ms, latest.value) == (T0 + 5_000, 5.0)
    commit(store, reading(T0 + 9_000, 9.0), reading(T0 + 7_000, 7.0))
    [latest] = store.latest_values(["d1"])["d1"]
    assert (latest.ts_ms, latest.value) == (T0 + 9_000, 9.0)


def test_hello_status_and_last_seen(store: SqlStore) -> None:
    store.commit(
        CommitBatch(
            hellos=[Hello("m1", "dc_meter", "2.0.1", ("voltage_v",))],
            statuses=[StatusReport("m1", ConnectionState.ONLINE, T0 + 10)],
            seen_ms={"m1": T0 + 10},
            register=["m1"],
        )
    )
    # an older, redelivered "offline" must not override the newer "online"
    store.commit(
        CommitBatch(statuses=[StatusReport("m1", ConnectionState.OFFLINE, T0)], seen_ms={"m1": T0})
    )
    device = store.get_device("m1", tenant_id=DEFAULT_TENANT)
    assert device is not None
    assert device.device_type == "dc_meter"
    assert device.firmware_version == "2.0.1"
    assert device.capabilities == ("voltage_v",)
    assert device.state is ConnectionState.ONLINE
    assert device.last_seen_ms == T0 + 10


def test_register_is_idempotent(store: SqlStore) -> None:
    first, created = store.register_device("plug-9", "smart_plug", T0, tenant_id=DEFAULT_TENANT)
    again, created_again = store.register_device(
        "plug-9", "other", T0 + 1, tenant_id=DEFAULT_TENANT
    )
    assert (created, created_again) == (True, False)
    assert again == first
    assert store.existing_devices(["plug-9", "nope"]) == {"plug-9"}


def test_quarantine_newest_first_with_raw_bytes(store: SqlStore) -> None:
    entries = [
        QuarantineEntry(T0 + i, "iot/x/telemetry", "bad_value", f"detail {i}", bytes([i, 255]))
        for i in range(3)
    ]
    store.commit(CommitBatch(quarantined=entries))
    records = store.quarantine(10)
    assert [r.detail for r in records] == ["detail 2", "detail 1", "detail 0"]
    assert records[0].payload == bytes([2, 255])
    assert store.quarantine(10, reason="too_large") == []


def test_raw_points_limit_whole_readings_and_filter_fields(store: SqlStore) -> None:
    rows = [
        Reading("d1", T0 + i * 1000, {"a": float(i), "b": -float(i), "c": 0.0}, i)
        for i in range(10)
    ]
    commit(store, *rows)
    points = store.raw_points("d1", T0, T0 + 10_000, ["a", "b"], 4)
    assert len(points) == 4
    assert all(set(p.metrics) == {"a", "b"} for p in points)
    assert store.raw_points("d1", T0 + 10_000, T0 + 20_000, None, 10) == []


timestamps = st.integers(min_value=0, max_value=3 * 3_600_000)
values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batches=st.lists(st.lists(st.tuples(timestamps, values), max_size=40), max_size=6),
    interval_ms=st.sampled_from([60_000, 900_000, 3_600_000]),
)
def test_buckets_equal_a_recomputation_from_newest_arrivals(
    store: SqlStore, batches: list[list[tuple[int, float]]], interval_ms: int
) -> None:
    device = f"h{abs(hash((str(batches), interval_ms))) % 10**12}"
    newest_arrival: dict[int, float] = {}
    for batch in batches:
        unique = dict(batch)  # one value per timestamp within a message
        commit(store, *(reading(T0 + ts, v, device) for ts, v in unique.items()))
        newest_arrival.update(unique)  # a later value for a timestamp is a correction
    expected: dict[int, list[float]] = defaultdict(list)
    for ts, v in newest_arrival.items():
        expected[(T0 + ts) // interval_ms * interval_ms].append(v)
    buckets = raw_buckets(store, device, T0, T0 + 4 * 3_600_000, interval_ms, None)
    assert [b.start_ms for b in buckets] == sorted(expected)
    for bucket in buckets:
        stats = bucket.metrics["power_w"]
        want = expected[bucket.start_ms]
        assert stats.count == len(want)
        assert stats.min == min(want)
        assert stats.max == max(want)
        assert abs(stats.avg - sum(want) / len(want)) <= 1e-9 * max(1.0, *map(abs, want))


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    arrivals=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.integers(0, 5),
            st.dictionaries(
                st.sampled_from(["power_w", "voltage_v", "energy_wh"]),
                st.integers(0, 9).map(float),
                min_size=1,
            ),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_one_batch_of_interleaved_devices_keeps_arrival_order(
    store: SqlStore, arrivals: list[tuple[str, int, dict[str, float]]]
) -> None:
    """Within a batch the last arrival of a (device, metric, time) is its value, and the
    latest value is the newest time's, the later arrival winning a tie: however the
    store orders the rows it writes."""
    run = f"o{abs(hash(str(arrivals))) % 10**12}"
    readings = [Reading(f"{run}-{d}", T0 + 1_000 * t, dict(m)) for d, t, m in arrivals]
    stored: dict[tuple[str, str, int], float] = {}
    newest: dict[tuple[str, str], tuple[int, float]] = {}
    for r in readings:
        for metric, value in r.metrics.items():
            stored[(r.device_id, metric, r.ts_ms)] = value
            if r.ts_ms >= newest.get((r.device_id, metric), (r.ts_ms, value))[0]:
                newest[(r.device_id, metric)] = (r.ts_ms, value)
    devices = sorted({r.device_id for r in readings})
    store.commit(CommitBatch(readings=readings, register=devices))
    found = {
        (device, metric, p.ts_ms): value
        for device in devices
        for p in store.raw_points(device, T0, T0 + 10_000, None, 1000)
        for metric, value in p.metrics.items()
    }
    assert found == stored
    latest = {
        (device, value.metric): (value.ts_ms, value.value)
        for device, values in store.latest_values(devices).items()
        for value in values
    }
    assert latest == newest


def test_a_new_value_for_an_existing_key_is_a_counted_correction(store: SqlStore) -> None:
    assert commit(store, reading(T0, 1.0), reading(T0 + 1000, 2.0)) == 2
    result = store.commit(
        CommitBatch(readings=[reading(T0, 1.5), reading(T0 + 1000, 2.0)], seen_ms={"d1": T0})
    )
    assert (result.samples_inserted, result.samples_corrected, result.samples_duplicate) == (
        0,
        1,
        1,
    )
    points = store.raw_points("d1", T0, T0 + 2000, None, 10)
    assert [p.metrics["power_w"] for p in points] == [1.5, 2.0]


def test_sequence_duplicates_are_dropped_and_gaps_recorded(store: SqlStore) -> None:
    commit(store, *(reading(T0 + s * 1000, float(s), "s1", seq=s) for s in (0, 1, 2, 5, 6)))
    # the same seq again with a *different* timestamp is still a duplicate of (device, seq)
    result = store.commit(CommitBatch(readings=[reading(T0 + 999, 9.0, "s1", seq=1)]))
    assert (result.readings_seq_duplicate, result.samples_offered) == (1, 0)
    state = store.sequence_state("s1")
    assert state is not None
    assert [(g.first_seq, g.last_seq) for g in state.gaps] == [(3, 4)]
    commit(store, reading(T0 + 3000, 3.0, "s1", seq=3))
    state = store.sequence_state("s1")
    assert state is not None
    assert [(g.first_seq, g.last_seq) for g in state.gaps] == [(4, 4)]
    assert state.duplicates == 1


@pytest.mark.parametrize("day", ["today", "closed"])
def test_a_sequence_duplicate_among_new_readings_leaves_no_trace(store: SqlStore, day: str) -> None:
    """A batch of today is inserted before sequencing says which readings it drops
    (``storage/sql/commit.py``); a dropped reading at a new time must leave no sample,
    rollup or latest value behind, and the batch's other readings must all be
    stored. A batch of a closed day is sequenced first."""
    now_ms = time.time_ns() // 1_000_000
    t0 = now_ms - now_ms % DAY_MS + 60_000 if day == "today" else T0
    commit(store, *(reading(t0 + s * 1000, float(s), "s3", seq=s) for s in range(5)))
    # seq 2 again, at a time not stored (a newer one would be a device restart)
    again = reading(t0 + 2_500, 99.0, "s3", seq=2)
    fresh = [reading(t0 + 5_000, 5.0, "s3", seq=5), reading(t0 + 1_000, 7.0, "s4", seq=0)]
    result = store.commit(
        CommitBatch(
            readings=[fresh[0], again, fresh[1]],
            seen_ms={"s3": t0, "s4": t0},
            register=["s4"],
        )
    )
    assert (result.readings_seq_duplicate, result.samples_inserted) == (1, 2)
    points = store.raw_points("s3", t0, t0 + 60_000, None, 100)
    assert [(p.ts_ms - t0, p.metrics["power_w"]) for p in points] == [
        (s * 1000, float(s)) for s in range(6)
    ]
    latest = store.latest_values(["s3", "s4"])
    assert [(v.ts_ms - t0, v.value) for v in latest["s3"]] == [(5_000, 5.0)]
    assert [(v.ts_ms - t0, v.value) for v in latest["s4"]] == [(1_000, 7.0)]
    r = schema.rollup_1m.c
    with store._connections.read() as conn:
        minute = conn.execute(
            select(func.sum(r.sample_count), func.max(r.value_max)).where(r.device_id == "s3")
        ).one()
    assert tuple(minute) == (6, 5.0)
    state = store.sequence_state("s3")
    assert state is not None
    assert (state.next_seq, state.duplicates) == (6, 1)


def test_a_hello_in_the_same_batch_restarts_the_count(store: SqlStore) -> None:
    before = [reading(T0 + s * 1000, 1.0, "s2", seq=s) for s in range(3)]
    hello = Hello("s2", "dc_meter", "1.0", ())
    after = [reading(T0 + 10_000 + s * 1000, 2.0, "s2", seq=s) for s in range(3)]
    result = store.commit(
        CommitBatch(
            readings=[*before, *after],
            hellos=[hello],
            arrival_order=[*before, hello, *after],
            seen_ms={"s2": T0},
            register=["s2"],
        )
    )
    assert (result.samples_inserted, result.readings_seq_duplicate) == (6, 0)
    state = store.sequence_state("s2")
    assert state is not None
    assert (state.boot, state.next_seq, state.gaps) == (1, 3, ())


def test_the_same_bad_message_again_is_one_entry_seen_twice(store: SqlStore) -> None:
    first = QuarantineEntry(T0, "iot/x/telemetry", "bad_value", "p = NaN", b"{p: NaN}")
    again = QuarantineEntry(T0 + 5000, "iot/x/telemetry", "bad_value", "p = NaN", b"{p: NaN}")
    other = QuarantineEntry(T0 + 6000, "iot/y/telemetry", "bad_value", "p = NaN", b"{p: NaN}")
    store.commit(CommitBatch(quarantined=[first]))
    store.commit(CommitBatch(quarantined=[again, other]))  # e.g. redelivered after a crash
    records = {r.topic: r for r in store.quarantine(10)}
    assert set(records) == {"iot/x/telemetry", "iot/y/telemetry"}
    repeated = records["iot/x/telemetry"]
    assert (repeated.occurrences, repeated.received_ms, repeated.last_received_ms) == (
        2,
        T0,
        T0 + 5000,
    )
    assert records["iot/y/telemetry"].occurrences == 1


def test_a_historical_batch_moves_last_seen_only_to_its_newest_reading(store: SqlStore) -> None:
    imported_at = T0 + 30 * 86_400_000
    store.commit(
        CommitBatch(
            readings=[reading(T0, 1.0), reading(T0 + 60_000, 2.0), reading(T0 + 5, 3.0, "d2")],
            seen_ms={"d1": imported_at, "d2": imported_at},
            register=["d1", "d2"],
            historical=True,
        )
    )
    d1, d2 = (
        store.get_device("d1", tenant_id=DEFAULT_TENANT),
        store.get_device("d2", tenant_id=DEFAULT_TENANT),
    )
    assert d1 is not None
    assert d2 is not None
    assert (d1.last_seen_ms, d2.last_seen_ms) == (T0 + 60_000, T0 + 5)
    assert d1.state is ConnectionState.UNKNOWN
    # Seen live since: an import of older readings leaves last_seen where it is.
    store.commit(CommitBatch(readings=[reading(T0 + 90_000, 4.0)], seen_ms={"d1": T0 + 90_500}))
    store.commit(
        CommitBatch(
            readings=[reading(T0 + 70_000, 5.0)], seen_ms={"d1": imported_at}, historical=True
        )
    )
    d1 = store.get_device("d1", tenant_id=DEFAULT_TENANT)
    assert d1 is not None
    assert d1.last_seen_ms == T0 + 90_500
