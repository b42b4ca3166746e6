"""MQTT and HTTP ingest share one registry cache, so a deleted device is forgotten once."""

from __future__ import annotations

from pathlib import Path

import orjson

from wattline.archive.folder import FolderArchive
from wattline.config import Settings
from wattline.model.messages import InboundMessage
from wattline.runtime.ingest import prepare_ingest
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore

T0 = 1_764_057_600_000


def telemetry(device: str, seq: int) -> InboundMessage:
    body = {"seq": seq, "ts": T0 + seq * 1000, "metrics": {"power_w": 1.0}}
    return InboundMessage(f"iot/{device}/telemetry", orjson.dumps(body), T0 + 60_000)


def test_one_forget_reaches_every_committer_of_the_process(store: SqlStore, tmp_path: Path) -> None:
    ingest = prepare_ingest(Settings(data_dir=tmp_path))
    archive = FolderArchive(tmp_path / "archive")
    first = ingest.committer(store, archive, ingest.mqtt)
    second = ingest.committer(store, archive, ingest.mqtt)
    store.register_device("m9", "smart_plug", T0, tenant_id=DEFAULT_TENANT)
    first.commit(first.plan([telemetry("m9", 0)]))
    second.commit(second.plan([telemetry("m9", 1)]))
    assert first.admission is second.admission is ingest.admission(store)

    store.delete_device("m9", tenant_id=DEFAULT_TENANT)
    ingest.admission(store).forget("m9")
    second.commit(second.plan([telemetry("m9", 2)]))
    first.commit(first.plan([telemetry("m9", 3)]))

    assert [r.reason for r in store.quarantine(10)] == ["unknown_device", "unknown_device"]
    assert store.raw_points("m9", T0, T0 + 10_000, None, 10) == []
