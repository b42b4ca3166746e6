"""The committer with a real SQLite store and folder archive."""

from __future__ import annotations

from pathlib import Path

import orjson
from prometheus_client import CollectorRegistry

from wattline.archive.folder import FolderArchive
from wattline.ingest.committer import Committer
from wattline.ingest.interpret import InterpretConfig
from wattline.model.messages import InboundMessage
from wattline.observability.metrics import IngestMetrics
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore

T0 = 1_764_057_600_000


def telemetry(device: str, seq: int, value: float) -> InboundMessage:
    body = {"seq": seq, "ts": T0 + seq * 1000, "metrics": {"power_w": value}}
    return InboundMessage(f"iot/{device}/telemetry", orjson.dumps(body), T0 + 60_000)


def make(
    store: SqlStore, tmp_path: Path, *, auto_register: bool
) -> tuple[Committer, CollectorRegistry]:
    registry = CollectorRegistry()
    committer = Committer(
        store,
        FolderArchive(tmp_path / "archive"),
        InterpretConfig(),
        IngestMetrics(registry),
        auto_register=auto_register,
    )
    return committer, registry


def counter(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return value or 0.0


def test_every_message_is_stored_quarantined_and_archived(store: SqlStore, tmp_path: Path) -> None:
    committer, registry = make(store, tmp_path, auto_register=True)
    hostile = InboundMessage("iot/m1/telemetry", b'{"ts": 1, "metrics": {"p": NaN}}', T0)
    batch = [telemetry("m1", i, float(i)) for i in range(5)] + [hostile]
    committer.commit(committer.plan(batch))

    assert len(store.raw_points("m1", T0, T0 + 10_000, None, 100)) == 5
    [quarantined] = store.quarantine(10)
    assert quarantined.reason == "undecodable"
    assert quarantined.payload == hostile.payload
    archived = list(FolderArchive(tmp_path / "archive").read())
    assert sorted(r.payload for r in archived) == sorted(m.payload for m in batch)
    assert counter(registry, "wattline_ingest_samples_total", outcome="stored") == 5
    assert counter(registry, "wattline_ingest_quarantined_total", reason="undecodable") == 1


def test_redelivery_is_counted_as_duplicate(store: SqlStore, tmp_path: Path) -> None:
    committer, registry = make(store, tmp_path, auto_register=True)
    batch = [telemetry("m1", i, 1.0) for i in range(3)]
    committer.commit(committer.plan(batch))
    committer.commit(committer.plan(batch))
    assert counter(registry, "wattline_ingest_samples_total", outcome="stored") == 3
    # sequenced readings are recognised by (device, seq) before they reach the samples
    assert counter(registry, "wattline_ingest_seq_duplicates_total") == 3
    unsequenced = InboundMessage(
        "iot/m1/telemetry", orjson.dumps({"ts": T0, "metrics": {"power_w": 1.0}}), T0
    )
    committer.commit(committer.plan([unsequenced]))
    assert counter(registry, "wattline_ingest_samples_total", outcome="duplicate") == 1


def test_unknown_devices_are_quarantined_unless_registered(store: SqlStore, tmp_path: Path) -> None:
    committer, _ = make(store, tmp_path, auto_register=False)
    committer.commit(committer.plan([telemetry("stranger", 0, 1.0)]))
    [record] = store.quarantine(10)
    assert (record.reason, record.detail) == (
        "unknown_device",
        "device 'stranger' is not registered",
    )
    assert store.get_device("stranger", tenant_id=DEFAULT_TENANT) is None

    store.register_device("stranger", "smart_plug", T0, tenant_id=DEFAULT_TENANT)
    committer.commit(committer.plan([telemetry("stranger", 1, 2.0)]))
    assert [p.metrics for p in store.raw_points("stranger", T0, T0 + 10_000, None, 10)] == [
        {"power_w": 2.0}
    ]


def test_replay_stores_what_is_now_acceptable_and_keeps_the_rest(
    store: SqlStore, tmp_path: Path
) -> None:
    committer, _ = make(store, tmp_path, auto_register=False)
    broken = InboundMessage("iot/stranger/telemetry", b'{"ts": 5, "metrics": {"p": 1}}', T0)
    committer.commit(committer.plan([telemetry("stranger", i, float(i)) for i in range(3)]))
    committer.commit(committer.plan([broken]))
    records = store.quarantine(10)
    assert [r.reason for r in records] == [
        "bad_timestamp",
        "unknown_device",
        "unknown_device",
        "unknown_device",
    ]

    # the cause, fixed
    store.register_device("stranger", "smart_plug", T0, tenant_id=DEFAULT_TENANT)
    report = committer.replay(records)

    assert sorted(report.accepted) == sorted(r.id for r in records[1:])
    assert report.still_rejected == {records[0].id: "bad_timestamp"}
    assert report.result.samples_inserted == 3
    assert [r.id for r in store.quarantine(10)] == [records[0].id]
    points = store.raw_points("stranger", T0, T0 + 10_000, None, 10)
    assert [p.metrics["power_w"] for p in points] == [0.0, 1.0, 2.0]
    # a second replay of the same ids finds nothing left to do
    assert committer.replay(store.quarantine(10, ids=report.accepted)).accepted == []


def test_a_deleted_device_is_a_stranger_again(store: SqlStore, tmp_path: Path) -> None:
    committer, _ = make(store, tmp_path, auto_register=False)
    store.register_device("m9", "smart_plug", T0, tenant_id=DEFAULT_TENANT)
    committer.commit(committer.plan([telemetry("m9", 0, 1.0)]))
    store.delete_device("m9", tenant_id=DEFAULT_TENANT)
    committer.forget("m9")
    committer.commit(committer.plan([telemetry("m9", 1, 2.0)]))
    assert [r.reason for r in store.quarantine(10)] == ["unknown_device"]
    assert store.raw_points("m9", T0, T0 + 10_000, None, 10) == []
