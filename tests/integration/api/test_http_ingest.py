"""POST /api/v1/telemetry: smart-solar devices over HTTP, through the same pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from wattline.api.app import create_app
from wattline.api.ratelimit import MemoryRateLimiter as RateLimiter
from wattline.api.services import ApiServices
from wattline.archive.folder import FolderArchive
from wattline.ingest.committer import Committer
from wattline.ingest.interpret import InterpretConfig
from wattline.ingest.sources.http import HttpIngest
from wattline.observability.metrics import IngestMetrics
from wattline.protocols.adapters import build_adapters
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore

AUTH = {"Authorization": "Bearer t"}
NOW_MS = 1_764_057_600_000


@pytest.fixture
def api(store: SqlStore, tmp_path: Path) -> Iterator[TestClient]:
    registry = CollectorRegistry()
    committer = Committer(
        store,
        FolderArchive(tmp_path),
        InterpretConfig(adapters=build_adapters(["smartsolar"])),
        IngestMetrics(registry),
        auto_register=True,
    )
    services = ApiServices(
        store=store,
        admin_token="t",
        registry=registry,
        offline_after_ms=120_000,
        http_ingest=HttpIngest(committer, "devices", clock_ms=lambda: NOW_MS),
        # A stopped clock: the limit is checked, not how fast this machine runs requests.
        rate_limiter=RateLimiter(rate_per_s=1.0, burst=3, clock_s=lambda: 0.0),
    )
    with TestClient(create_app(services)) as client:
        yield client


def item(device: str, data_type: str, value: float, ts_ms: int) -> dict[str, object]:
    return {"device_id": device, "data_type": data_type, "value": value, "timestamp": ts_ms}


def test_items_for_two_devices_are_stored(api: TestClient, store: SqlStore) -> None:
    body = [
        item("inv-1", "power", 4210.5, NOW_MS - 1000),
        item("inv-1", "energy", 120_000.0, NOW_MS - 1000),
        item("inv-2", "power", 10.0, NOW_MS - 2000),
    ]
    response = api.post("/api/v1/telemetry", content=orjson.dumps(body), headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 2, "samples_stored": 3, "rejected": []}
    [point] = store.raw_points("inv-1", NOW_MS - 5000, NOW_MS, None, 10)
    assert len(point.metrics) == 2
    assert store.get_device("inv-2", tenant_id=DEFAULT_TENANT) is not None


def test_a_bad_body_is_quarantined_and_answered_with_the_reason(
    api: TestClient, store: SqlStore
) -> None:
    response = api.post("/api/v1/telemetry", content=b'{"device_id": 5}', headers=AUTH)
    assert response.status_code == 422
    [rejected] = response.json()["rejected"]
    assert rejected["reason"] == "bad_device_id"
    [entry] = store.quarantine(10)
    assert entry.payload == b'{"device_id": 5}'
    broken = api.post("/api/v1/telemetry", content=b"{not json", headers=AUTH)
    assert broken.json()["rejected"][0]["reason"] == "undecodable"


def test_one_bad_device_does_not_block_the_others(api: TestClient, store: SqlStore) -> None:
    body = [
        item("inv-1", "power", 1.0, NOW_MS),
        {**item("inv-3", "power", 0.0, NOW_MS), "value": "x"},
    ]
    response = api.post("/api/v1/telemetry", content=orjson.dumps(body), headers=AUTH)
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert response.json()["rejected"][0]["device_id"] == "inv-3"


def test_rate_limit_answers_429_with_retry_after(api: TestClient) -> None:
    body = orjson.dumps(item("inv-1", "power", 1.0, NOW_MS))
    codes = [
        api.post("/api/v1/telemetry", content=body, headers=AUTH).status_code for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    limited = api.post("/api/v1/telemetry", content=body, headers=AUTH)
    assert limited.headers["Retry-After"] == "1"
    assert "rate limit exceeded" in limited.json()["detail"]


def test_oversized_body_is_refused(api: TestClient) -> None:
    response = api.post("/api/v1/telemetry", content=b" " * (1024 * 1024 + 1), headers=AUTH)
    assert response.status_code == 413
