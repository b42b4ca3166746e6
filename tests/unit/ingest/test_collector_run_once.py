"""The collector one batch at a time: run_once, an in-memory store, injected clocks."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from prometheus_client import CollectorRegistry
from tests.collector_fakes import FakeSource, SourceFactory

from wattline.archive.base import ArchiveRecord
from wattline.ingest.admit import Admission
from wattline.ingest.collector import BatchPolicy, Collector
from wattline.ingest.committer import Committer
from wattline.ingest.interpret import InterpretConfig
from wattline.ingest.sources.base import Delivery
from wattline.model.messages import InboundMessage
from wattline.observability.metrics import IngestMetrics
from wattline.storage.memory import MemoryStore

T0 = 1_764_057_600_000


class ListArchive:
    def __init__(self) -> None:
        self.records: list[ArchiveRecord] = []

    def append(self, records: Sequence[ArchiveRecord]) -> None:
        self.records += records


class StepClock:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def telemetry(device: str, seq: int, power_w: float) -> InboundMessage:
    body = {"seq": seq, "ts": T0 + seq * 1000, "metrics": {"power_w": power_w}}
    return InboundMessage(f"t/{device}/telemetry", json.dumps(body).encode(), T0 + seq * 1000)


def make(
    store: MemoryStore,
    *,
    auto_register: bool = True,
    before_ack: Callable[[], object] | None = None,
    archive: ListArchive | None = None,
) -> tuple[Collector, FakeSource, ListArchive]:
    archive = archive or ListArchive()
    metrics = IngestMetrics(CollectorRegistry())
    committer = Committer(
        store,
        archive,
        InterpretConfig(topic_prefix="t"),
        metrics,
        admission=Admission(store, auto_register=auto_register),
    )
    make_source = SourceFactory()
    collector = Collector(
        make_source,
        committer,
        metrics,
        BatchPolicy(),
        monotonic=StepClock(),
        clock_ms=lambda: T0,
        before_ack=before_ack,
    )
    return collector, make_source.source, archive


def deliver(source: FakeSource, *messages: InboundMessage) -> None:
    for mid, message in enumerate(messages, start=1):
        source.deliver(message, Delivery(mid=mid, qos=1, generation=1))


def test_one_batch_is_stored_archived_and_acknowledged_in_the_calling_thread() -> None:
    store = MemoryStore(clock_ms=lambda: T0)
    collector, source, archive = make(store)
    bad = InboundMessage("t/m1/telemetry", b"{not json", T0)
    deliver(source, telemetry("m1", 0, 1.0), telemetry("m1", 1, 2.0), bad, telemetry("m1", 0, 1.0))

    assert collector.run_once() == 4

    assert source.acked == [1, 2, 3, 4]
    assert store.samples == {("m1", "power_w", T0): 1.0, ("m1", "power_w", T0 + 1000): 2.0}
    assert store.existing_devices(["m1"]) == {"m1"}
    assert [r.reason for r in store.quarantine(10)] == ["undecodable"]
    assert [r.outcome for r in archive.records] == [
        "accepted",
        "accepted",
        "undecodable",
        "accepted",
    ]
    status = collector.status()
    assert (status.last_commit_ms, status.queued, status.store_healthy) == (T0, 0, True)
    assert collector.run_once() == 0  # nothing left
    collector.stop()


def test_a_stranger_is_quarantined_and_acknowledged_without_auto_registration() -> None:
    store = MemoryStore(clock_ms=lambda: T0)
    collector, source, _ = make(store, auto_register=False)
    deliver(source, telemetry("stranger", 0, 1.0))

    assert collector.run_once() == 1

    assert source.acked == [1]
    assert store.samples == {}
    assert [r.reason for r in store.quarantine(10)] == ["unknown_device"]
    collector.stop()


def test_a_forgotten_device_is_judged_again_by_the_registry() -> None:
    store = MemoryStore(clock_ms=lambda: T0)
    collector, source, _ = make(store)
    deliver(source, telemetry("m2", 0, 1.0))
    assert collector.run_once() == 1
    del store.devices["m2"]  # deleted behind the cache's back, e.g. by the API
    collector.committer.forget("m2")
    deliver(source, telemetry("m2", 1, 2.0))
    assert collector.run_once() == 1
    assert store.existing_devices(["m2"]) == {"m2"}  # registered again on first contact
    collector.stop()


def test_before_ack_runs_after_the_commit_and_before_the_broker_is_told() -> None:
    store = MemoryStore(clock_ms=lambda: T0)
    seen: list[tuple[int, list[int]]] = []
    source_box: list[FakeSource] = []

    def before_ack() -> None:  # what the live feed's wait sees: stored, not yet acknowledged
        seen.append((len(store.samples), list(source_box[0].acked)))

    collector, source, _archive = make(store, before_ack=before_ack)
    source_box.append(source)
    deliver(source, telemetry("m1", 0, 1.0), telemetry("m1", 1, 2.0))
    assert collector.run_once() == 2
    assert seen == [(2, [])]
    assert source.acked == [1, 2]
    collector.stop()
