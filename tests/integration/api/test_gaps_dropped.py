"""The gaps endpoint accounts for every reading dropped, by seq and by timestamp."""

from __future__ import annotations

from pathlib import Path

import orjson
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from tests.integration.api.test_api import AUTH, T0, services

from wattline.api.app import create_app
from wattline.archive.folder import FolderArchive
from wattline.ingest.committer import Committer
from wattline.ingest.interpret import InterpretConfig
from wattline.model.messages import InboundMessage
from wattline.observability.metrics import IngestMetrics
from wattline.storage.sql import SqlStore


def test_duplicates_by_seq_and_by_timestamp_both_show_per_device(
    store: SqlStore, tmp_path: Path
) -> None:
    registry = CollectorRegistry()
    committer = Committer(
        store,
        FolderArchive(tmp_path),
        InterpretConfig(),
        IngestMetrics(registry),
        auto_register=True,
    )

    def send(body: object) -> None:
        message = InboundMessage("iot/m9/telemetry", orjson.dumps(body), T0 + 600_000)
        committer.commit(committer.plan([message]))

    with_seq = [{"seq": s, "ts": T0 + s * 1000, "metrics": {"power_w": 1.0}} for s in range(5)]
    without_seq = [{"ts": T0 + 100_000 + i * 1000, "metrics": {"power_w": 2.0}} for i in range(4)]
    for body in with_seq + without_seq:
        send(body)
    for body in with_seq + without_seq:  # every one redelivered
        send(body)

    with TestClient(create_app(services(store))) as api:
        body = api.get("/api/v1/devices/m9/gaps", headers=AUTH).json()
    assert body["duplicates"] == 5  # caught by (device, seq)
    assert body["duplicate_samples"] == 4  # caught by (device, metric, ts)
    assert body["corrected_samples"] == 0
    stored = registry.get_sample_value("wattline_ingest_samples_total", {"outcome": "duplicate"})
    assert stored == body["duplicate_samples"]
