"""The seed-shaped routes' edges over a real store (SQLite and PostgreSQL): switches in
buckets, aliases in fleet queries, merged sensor pages, token-less ingest and its limit,
and the limits on a paired device's name."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.integration.api.test_api import AUTH, services

from wattline.api.app import create_app
from wattline.api.params import parse_time_ms
from wattline.api.ratelimit import MemoryRateLimiter
from wattline.archive.folder import FolderArchive
from wattline.ingest.committer import Committer
from wattline.ingest.interpret import InterpretConfig
from wattline.ingest.sources.http import HttpIngest
from wattline.model.messages import Reading
from wattline.observability.metrics import IngestMetrics
from wattline.protocols.adapters import build_adapters
from wattline.storage.base import CommitBatch
from wattline.storage.sql import SqlStore
from wattline.storage.sql.device_names import SqlDeviceNames

NOW_MS = (time.time_ns() // 1_000_000) // 60_000 * 60_000 - 600_000  # a minute's start


@pytest.fixture
def client(store: SqlStore, tmp_path: Path) -> Iterator[TestClient]:
    committer = Committer(
        store,
        FolderArchive(tmp_path),
        InterpretConfig(adapters=build_adapters(["smartsolar"])),
        IngestMetrics(services(store).registry),
    )
    app_services = replace(
        services(store),
        http_ingest=HttpIngest(committer, "devices", clock_ms=lambda: NOW_MS),
        # A stopped clock: two requests, then the limit, however fast this machine is.
        tokenless_ingest_limiter=MemoryRateLimiter(100 / 3600, 2, clock_s=lambda: 0.0),
        device_names=SqlDeviceNames(store.engine),
    )
    readings = [
        Reading("plug", NOW_MS + i * 10_000, {"power_w": 10.0 + i, "relay_state": float(i % 2)})
        for i in range(4)
    ]
    # Two HyperVolt locations whose readings share timestamps: the merge must order ties.
    readings += [
        Reading(room, NOW_MS + i * 1000, {"light_ldr": 100.0 * i, "humidity_pct": 40.0 + i})
        for room in ("hall", "kitchen")
        for i in range(3)
    ]
    store.commit(
        CommitBatch(
            readings=readings,
            seen_ms=dict.fromkeys(("plug", "hall", "kitchen"), NOW_MS),
            register=["plug", "hall", "kitchen"],
        )
    )
    with TestClient(create_app(app_services)) as test_client:
        yield test_client


def test_a_switch_is_boolean_in_buckets_and_its_average_the_share_on(client: TestClient) -> None:
    answer = client.get(
        "/api/v1/devices/plug/telemetry",
        params={"interval": "1h", "start": NOW_MS, "end": NOW_MS + 3_600_000, "agg": "avg,min,max"},
        headers=AUTH,
    )
    assert answer.status_code == 200, answer.text
    [bucket] = answer.json()["buckets"]
    assert bucket["values"]["relay_state"] == {"avg": 0.5, "min": False, "max": True}
    assert bucket["values"]["power_w"]["max"] == 13.0


def test_fleet_fields_resolve_aliases_and_refuse_what_matches_nothing(client: TestClient) -> None:
    params = {"devices": "hall,kitchen", "interval": "1h", "start": NOW_MS}
    ok = client.get("/api/v1/telemetry", params={**params, "fields": "LDR"}, headers=AUTH)
    assert ok.status_code == 200, ok.text
    assert ok.json()["fields"] == ["light_ldr"]
    bad = client.get("/api/v1/telemetry", params={**params, "fields": "power"}, headers=AUTH)
    assert bad.status_code == 400
    assert bad.json()["detail"].endswith("its metrics: humidity_pct, light_ldr")


def test_sensor_pages_merge_locations_newest_first_each_reading_once(client: TestClient) -> None:
    everything = client.get("/api/sensor-readings/", headers=AUTH).json()["results"]
    assert len(everything) == 12
    keys = [(r["timestamp"], r["location"], r["sensor_type"]) for r in everything]
    assert keys == sorted(keys, key=lambda k: (-parse_time_ms(k[0], "ts"), k[1], k[2]))
    paged, url = [], "/api/sensor-readings/?limit=5"
    while url:
        page = client.get(url, headers=AUTH).json()
        paged += page["results"]
        url = page["next"]
    assert paged == everything
    humid = client.get("/api/sensor-readings/", params={"sensor_type": "humidity"}, headers=AUTH)
    assert {r["sensor_type"] for r in humid.json()["results"]} == {"humidity"}
    missing = client.get("/api/sensor-readings/", params={"location": "attic"}, headers=AUTH)
    assert missing.status_code == 404


def test_tokenless_ingest_is_quarantined_and_limited_per_address(
    client: TestClient, store: SqlStore
) -> None:
    item = {"device_id": "inv-9", "data_type": "power", "value": 1.0, "timestamp": NOW_MS}
    body = orjson.dumps([item])
    kept = client.post("/compat/smartsolar/telemetry", content=body)
    assert kept.status_code == 202, kept.text
    [rejected] = kept.json()["rejected"]
    assert kept.json()["accepted"] == kept.json()["samples_stored"] == 0
    assert (rejected["device_id"], rejected["reason"]) == ("inv-9", "unknown_device")
    assert "replay" in rejected["detail"]
    [entry] = store.quarantine(10)
    assert (entry.topic, entry.reason) == ("devices/inv-9/telemetry", "unknown_device")
    broken = client.post("/compat/smartsolar/telemetry", content=b"{not json")
    assert broken.json()["rejected"][0]["reason"] == "undecodable"
    limited = client.post("/compat/smartsolar/telemetry", content=body)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) == 36  # 100 an hour: one each 36 s
    assert store.raw_points("inv-9", 0, NOW_MS + 1, None, 10) == []


def test_tokenless_ingest_is_off_unless_configured(store: SqlStore) -> None:
    with TestClient(create_app(services(store))) as plain:
        assert plain.post("/compat/smartsolar/telemetry", content=b"[]").status_code == 501


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name_chars=st.integers(min_value=0, max_value=300))
def test_a_paired_name_is_1_to_255_characters(client: TestClient, name_chars: int) -> None:
    body = {"device_id": "plug", "name": "n" * name_chars}
    answer = client.post("/devices", json=body, headers=AUTH)
    if 1 <= name_chars <= 255:
        assert answer.status_code in {200, 201}, answer.text
        assert answer.json()["name"] == body["name"]
        listed = client.get("/devices", headers=AUTH).json()["devices"]
        assert {d["id"]: d["name"] for d in listed}["plug"] == body["name"]
    else:
        assert answer.status_code == 422
