"""PV systems and GET /devices/{id}/solar over SQLite and PostgreSQL: the simulated
inverter on a clear day against pvlib's expectation."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from tests.integration.analytics.conftest import load
from tests.integration.security.tenants import ADMIN_TOKEN, PRINCIPALS, FixedTokens, bearer

from wattline.api.app import create_app
from wattline.api.services import ApiServices
from wattline.model.messages import Reading
from wattline.simulator.models.solar import SolarInverter, clear_sky
from wattline.storage.sql import SqlStore
from wattline.storage.sql.energy import SqlEnergyData

LONDON = ZoneInfo("Europe/London")
ADMIN = bearer(ADMIN_TOKEN)
DEMO = {"latitude_deg": 51.5, "longitude_deg": -0.1, "tilt_deg": 0, "azimuth_deg": 180, "kwp": 5}


@pytest.fixture
def client(store: SqlStore) -> Iterator[TestClient]:
    services = ApiServices(
        store=store,
        admin_token=ADMIN_TOKEN,
        registry=CollectorRegistry(),
        offline_after_ms=120_000,
        authenticator=FixedTokens(PRINCIPALS),
        energy_data=SqlEnergyData(store.engine),
    )
    with TestClient(create_app(services)) as test_client:
        yield test_client


def clear_day(device_id: str, day: str) -> list[Reading]:
    inverter = SolarInverter(
        random.Random(3), latitude_deg=51.5, longitude_deg=-0.1, clouds=clear_sky()
    )
    now = datetime.fromisoformat(day).replace(tzinfo=LONDON).astimezone(UTC)
    readings = [Reading(device_id, int(now.timestamp() * 1000), {"energy_wh": 0.0})]
    for _ in range(24 * 12 + 1):
        now += timedelta(minutes=5)
        metrics = inverter.step(now, 300.0)
        readings.append(
            Reading(device_id, int(now.timestamp() * 1000), {"energy_wh": metrics["energy_wh"]})
        )
    return readings


def test_the_demo_inverter_on_a_clear_day(client: TestClient, store: SqlStore) -> None:
    load(store, clear_day("inv", "2026-06-21T00:00:00"), device_type="solar_inverter")
    assert client.get("/api/v1/devices/inv/solar", headers=ADMIN).status_code == 404
    put = client.put("/api/v1/devices/inv/pv-system", json=DEMO, headers=ADMIN)
    assert put.status_code == 200, put.text
    params = {
        "start": "2026-06-21T00:00:00+01:00",
        "end": "2026-06-22T00:00:00+01:00",
        "tz": "Europe/London",
    }
    body = client.get("/api/v1/devices/inv/solar", params=params, headers=ADMIN).json()
    (day,) = body["days"]
    assert day["irradiance"] == "clear_sky"
    assert 0.7 <= day["performance_ratio"] <= 1.0
    assert day["actual_kwh"] > 30
    assert body["findings"] == []

    # the array said to be twice its size: every day is far below expected
    doubled = {**DEMO, "kwp": 10, "min_days": 1}
    client.put("/api/v1/devices/inv/pv-system", json=doubled, headers=ADMIN)
    body = client.get("/api/v1/devices/inv/solar", params=params, headers=ADMIN).json()
    (finding,) = body["findings"]
    assert finding["first_day"] == "2026-06-21"
    assert 0.5 < finding["mean_ratio"] < 0.7
    assert "below the 80% threshold" in finding["reason"]


def test_pv_system_validation_and_tenancy(client: TestClient, store: SqlStore) -> None:
    load(store, [Reading("inv", 0, {"energy_wh": 0.0})])
    bad = client.put("/api/v1/devices/inv/pv-system", json={**DEMO, "tilt_deg": 91}, headers=ADMIN)
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "tilt_deg"]
    other = client.put("/api/v1/devices/inv/pv-system", json=DEMO, headers=bearer("owner-t2"))
    assert other.status_code == 404
    viewer = client.put(
        "/api/v1/devices/inv/pv-system", json=DEMO, headers=bearer("viewer-default")
    )
    assert viewer.status_code == 403


def test_pv_systems_lists_the_tenants_devices_with_one(client: TestClient, store: SqlStore) -> None:
    load(store, [Reading("inv", 0, {"energy_wh": 0.0})])
    load(store, [Reading("inv-b", 0, {"energy_wh": 0.0})])
    viewer = bearer("viewer-default")
    assert client.get("/api/v1/pv-systems", headers=viewer).json() == {"device_ids": []}
    for device_id in ("inv-b", "inv"):
        put = client.put(f"/api/v1/devices/{device_id}/pv-system", json=DEMO, headers=ADMIN)
        assert put.status_code == 200, put.text
    assert client.get("/api/v1/pv-systems", headers=viewer).json() == {
        "device_ids": ["inv", "inv-b"]
    }
    # another tenant's systems are not listed
    assert client.get("/api/v1/pv-systems", headers=bearer("owner-t2")).json() == {"device_ids": []}
