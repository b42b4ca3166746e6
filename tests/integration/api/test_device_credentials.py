"""Device credentials over the API, and HTTP ingest with a device's token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
from wattline.security.device_credentials import BrokerSyncError
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore

AUTH = {"Authorization": "Bearer t"}
NOW_MS = 1_764_057_600_000


class RecordingBroker:
    def __init__(self) -> None:
        self.passwords: dict[str, str] = {}
        self.revoked: list[str] = []

    def grant(self, device_id: str, password: str) -> None:
        self.passwords[device_id] = password

    def revoke(self, device_id: str) -> None:
        self.revoked.append(device_id)


@pytest.fixture
def broker() -> RecordingBroker:
    return RecordingBroker()


@pytest.fixture
def api(store: SqlStore, tmp_path: Path, broker: RecordingBroker) -> Iterator[TestClient]:
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
        rate_limiter=RateLimiter(rate_per_s=100.0, burst=100, clock_s=lambda: 0.0),
        credentials=store,
        broker_accounts=broker,
    )
    for device_id in ("inv-1", "inv-2", "wattline-collector"):
        store.register_device(device_id, "solar_inverter", NOW_MS, tenant_id=DEFAULT_TENANT)
    with TestClient(create_app(services)) as client:
        yield client


def issue(api: TestClient, device_id: str, kind: str) -> dict[str, str]:
    response = api.post(
        f"/api/v1/devices/{device_id}/credentials", json={"kind": kind}, headers=AUTH
    )
    assert response.status_code == 201, response.text
    body: dict[str, str] = response.json()
    return body


def item(device: str) -> dict[str, object]:
    return {"device_id": device, "data_type": "power", "value": 1.5, "timestamp": NOW_MS - 1000}


def test_mqtt_password_is_shown_once_and_set_in_the_broker(
    api: TestClient, broker: RecordingBroker
) -> None:
    issued = issue(api, "inv-1", "mqtt_password")
    assert issued["username"] == "inv-1"
    assert broker.passwords == {"inv-1": issued["secret"]}
    listed = api.get("/api/v1/devices/inv-1/credentials", headers=AUTH).json()["credentials"]
    assert [c["credential_id"] for c in listed] == [issued["credential_id"]]
    assert "secret" not in listed[0]
    assert issued["secret"] not in str(listed)
    # one password at a time: a second one is a rotation
    again = api.post(
        "/api/v1/devices/inv-1/credentials", json={"kind": "mqtt_password"}, headers=AUTH
    )
    assert again.status_code == 409


def test_rotation_replaces_and_revocation_disables(
    api: TestClient, broker: RecordingBroker
) -> None:
    old = issue(api, "inv-1", "mqtt_password")
    url = f"/api/v1/devices/inv-1/credentials/{old['credential_id']}"
    new = api.post(f"{url}/rotate", headers=AUTH).json()
    assert new["secret"] != old["secret"]
    assert broker.passwords["inv-1"] == new["secret"]
    assert api.post(f"{url}/rotate", headers=AUTH).status_code == 404  # revoked by the rotation
    new_url = f"/api/v1/devices/inv-1/credentials/{new['credential_id']}"
    assert api.delete(new_url, headers=AUTH).status_code == 204
    assert broker.revoked == ["inv-1"]
    listed = api.get("/api/v1/devices/inv-1/credentials", headers=AUTH).json()["credentials"]
    assert all(c["revoked_at"] is not None for c in listed)


@pytest.mark.parametrize("device_id", ["a+b", "a#", "a%2Fb", "a%00b", "a%0Ab"])
def test_device_ids_that_would_bend_topic_acls_are_refused(api: TestClient, device_id: str) -> None:
    created = api.post("/api/v1/devices", json={"device_id": device_id}, headers=AUTH)
    assert created.status_code in {404, 422}
    issued = api.post(
        f"/api/v1/devices/{device_id}/credentials", json={"kind": "mqtt_password"}, headers=AUTH
    )
    assert issued.status_code in {404, 405, 422}  # 405: "/" splits the path


def test_wattlines_own_broker_accounts_cannot_be_taken(api: TestClient) -> None:
    response = api.post(
        "/api/v1/devices/wattline-collector/credentials",
        json={"kind": "mqtt_password"},
        headers=AUTH,
    )
    assert response.status_code == 422


def test_device_token_sends_for_its_own_device_only(api: TestClient, store: SqlStore) -> None:
    token = issue(api, "inv-1", "http_token")["secret"]
    assert token.startswith("wld_")
    device_auth = {"Authorization": f"Bearer {token}"}

    own = api.post("/api/v1/telemetry", json=[item("inv-1")], headers=device_auth)
    assert own.status_code == 200, own.text

    foreign = api.post("/api/v1/telemetry", json=[item("inv-2")], headers=device_auth)
    assert foreign.status_code == 403
    mixed = api.post("/api/v1/telemetry", json=[item("inv-1"), item("inv-2")], headers=device_auth)
    assert mixed.status_code == 403
    assert "inv-2" not in store.latest_values(["inv-2"])
    # the admin token still sends for any device
    assert api.post("/api/v1/telemetry", json=[item("inv-2")], headers=AUTH).status_code == 200
    # a device token opens nothing else
    assert api.get("/api/v1/devices", headers=device_auth).status_code == 401


def test_revoked_or_unknown_device_token_is_refused(api: TestClient) -> None:
    issued = issue(api, "inv-1", "http_token")
    api.delete(f"/api/v1/devices/inv-1/credentials/{issued['credential_id']}", headers=AUTH)
    for token in (issued["secret"], "wld_nonsense"):
        response = api.post(
            "/api/v1/telemetry", json=[item("inv-1")], headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401


def test_registering_a_device_issues_its_credentials_once(
    api: TestClient, broker: RecordingBroker
) -> None:
    body = {"device_id": "inv-9", "type": "solar_inverter"}
    created = api.post(
        "/api/v1/devices",
        json={**body, "credentials": ["mqtt_password", "http_token"]},
        headers=AUTH,
    )
    assert created.status_code == 201, created.text
    issued = {c["kind"]: c for c in created.json()["credentials"]}
    assert set(issued) == {"mqtt_password", "http_token"}
    assert broker.passwords == {"inv-9": issued["mqtt_password"]["secret"]}
    assert issued["http_token"]["secret"].startswith("wld_")
    # the token works for HTTP ingest at once
    token = {"Authorization": f"Bearer {issued['http_token']['secret']}"}
    assert api.post("/api/v1/telemetry", json=[item("inv-9")], headers=token).status_code == 200
    # registering again without credentials shows none and keeps the issued ones
    again = api.post("/api/v1/devices", json=body, headers=AUTH)
    assert again.status_code == 200
    assert again.json()["credentials"] == []
    listed = api.get("/api/v1/devices/inv-9/credentials", headers=AUTH).json()["credentials"]
    assert len(listed) == 2
    assert all("secret" not in c for c in listed)


def test_a_refused_credential_registers_nothing(api: TestClient, broker: RecordingBroker) -> None:
    issue(api, "inv-1", "mqtt_password")
    again = api.post(
        "/api/v1/devices",
        json={"device_id": "inv-1", "credentials": ["http_token", "mqtt_password"]},
        headers=AUTH,
    )
    assert again.status_code == 409
    assert (
        len(api.get("/api/v1/devices/inv-1/credentials", headers=AUTH).json()["credentials"]) == 1
    )
    reserved = api.post(
        "/api/v1/devices",
        json={"device_id": "wattline-simulator", "credentials": ["mqtt_password"]},
        headers=AUTH,
    )
    assert reserved.status_code == 422
    assert api.get("/api/v1/devices/wattline-simulator", headers=AUTH).status_code == 404
    certificate = api.post(
        "/api/v1/devices", json={"device_id": "inv-8", "credentials": ["certificate"]}, headers=AUTH
    )
    assert certificate.status_code == 422
    assert list(broker.passwords) == ["inv-1"]


def test_mqtt_passwords_need_security_on(store: SqlStore) -> None:
    services = ApiServices(
        store=store,
        admin_token="t",
        registry=CollectorRegistry(),
        offline_after_ms=120_000,
        credentials=store,
    )
    with TestClient(create_app(services)) as client:
        refused = client.post(
            "/api/v1/devices",
            json={"device_id": "plug-1", "credentials": ["mqtt_password"]},
            headers=AUTH,
        )
        assert refused.status_code == 409
        assert "WATTLINE_SECURITY=on" in refused.json()["detail"]
        assert client.get("/api/v1/devices/plug-1", headers=AUTH).status_code == 404
        token = client.post(
            "/api/v1/devices",
            json={"device_id": "plug-1", "credentials": ["http_token"]},
            headers=AUTH,
        )
        assert token.status_code == 201
        assert token.json()["credentials"][0]["kind"] == "http_token"


def test_a_broker_refusal_keeps_the_device_without_a_password(
    api: TestClient, broker: RecordingBroker
) -> None:
    def refuse(device_id: str, password: str) -> None:
        raise BrokerSyncError("no")

    broker.grant = refuse  # type: ignore[method-assign]
    refused = api.post(
        "/api/v1/devices",
        json={"device_id": "inv-7", "credentials": ["mqtt_password"]},
        headers=AUTH,
    )
    assert refused.status_code == 503
    assert api.get("/api/v1/devices/inv-7/credentials", headers=AUTH).json()["credentials"] == []
