"""The collector survives a database outage that begins with a device it has never seen.

Found by tests/integration/chaos/test_chaos_postgres_outage.py: planning a
batch looks unknown devices up in the registry, and that look-up ran outside
the retry loop, so an outage killed the collector thread while the process
stayed up, holding its MQTT session and storing nothing more.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry
from tests.collector_fakes import FakeSource, SourceFactory

from wattline.archive.base import ArchiveRecord
from wattline.ingest.collector import BatchPolicy, Collector
from wattline.ingest.committer import Committer
from wattline.ingest.interpret import InterpretConfig
from wattline.ingest.sources.base import Delivery
from wattline.model.messages import InboundMessage
from wattline.observability.metrics import IngestMetrics
from wattline.storage.base import CommitBatch, CommitResult, StoreUnavailableError
from wattline.storage.memory import MemoryStore


class DownThenUpStore(MemoryStore):
    """Every call fails while `down`; afterwards commits are kept in memory."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True
        self.failed_calls = 0

    @property
    def readings(self) -> list[tuple[str, int]]:
        return sorted({(device_id, ts_ms) for device_id, _, ts_ms in self.samples})

    def _check(self) -> None:
        if self.down:
            self.failed_calls += 1
            raise StoreUnavailableError("connection refused")

    def existing_devices(self, device_ids: Iterable[str]) -> set[str]:
        self._check()
        return super().existing_devices(device_ids)

    def commit(self, batch: CommitBatch) -> CommitResult:
        self._check()
        return super().commit(batch)


class ListArchive:
    def __init__(self) -> None:
        self.records: list[ArchiveRecord] = []

    def append(self, records: Sequence[ArchiveRecord]) -> None:
        self.records += records


def start_collector(store: DownThenUpStore) -> tuple[Collector, FakeSource]:
    committer = Committer(
        store,
        ListArchive(),
        InterpretConfig(topic_prefix="t"),
        IngestMetrics(CollectorRegistry()),
        auto_register=True,
    )
    make_source = SourceFactory()
    collector = Collector(
        make_source,
        committer,
        IngestMetrics(CollectorRegistry()),
        BatchPolicy(retry_delay_s=0.01),
    )
    collector.start()
    return collector, make_source.source


def test_an_outage_during_the_registry_look_up_is_retried_not_fatal() -> None:
    store = DownThenUpStore()
    collector, source = start_collector(store)
    try:
        body = json.dumps({"seq": 0, "ts": 1_764_057_600_000, "metrics": {"power_w": 1.0}})
        message = InboundMessage("t/new-device/telemetry", body.encode(), 1_764_057_600_000)
        source.deliver(message, Delivery(mid=7, qos=1, generation=1))
        deadline = time.monotonic() + 5
        while store.failed_calls < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert store.failed_calls >= 3
        assert collector.status().running  # still retrying, not dead
        store.down = False
        while not source.acked and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        collector.stop(timeout_s=5)
    assert store.readings == [("new-device", 1_764_057_600_000)]
    assert source.acked == [7]


class BrokenStore(DownThenUpStore):
    """A store failing with something no retry can fix (a bug, a schema mismatch)."""

    def commit(self, batch: CommitBatch) -> CommitResult:
        raise RuntimeError("no such column: samples.value")


def test_an_unexpected_error_stops_the_collector_visibly_without_acknowledging() -> None:
    store = BrokenStore()
    store.down = False
    collector, source = start_collector(store)
    try:
        body = json.dumps({"seq": 0, "ts": 1_764_057_600_000, "metrics": {"power_w": 1.0}})
        message = InboundMessage("t/d1/telemetry", body.encode(), 1_764_057_600_000)
        source.deliver(message, Delivery(mid=9, qos=1, generation=1))
        assert collector.failed.wait(5)
        assert not collector.status().running
    finally:
        collector.stop(timeout_s=5)
    assert source.acked == []  # the broker will redeliver it to the next process
