"""The collector against a real Mosquitto: acknowledge only after commit."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select
from tests.e2e.conftest import forget_session, wait_until

from wattline.archive.folder import FolderArchive
from wattline.ingest.collector import BatchPolicy, Collector
from wattline.ingest.committer import Committer
from wattline.ingest.interpret import InterpretConfig
from wattline.ingest.sources import open_source
from wattline.ingest.sources.base import (
    DeliverFn,
    DeliverManyFn,
    MessageSource,
    MqttEndpoint,
    SessionOptions,
)
from wattline.observability.metrics import IngestMetrics
from wattline.storage import schema
from wattline.storage.base import CommitBatch, CommitResult, StoreUnavailableError
from wattline.storage.sql import SqlStore

T0 = 1_764_057_600_000


class OutageStore:
    """A real store behind a switchable outage, the way a database restart looks to us."""

    def __init__(self, inner: SqlStore, failures: int) -> None:
        self._inner = inner
        self.failures_left = failures
        self.attempts = 0

    def commit(self, batch: CommitBatch) -> CommitResult:
        self.attempts += 1
        if self.failures_left != 0:
            self.failures_left -= 1
            raise StoreUnavailableError("database is restarting")
        return self._inner.commit(batch)

    def existing_devices(self, device_ids: Sequence[str]) -> set[str]:
        return self._inner.existing_devices(device_ids)


V311 = SessionOptions()
V5 = SessionOptions(mqtt5=True, receive_maximum=50)


class FoldOutageStore(OutageStore):
    """A real store whose folds of staged readings fail for a while (ADR 0033)."""

    def __init__(self, inner: SqlStore, failures: int) -> None:
        super().__init__(inner, failures=0)
        self.fold_failures_left = failures

    def stage(self, batch: CommitBatch) -> CommitResult:
        return self._inner.stage(batch)

    def fold(self, max_devices: int, min_age_ms: int = 0) -> CommitResult | None:
        if self.fold_failures_left != 0:
            self.fold_failures_left -= 1
            raise StoreUnavailableError("database is restarting")
        return self._inner.fold(max_devices, min_age_ms)


# every batch staged, however many readings a device it holds
STAGING = BatchPolicy(
    max_messages=100,
    retry_delay_s=0.05,
    staging=True,
    stage_from_devices=1,
    stage_below_per_device=10**6,
    fold_devices=2,
    fold_after_s=0.05,
)


def make_collector(  # noqa: PLR0917
    store: object,
    endpoint: MqttEndpoint,
    prefix: str,
    client_id: str,
    tmp_path: Path,
    options: SessionOptions = V311,
    policy: BatchPolicy | None = None,
) -> tuple[Collector, CollectorRegistry]:
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    committer = Committer(
        store,  # type: ignore[arg-type]
        FolderArchive(tmp_path / "archive"),
        InterpretConfig(topic_prefix=prefix),
        metrics,
        auto_register=True,
    )

    def make_source(deliver: DeliverFn, deliver_many: DeliverManyFn) -> MessageSource:
        topics = [f"{prefix}/+/telemetry"]
        return open_source(endpoint, client_id, topics, deliver, options, deliver_many=deliver_many)

    policy = policy or BatchPolicy(max_messages=100, retry_delay_s=0.05)
    return Collector(make_source, committer, metrics, policy), registry


def publish(endpoint: MqttEndpoint, prefix: str, device: str, count: int) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex}")
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    infos = [
        client.publish(
            f"{prefix}/{device}/telemetry",
            json.dumps({"seq": i, "ts": T0 + i, "metrics": {"energy_wh": float(i)}}),
            qos=1,
        )
        for i in range(count)
    ]
    for info in infos:
        info.wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def counters(registry: CollectorRegistry) -> dict[str, float]:
    """The collector's own account: messages accepted, samples stored and dropped."""
    return {
        f"{metric.name}{sample.labels}": sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.value
    }


def accepted(registry: CollectorRegistry) -> float:
    """Messages the collector has committed and acknowledged as readings."""
    value = registry.get_sample_value("wattline_ingest_messages_total", {"outcome": "accepted"})
    return value or 0.0


def stored(store: SqlStore, device: str) -> int:
    return len(store.raw_points(device, T0, T0 + 10**6, None, 10**6))


def test_a_database_outage_delays_but_loses_nothing(
    store: SqlStore, mosquitto_url: str, tmp_path: Path
) -> None:
    endpoint = MqttEndpoint.from_url(mosquitto_url)
    prefix, client_id = f"it{uuid.uuid4().hex[:8]}", f"collector-{uuid.uuid4().hex}"
    flaky = OutageStore(store, failures=5)
    collector, registry = make_collector(flaky, endpoint, prefix, client_id, tmp_path)
    collector.start()
    try:
        assert collector.wait_connected(10)
        publish(endpoint, prefix, "m1", 500)
        wait_until(
            lambda: stored(store, "m1") == 500,
            30,
            lambda: (
                f"500 readings after the outage (stored: {stored(store, 'm1')}, "
                f"status: {collector.status()}, counters: {counters(registry)})"
            ),
        )
    finally:
        collector.stop()
        forget_session(endpoint.host, endpoint.port, client_id)
    assert registry.get_sample_value("wattline_ingest_store_errors_total") == 5
    assert (
        registry.get_sample_value("wattline_ingest_samples_total", {"outcome": "stored"})
        == 1000 / 2
    )


@pytest.mark.parametrize("options", [V311, V5], ids=["mqtt311", "mqtt5"])
def test_unacknowledged_messages_are_redelivered_to_the_next_collector(
    store: SqlStore, mosquitto_url: str, tmp_path: Path, options: SessionOptions
) -> None:
    endpoint = MqttEndpoint.from_url(mosquitto_url)
    prefix, client_id = f"it{uuid.uuid4().hex[:8]}", f"collector-{uuid.uuid4().hex}"
    down = OutageStore(store, failures=-1)  # never recovers
    first, _ = make_collector(down, endpoint, prefix, client_id, tmp_path, options)
    first.start()
    try:
        assert first.wait_connected(10)
        publish(endpoint, prefix, "m2", 200)
        wait_until(lambda: down.attempts >= 2, 10, "the first collector to try committing")
    finally:
        first.stop()  # gives up without acknowledging anything
    assert stored(store, "m2") == 0

    second, registry = make_collector(store, endpoint, prefix, client_id, tmp_path, options)
    second.start()
    try:
        wait_until(
            lambda: stored(store, "m2") == 200,
            30,
            lambda: (
                f"redelivery to the second collector (stored: {stored(store, 'm2')}, "
                f"status: {second.status()}, counters: {counters(registry)})"
            ),
        )
    finally:
        second.stop()
        forget_session(endpoint.host, endpoint.port, client_id)


def test_two_collectors_in_a_shared_group_store_each_reading_once(
    store: SqlStore, mosquitto_url: str, tmp_path: Path
) -> None:
    endpoint = MqttEndpoint.from_url(mosquitto_url)
    prefix = f"it{uuid.uuid4().hex[:8]}"
    shared = SessionOptions(mqtt5=True, shared_group=f"g{prefix}")
    client_ids = [f"collector-{uuid.uuid4().hex}" for _ in range(2)]
    pairs = [
        make_collector(store, endpoint, prefix, cid, tmp_path / cid, shared) for cid in client_ids
    ]
    for collector, _ in pairs:
        collector.start()
    try:
        assert all(collector.wait_connected(10) for collector, _ in pairs)
        publish(endpoint, prefix, "m3", 2000)
        wait_until(
            lambda: stored(store, "m3") == 2000,
            30,
            lambda: (
                f"2000 readings via two collectors (stored: {stored(store, 'm3')}, "
                f"statuses: {[c.status() for c, _ in pairs]}, "
                f"counters: {[counters(r) for _, r in pairs]})"
            ),
        )
    finally:
        for collector, _ in pairs:
            collector.stop()
        for cid in client_ids:
            forget_session(endpoint.host, endpoint.port, cid)
    handled = [
        registry.get_sample_value("wattline_ingest_messages_total", {"outcome": "accepted"}) or 0
        for _, registry in pairs
    ]
    assert sum(handled) == 2000  # each message went to exactly one collector
    assert min(handled) > 0  # and both did work


def staged_rows(store: SqlStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(schema.staged)) or 0)


def test_a_staging_collector_folds_everything_through_fold_outages(
    store: SqlStore, mosquitto_url: str, tmp_path: Path
) -> None:
    """Batches are committed staged and acknowledged at once; folds failing for a while
    only delay the readings' way into samples; each is stored once."""
    endpoint = MqttEndpoint.from_url(mosquitto_url)
    prefix, client_id = f"it{uuid.uuid4().hex[:8]}", f"collector-{uuid.uuid4().hex}"
    flaky = FoldOutageStore(store, failures=3)
    collector, registry = make_collector(
        flaky, endpoint, prefix, client_id, tmp_path, policy=STAGING
    )
    collector.start()
    try:
        assert collector.wait_connected(10)
        for device in ("f1", "f2", "f3", "f4", "f5"):
            publish(endpoint, prefix, device, 100)
        wait_until(
            lambda: all(stored(store, f"f{i}") == 100 for i in range(1, 6)),
            30,
            lambda: (
                f"500 readings folded (stored: {[stored(store, f'f{i}') for i in range(1, 6)]}, "
                f"staged rows: {staged_rows(store)}, status: {collector.status()}, "
                f"counters: {counters(registry)})"
            ),
        )
    finally:
        collector.stop()
        forget_session(endpoint.host, endpoint.port, client_id)
    assert staged_rows(store) == 0
    assert registry.get_sample_value("wattline_ingest_store_errors_total") == 3
    assert registry.get_sample_value("wattline_ingest_samples_total", {"outcome": "stored"}) == 500


def test_a_stopping_collector_folds_what_it_staged(
    store: SqlStore, mosquitto_url: str, tmp_path: Path
) -> None:
    endpoint = MqttEndpoint.from_url(mosquitto_url)
    prefix, client_id = f"it{uuid.uuid4().hex[:8]}", f"collector-{uuid.uuid4().hex}"
    # the running collector never folds: its rows are never old enough, it is never idle
    policy = replace(STAGING, fold_after_s=3_600, idle_fold_s=3_600)
    collector, _ = make_collector(store, endpoint, prefix, client_id, tmp_path, policy=policy)
    collector.start()
    try:
        assert collector.wait_connected(10)
        publish(endpoint, prefix, "h1", 50)
        wait_until(lambda: staged_rows(store) > 0, 10, "readings staged")
        wait_until(
            lambda: collector.status().queued == 0 and stored(store, "h1") == 0, 10, "all staged"
        )
    finally:
        collector.stop()
        forget_session(endpoint.host, endpoint.port, client_id)
    assert stored(store, "h1") == 50
    assert staged_rows(store) == 0


def test_a_batch_with_many_readings_a_device_is_committed_whole(
    store: SqlStore, mosquitto_url: str, tmp_path: Path
) -> None:
    """Staging on for any batch of few readings a device, and folds never due: the
    readings still reach samples while the collector runs, because batches of 10 or
    more readings a device are committed whole (a small first batch staged meanwhile
    is folded in before its device's next)."""
    endpoint = MqttEndpoint.from_url(mosquitto_url)
    prefix, client_id = f"it{uuid.uuid4().hex[:8]}", f"collector-{uuid.uuid4().hex}"
    policy = replace(STAGING, stage_below_per_device=10, fold_after_s=3_600, idle_fold_s=3_600)
    collector, registry = make_collector(
        store, endpoint, prefix, client_id, tmp_path, policy=policy
    )
    collector.start()
    try:
        assert collector.wait_connected(10)
        publish(endpoint, prefix, "w1", 300)
        # Every message committed (the broker holds back what exceeds its in-flight
        # window until acknowledgements free it, so stopping at "most stored" could
        # leave the last few with the broker), most of them already in samples.
        wait_until(
            lambda: accepted(registry) >= 300 and stored(store, "w1") >= 250,
            15,
            lambda: (
                f"every message committed, most readings stored while running "
                f"(accepted: {accepted(registry)}, stored: {stored(store, 'w1')})"
            ),
        )
    finally:
        collector.stop()
        forget_session(endpoint.host, endpoint.port, client_id)
    assert stored(store, "w1") == 300
