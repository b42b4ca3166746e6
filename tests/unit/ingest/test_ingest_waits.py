"""Where a reading's time goes: each batch's oldest wait when planned and when committed,
and folds timed apart from the batches' own transactions."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry
from tests.collector_fakes import SourceFactory
from tests.unit.ingest.test_collector_run_once import ListArchive

from wattline.ingest.admit import Admission
from wattline.ingest.collector import BatchPolicy, Collector
from wattline.ingest.committer import Committer
from wattline.ingest.interpret import InterpretConfig
from wattline.ingest.sources.base import Delivery
from wattline.model.messages import InboundMessage
from wattline.observability.metrics import IngestMetrics
from wattline.storage.base import CommitBatch, CommitResult
from wattline.storage.memory import MemoryStore

T0 = 1_764_057_600_000
COMMIT_TAKES_MS = 25


class WallClock:
    """Epoch milliseconds that move only when a test (or the store below) says so."""

    def __init__(self) -> None:
        self.now_ms = T0

    def __call__(self) -> int:
        return self.now_ms


class SlowStore(MemoryStore):
    """Each commit takes COMMIT_TAKES_MS of the wall clock; each fold reports 0.3 s."""

    def __init__(self, clock: WallClock) -> None:
        super().__init__(clock_ms=clock)
        self._clock = clock

    def commit(self, batch: CommitBatch) -> CommitResult:
        self._clock.now_ms += COMMIT_TAKES_MS
        return replace(super().commit(batch), store_seconds=0.002)

    def fold(self, max_devices: int, min_age_ms: int = 0) -> CommitResult | None:
        del max_devices, min_age_ms
        return CommitResult(4, 4, store_seconds=0.3)


def telemetry(device: str, seq: int, received_ms: int) -> InboundMessage:
    body = {"seq": seq, "ts": T0 + seq, "metrics": {"power_w": 1.0}}
    return InboundMessage(f"t/{device}/telemetry", json.dumps(body).encode(), received_ms)


def collector_over(store: MemoryStore, clock: WallClock) -> tuple[Collector, CollectorRegistry]:
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    committer = Committer(
        store,
        ListArchive(),
        InterpretConfig(topic_prefix="t"),
        metrics,
        admission=Admission(store, auto_register=True),
    )
    factory = SourceFactory()
    collector = Collector(factory, committer, metrics, BatchPolicy(), clock_ms=clock)
    for mid, message in enumerate(
        [telemetry("m1", 0, T0 - 40), telemetry("m2", 0, T0 - 10), telemetry("m1", 1, T0)],
        start=1,
    ):
        factory.source.deliver(message, Delivery(mid=mid, qos=1, generation=1))
    return collector, registry


def waited(registry: CollectorRegistry, stage: str) -> tuple[float | None, float | None]:
    name = "wattline_ingest_oldest_wait_seconds"
    labels = {"stage": stage}
    return (
        registry.get_sample_value(f"{name}_count", labels),
        registry.get_sample_value(f"{name}_sum", labels),
    )


def test_the_oldest_message_of_a_batch_is_timed_when_planned_and_when_committed() -> None:
    clock = WallClock()
    collector, registry = collector_over(SlowStore(clock), clock)

    assert collector.run_once() == 3

    # received 40 ms before planning; the commit took 25 ms more
    assert waited(registry, "planned") == (1.0, pytest.approx(0.040))
    assert waited(registry, "committed") == (1.0, pytest.approx(0.065))
    collector.stop()


def test_a_message_stamped_after_the_collectors_clock_counts_as_no_wait() -> None:
    clock = WallClock()
    clock.now_ms = T0 - 100  # the receiver's clock ran ahead of this one
    collector, registry = collector_over(MemoryStore(clock_ms=clock), clock)

    assert collector.run_once() == 3

    assert waited(registry, "planned") == (1.0, 0.0)
    collector.stop()


def test_a_fold_is_timed_as_a_fold_not_as_a_batchs_transaction() -> None:
    clock = WallClock()
    collector, registry = collector_over(SlowStore(clock), clock)
    assert collector.run_once() == 3

    assert collector.committer.fold(16) is not None

    assert registry.get_sample_value("wattline_ingest_fold_seconds_count") == 1.0
    assert registry.get_sample_value("wattline_ingest_fold_seconds_sum") == pytest.approx(0.3)
    # the batch's own transaction only
    assert registry.get_sample_value("wattline_ingest_store_seconds_count") == 1.0
    assert registry.get_sample_value("wattline_ingest_store_seconds_sum") == pytest.approx(0.002)
    # the batch's three samples, then the fold's four
    assert registry.get_sample_value("wattline_ingest_samples_total", {"outcome": "stored"}) == 7.0
    collector.stop()
