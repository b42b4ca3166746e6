"""The REST API over a real SQLite store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from wattline.api.app import create_app
from wattline.api.schemas import FleetTelemetryOut, TelemetryOut
from wattline.api.services import ApiServices
from wattline.archive.folder import FolderArchive
from wattline.ingest.committer import Committer
from wattline.ingest.interpret import InterpretConfig
from wattline.model.messages import InboundMessage, Reading
from wattline.observability.metrics import IngestMetrics
from wattline.storage.base import CommitBatch, StoreUnavailableError
from wattline.storage.sql import SqlStore

TOKEN = "test-token"
T0 = 1_764_057_600_000
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def services(store: object) -> ApiServices:
    return ApiServices(
        store=store,  # type: ignore[arg-type]
        admin_token=TOKEN,
        registry=CollectorRegistry(),
        offline_after_ms=120_000,
    )


@pytest.fixture
def client(store: SqlStore) -> Iterator[TestClient]:
    readings = [
        Reading("m1", T0 + i * 10_000, {"power_w": float(i), "voltage_v": 230.0}, i)
        for i in range(36)  # six minutes at 10 s
    ]
    store.commit(CommitBatch(readings=readings, seen_ms={"m1": T0}, register=["m1"]))
    with TestClient(create_app(services(store))) as test_client:
        yield test_client


def test_requests_without_the_token_are_refused(client: TestClient) -> None:
    response = client.get("/api/v1/devices")
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]
    bad = client.get("/api/v1/devices", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_device_list_and_detail(client: TestClient) -> None:
    listing = client.get("/api/v1/devices", headers=AUTH).json()
    assert listing["count"] == 1
    device = client.get("/api/v1/devices/m1", headers=AUTH).json()
    assert device["latest"]["power_w"] == {"value": 35.0, "ts": "2025-11-25T08:05:50.000Z"}
    assert device["status"] == "offline"  # silent since 2025
    missing = client.get("/api/v1/devices/nope", headers=AUTH)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "device 'nope' is not registered"


def test_raw_points(client: TestClient) -> None:
    body = client.get(
        "/api/v1/devices/m1/telemetry",
        params={"start": "2025-11-25T08:00:00Z", "end": T0 + 30_000, "fields": "power_w"},
        headers=AUTH,
    ).json()
    assert body["interval"] is None
    assert body["points"] == [
        {"ts": f"2025-11-25T08:00:{s:02d}.000Z", "seq": s // 10, "values": {"power_w": s / 10}}
        for s in (0, 10, 20)
    ]


def test_buckets(client: TestClient) -> None:
    body = client.get(
        "/api/v1/devices/m1/telemetry",
        params={"start": T0, "end": T0 + 360_000, "interval": "1m", "fields": "power_w"},
        headers=AUTH,
    ).json()
    assert len(body["buckets"]) == 6
    first = body["buckets"][0]
    assert first["ts"] == "2025-11-25T08:00:00.000Z"
    assert first["values"]["power_w"] == {"avg": 2.5, "min": 0.0, "max": 5.0, "count": 6}


def test_raw_points_report_truncation(client: TestClient) -> None:
    body = client.get(
        "/api/v1/devices/m1/telemetry", params={"start": T0, "limit": 5}, headers=AUTH
    ).json()
    assert len(body["points"]) == 5
    assert body["truncated"] is True


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "yesterday"}, "start='yesterday' is neither an ISO 8601 timestamp"),
        ({"start": T0 + 10, "end": T0}, "must be before end"),
        (
            {"start": T0, "interval": "5 minutes"},
            "interval '5 minutes' must be a positive whole number",
        ),
        ({"start": 0, "interval": "1s"}, "exceed 50000"),
    ],
)
def test_bad_queries_get_a_precise_422(
    client: TestClient, params: dict[str, object], message: str
) -> None:
    response = client.get("/api/v1/devices/m1/telemetry", params=params, headers=AUTH)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_latest(client: TestClient) -> None:
    body = client.get("/api/v1/devices/m1/telemetry/latest", headers=AUTH).json()
    assert body["values"]["voltage_v"]["value"] == 230.0


def test_register_device_is_idempotent(client: TestClient) -> None:
    created = client.post(
        "/api/v1/devices", json={"device_id": "plug-1", "type": "smart_plug"}, headers=AUTH
    )
    assert created.status_code == 201
    again = client.post("/api/v1/devices", json={"device_id": "plug-1"}, headers=AUTH)
    assert again.status_code == 200
    assert again.json()["type"] == "smart_plug"
    bad = client.post("/api/v1/devices", json={"device_id": "no/slashes"}, headers=AUTH)
    assert bad.status_code == 422


def test_quarantine_reason_filter_is_validated(client: TestClient) -> None:
    assert client.get("/api/v1/quarantine", headers=AUTH).json() == {
        "items": [],
        "next_cursor": None,
    }
    bad = client.get("/api/v1/quarantine", params={"reason": "nonsense"}, headers=AUTH)
    assert bad.status_code == 422


def test_health_ok(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["components"]["database"]["status"] == "ok"


class UnreachableStore:
    """A store whose database has gone away: the shape of a real outage, no patching."""

    def __init__(self, inner: SqlStore) -> None:
        self._inner = inner

    def ping(self) -> None:
        raise StoreUnavailableError("connection refused")

    def list_devices(self, **_kwargs: object) -> list[object]:
        raise StoreUnavailableError("connection refused")

    def device_page(self, *_args: object, **_kwargs: object) -> list[object]:
        raise StoreUnavailableError("connection refused")


def test_health_503_and_api_503_when_the_database_is_unreachable(store: SqlStore) -> None:
    with TestClient(create_app(services(UnreachableStore(store)))) as down:
        health = down.get("/health")
        assert health.status_code == 503
        assert health.json()["components"]["database"] == {
            "status": "down",
            "detail": "connection refused",
        }
        listing = down.get("/api/v1/devices", headers=AUTH)
        assert listing.status_code == 503
        assert listing.json()["detail"] == "database unavailable: connection refused"


def test_openapi_lists_the_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/health",
        "/api/v1/devices",
        "/api/v1/devices/{device_id}",
        "/api/v1/devices/{device_id}/telemetry",
        "/api/v1/devices/{device_id}/telemetry/latest",
        "/api/v1/quarantine",
    } <= set(paths)


def test_gaps(client: TestClient, store: SqlStore) -> None:
    readings = [Reading("m1", T0 + 1_000_000 + s * 1000, {"power_w": 1.0}, s) for s in (40, 43)]
    store.commit(CommitBatch(readings=readings, seen_ms={"m1": T0}))
    body = client.get("/api/v1/devices/m1/gaps", headers=AUTH).json()
    assert body["next_seq"] == 44
    assert body["missing"] == 6  # 36..39 and 41..42
    assert [(g["first_seq"], g["last_seq"]) for g in body["gaps"]] == [(36, 39), (41, 42)]
    assert client.get("/api/v1/devices/nope/gaps", headers=AUTH).status_code == 404


def test_replay_after_registering_the_unknown_device(store: SqlStore, tmp_path: Path) -> None:
    registry = CollectorRegistry()
    committer = Committer(
        store,
        FolderArchive(tmp_path),
        InterpretConfig(),
        IngestMetrics(registry),
        auto_register=False,
    )
    payload = json.dumps({"seq": 1, "ts": T0, "metrics": {"power_w": 42.0}}).encode()
    committer.commit(committer.plan([InboundMessage("iot/late-1/telemetry", payload, T0)]))
    app_services = replace(services(store), replay=committer.replay)
    with TestClient(create_app(app_services)) as api:
        [item] = api.get("/api/v1/quarantine", headers=AUTH).json()["items"]
        assert item["reason"] == "unknown_device"
        refused = api.post("/api/v1/quarantine/replay", json={"ids": [item["id"]]}, headers=AUTH)
        assert refused.json()["still_rejected"] == {str(item["id"]): "unknown_device"}
        missing = api.post("/api/v1/quarantine/replay", json={"ids": [99_999]}, headers=AUTH)
        assert missing.json() == {
            "accepted": [],
            "still_rejected": {},
            "not_found": [99_999],
            "samples_stored": 0,
        }

        api.post("/api/v1/devices", json={"device_id": "late-1"}, headers=AUTH)
        replayed = api.post(
            "/api/v1/quarantine/replay", json={"reason": "unknown_device"}, headers=AUTH
        )
        assert replayed.status_code == 200
        assert replayed.json() == {
            "accepted": [item["id"]],
            "still_rejected": {},
            "not_found": [],
            "samples_stored": 1,
        }
        assert api.get("/api/v1/quarantine", headers=AUTH).json()["items"] == []
        latest = api.get("/api/v1/devices/late-1/telemetry/latest", headers=AUTH).json()
        assert latest["values"]["power_w"]["value"] == 42.0

        bad = api.post("/api/v1/quarantine/replay", json={"reason": "nope"}, headers=AUTH)
        assert bad.status_code == 422
        assert "is not one of" in bad.json()["detail"]


def test_replay_is_501_without_a_pipeline(client: TestClient) -> None:
    response = client.post("/api/v1/quarantine/replay", json={"all": True}, headers=AUTH)
    assert response.status_code == 501


@pytest.mark.parametrize(
    "body", [{}, {"limit": 5}, {"ids": [1], "reason": "malformed"}, {"reason": "x", "all": True}]
)
def test_replay_needs_exactly_one_selector(client: TestClient, body: dict[str, object]) -> None:
    response = client.post("/api/v1/quarantine/replay", json=body, headers=AUTH)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert "exactly one of ids, reason or all: true" in error["msg"]


def test_bucket_json_is_the_documented_model(client: TestClient) -> None:
    """Bucket routes write JSON directly for speed; it must still be the documented shape."""
    one = client.get(
        "/api/v1/devices/m1/telemetry",
        params={"start": T0, "end": T0 + 360_000, "interval": "1m", "agg": "avg,count,last"},
        headers=AUTH,
    ).json()
    assert TelemetryOut.model_validate(one).model_dump(mode="json", exclude_none=False) == one
    fleet = client.get(
        "/api/v1/telemetry",
        params={"devices": "m1", "start": T0, "end": T0 + 360_000, "interval": "1m"},
        headers=AUTH,
    ).json()
    assert FleetTelemetryOut.model_validate(fleet).model_dump(mode="json") == fleet
    for path, params in (
        ("/api/v1/devices/m1/telemetry", {}),
        ("/api/v1/telemetry", {"devices": "m1"}),
    ):
        columns = client.get(
            path,
            params={
                **params,
                "start": T0,
                "end": T0 + 360_000,
                "interval": "1m",
                "layout": "columns",
            },
            headers=AUTH,
        ).json()
        model = TelemetryOut if "devices" not in params else FleetTelemetryOut
        assert model.model_validate(columns).model_dump(mode="json") == columns  # type: ignore[attr-defined]
    schema = client.get("/openapi.json").json()["paths"]["/api/v1/devices/{device_id}/telemetry"]
    ok = schema["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/TelemetryOut"}
