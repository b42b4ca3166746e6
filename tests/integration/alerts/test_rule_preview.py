"""POST /api/v1/alert-rules/preview: a rule replayed over the last 7 days of the
tenant's stored readings, capped, per device with the first raise times."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from tests.integration.alerts.receivers import sqlite_store
from tests.integration.security.tenants import ADMIN_TOKEN, PRINCIPALS, FixedTokens, bearer

from wattline.api import rule_preview
from wattline.api.app import create_app
from wattline.api.services import ApiServices
from wattline.model.alerts import Rule, RuleKind, ScopeKind, Severity
from wattline.model.messages import Reading
from wattline.model.times import iso_ms
from wattline.storage.base import CommitBatch
from wattline.storage.sql import SqlStore

NOW = 1_764_057_600_000
MIN = 60_000
ADMIN = bearer(ADMIN_TOKEN)
HOT = {
    "name": "Hot",
    "kind": "threshold",
    "metric": "temperature_c",
    "params": {"op": "above", "limit": 30, "hysteresis": 2},
}


def _services(store: SqlStore) -> ApiServices:
    return ApiServices(
        store=store,
        admin_token=ADMIN_TOKEN,
        registry=CollectorRegistry(),
        offline_after_ms=120_000,
        authenticator=FixedTokens(PRINCIPALS),
        alerts=store.alerts,
        clock_ms=lambda: NOW,
    )


def commit(store: SqlStore, device_id: str, values: list[tuple[int, float]]) -> None:
    readings = [
        Reading(device_id, ts_ms, {"temperature_c": value}, seq)
        for seq, (ts_ms, value) in enumerate(values)
    ]
    store.commit(CommitBatch(readings=readings, seen_ms={device_id: NOW}, register=[device_id]))


@pytest.fixture
def client(store: SqlStore) -> Iterator[TestClient]:
    day = 86_400_000
    # hot twice in the week (the second excursion stays above the band between)
    commit(
        store,
        "room-a",
        [
            (NOW - 3 * day, 20.0),
            (NOW - 3 * day + MIN, 35.0),
            (NOW - 3 * day + 2 * MIN, 29.0),  # inside the hysteresis band: still hot
            (NOW - 3 * day + 3 * MIN, 20.0),
            (NOW - day, 40.0),
        ],
    )
    commit(store, "room-b", [(NOW - 2 * day, 22.0)])
    # hot, but eight days ago: outside the window
    commit(store, "room-c", [(NOW - 8 * day, 50.0)])
    with TestClient(create_app(_services(store))) as test_client:
        yield test_client


def test_the_preview_counts_alerts_per_device_with_first_times(client: TestClient) -> None:
    response = client.post("/api/v1/alert-rules/preview", json=HOT, headers=ADMIN)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["alerts_opened"] == 2
    assert (body["devices_in_scope"], body["devices_evaluated"]) == (3, 3)
    assert body["truncated"] is False
    assert body["readings"] == 6
    first = body["devices"][0]
    assert first["device_id"] == "room-a"
    assert first["alerts_opened"] == 2
    assert first["first_opened_at"] == [
        iso_ms(NOW - 3 * 86_400_000 + MIN),
        iso_ms(NOW - 86_400_000),
    ]
    assert first["open_at_end"] is True
    assert {d["device_id"]: d["alerts_opened"] for d in body["devices"][1:]} == {
        "room-b": 0,
        "room-c": 0,
    }
    # nothing was saved: a preview is not a rule
    assert client.get("/api/v1/alert-rules", headers=ADMIN).json()["rules"] == []


def test_scope_role_kind_and_tenant(client: TestClient) -> None:
    one = {**HOT, "scope": "device", "scope_value": "room-b"}
    body = client.post("/api/v1/alert-rules/preview", json=one, headers=ADMIN).json()
    assert [d["device_id"] for d in body["devices"]] == ["room-b"]
    # another tenant: the device is not theirs, and their tenant-wide scope is empty
    t2 = bearer("owner-t2")
    assert client.post("/api/v1/alert-rules/preview", json=one, headers=t2).status_code == 404
    theirs = client.post("/api/v1/alert-rules/preview", json=HOT, headers=t2).json()
    assert (theirs["devices_in_scope"], theirs["devices"]) == (0, [])
    # the role of creating rules
    operator = bearer("operator-default")
    assert client.post("/api/v1/alert-rules/preview", json=HOT, headers=operator).status_code == 403
    # a malformed rule names its field; a kind that reads no readings is refused
    bad = {**HOT, "params": {"op": "above"}}
    response = client.post("/api/v1/alert-rules/preview", json=bad, headers=ADMIN)
    assert response.status_code == 422
    assert ["body", "threshold", "params", "limit"] in [e["loc"] for e in response.json()["detail"]]
    offline = {"name": "off", "kind": "offline"}
    response = client.post("/api/v1/alert-rules/preview", json=offline, headers=ADMIN)
    assert response.status_code == 422
    assert "no preview" in response.json()["detail"]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlStore]:
    """Eight devices with five readings each (SQLite: the caps are not the backend's)."""
    with sqlite_store(Path(tmp_path_factory.mktemp("preview"))) as store:
        for i in range(8):
            commit(store, f"d{i}", [(NOW - (5 - k) * MIN, 40.0 + k) for k in range(5)])
        yield store


def _hot(tenant: str = "default") -> Rule:
    return Rule(
        "preview", tenant, "Hot", RuleKind.THRESHOLD, Severity.WARNING, ScopeKind.TENANT, None,
        "temperature_c", {"op": "above", "limit": 30.0},
    )  # fmt: skip


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(max_devices=st.integers(min_value=1, max_value=10), max_readings=st.integers(1, 45))
def test_the_caps_at_their_edges(
    fleet: SqlStore, monkeypatch: pytest.MonkeyPatch, max_devices: int, max_readings: int
) -> None:
    monkeypatch.setattr(rule_preview, "MAX_PREVIEW_DEVICES", max_devices)
    monkeypatch.setattr(rule_preview, "MAX_PREVIEW_READINGS", max_readings)
    body = rule_preview.preview_rule(fleet.alerts, fleet, _hot(), NOW)
    wanted = min(8, max_devices) * 5
    assert body.devices_in_scope == 8
    assert body.readings == min(wanted, max_readings)
    assert body.readings <= max_readings
    assert body.devices_evaluated <= max_devices
    # truncated when a cap was reached (a device or a reading may have been left out)
    complete = max_devices >= 8 and max_readings > 40
    assert body.truncated is not complete
    assert (body.limits.devices, body.limits.readings) == (max_devices, max_readings)
    # every evaluated device opened one alert on its first reading
    assert body.alerts_opened == body.devices_evaluated
    other = rule_preview.preview_rule(fleet.alerts, fleet, _hot("t2"), NOW)
    assert (other.devices_in_scope, other.readings, other.truncated) == (0, 0, False)
