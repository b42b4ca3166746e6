"""The in-memory store keeps the SQL store's contract for the ingest and quarantine ports.

Unit tests of the pipeline run on ``MemoryStore``; these run the same batches
through it and through SQLite and PostgreSQL and compare what they answer.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wattline.model.messages import Hello, Reading
from wattline.storage.base import CommitBatch, QuarantineEntry
from wattline.storage.memory import MemoryStore
from wattline.storage.sql import SqlStore

T0 = 1_764_057_600_000

readings = st.builds(
    Reading,
    device_id=st.sampled_from(["a", "b"]),
    ts_ms=st.integers(T0, T0 + 5_000),
    metrics=st.dictionaries(
        st.sampled_from(["power_w", "voltage_v"]),
        st.sampled_from([1.0, 2.0, 3.5]),
        min_size=1,
    ),
    seq=st.none() | st.integers(0, 6),
)
events = st.lists(
    readings | st.builds(Hello, st.sampled_from(["a", "b"]), st.just("meter"), st.just("1.0")),
    max_size=12,
)


def batch_of(arrival: list[Reading | Hello], device_prefix: str) -> CommitBatch:
    renamed = [
        Reading(device_prefix + e.device_id, e.ts_ms, e.metrics, e.seq)
        if isinstance(e, Reading)
        else Hello(device_prefix + e.device_id, e.device_type, e.firmware_version)
        for e in arrival
    ]
    devices = sorted({e.device_id for e in renamed})
    return CommitBatch(
        readings=[e for e in renamed if isinstance(e, Reading)],
        hellos=[e for e in renamed if isinstance(e, Hello)],
        seen_ms=dict.fromkeys(devices, T0),
        register=devices,
        arrival_order=renamed,
    )


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=st.lists(events, max_size=4))
def test_memory_and_sql_answer_the_same_commits(
    store: SqlStore, batches: list[list[Reading | Hello]]
) -> None:
    memory = MemoryStore()
    # One device namespace per example: the SQL store outlives hypothesis examples.
    prefix = f"x{abs(hash(str(batches))) % 10**12}-"
    for arrival in batches:
        batch = batch_of(arrival, prefix)
        assert memory.commit(batch) == store.commit(batch)
    wanted = [prefix + "a", prefix + "b", prefix + "c"]
    assert memory.existing_devices(wanted) == store.existing_devices(wanted)


def test_memory_and_sql_keep_the_same_quarantine(store: SqlStore) -> None:
    memory = MemoryStore()
    first = QuarantineEntry(T0, "iot/q1/telemetry", "bad_value", "p = NaN", b"{p: NaN}")
    again = QuarantineEntry(T0 + 5000, "iot/q1/telemetry", "bad_value", "p = NaN", b"{p: NaN}")
    other = QuarantineEntry(T0 + 6000, "iot/q2/telemetry", "too_large", "big", b"xx")
    for port in (memory, store):
        port.commit(CommitBatch(quarantined=[first]))
        port.commit(CommitBatch(quarantined=[again, other]))

    def shape(port: MemoryStore | SqlStore, **query: object) -> list[tuple[object, ...]]:
        return [
            (r.topic, r.reason, r.occurrences, r.received_ms, r.last_received_ms, r.payload)
            for r in port.quarantine(10, **query)  # type: ignore[arg-type]
        ]

    assert shape(memory) == shape(store)
    assert shape(memory, reason="too_large") == shape(store, reason="too_large")
    for port in (memory, store):
        newest = port.quarantine(1)[0]
        port.commit(CommitBatch(resolved_quarantine=[newest.id]))
    assert shape(memory) == shape(store)
