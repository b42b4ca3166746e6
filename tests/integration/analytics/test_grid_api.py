"""Grid values in the store, /grid/carbon, /grid/weather and device emissions, on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from tests.integration.analytics.conftest import load
from tests.integration.security.tenants import ADMIN_TOKEN, PRINCIPALS, FixedTokens, bearer

from wattline.api.app import create_app
from wattline.api.services import ApiServices
from wattline.grid.carbon_providers import UkCarbonIntensity
from wattline.grid.fetcher import FetchPlan, GridFetcher
from wattline.grid.providers import CARBON
from wattline.model.messages import Reading
from wattline.storage.energy_data import EnergySettings, GridValue, ValueSource
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore
from wattline.storage.sql.energy import SqlEnergyData
from wattline.storage.sql.leases import SqlLeases

LONDON = ZoneInfo("Europe/London")
H_MS = 3_600_000
MIN_MS = 60_000
ADMIN = bearer(ADMIN_TOKEN)


def local_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=LONDON).timestamp() * 1000)


@pytest.fixture
def data(store: SqlStore) -> SqlEnergyData:
    return SqlEnergyData(store.engine)


@pytest.fixture
def client(store: SqlStore, data: SqlEnergyData) -> Iterator[TestClient]:
    services = ApiServices(
        store=store,
        admin_token=ADMIN_TOKEN,
        registry=CollectorRegistry(),
        offline_after_ms=120_000,
        authenticator=FixedTokens(PRINCIPALS),
        energy_data=data,
    )
    with TestClient(create_app(services)) as test_client:
        yield test_client


def value(ts_ms: int, g: float, source: ValueSource) -> GridValue:
    return GridValue(CARBON, ts_ms, g, source, "test", 1)


def test_a_fallback_never_replaces_a_live_value(data: SqlEnergyData) -> None:
    t0 = local_ms("2026-01-15T00:00:00")
    data.put_grid_values(
        "t1", [value(t0, 100, ValueSource.LIVE), value(t0 + H_MS, 300, ValueSource.FALLBACK)]
    )
    data.put_grid_values(
        "t1", [value(t0, 999, ValueSource.FALLBACK), value(t0 + H_MS, 120, ValueSource.LIVE)]
    )
    stored = data.grid_values("t1", CARBON, t0, t0 + 2 * H_MS)
    assert [(v.value, v.source) for v in stored] == [
        (100, ValueSource.LIVE),
        (120, ValueSource.LIVE),
    ]
    assert data.grid_values("t2", CARBON, t0, t0 + 2 * H_MS) == []


def test_carbon_and_emissions_from_stored_and_fallback_values(
    client: TestClient, store: SqlStore, data: SqlEnergyData
) -> None:
    day = local_ms("2026-01-15T00:00:00")
    load(
        store,
        [
            Reading("plug", ts, {"power_w": 1000.0})
            for ts in range(day - H_MS, day + 25 * H_MS, 5 * MIN_MS)
        ],
    )
    client.put(
        "/api/v1/energy/settings", json={"currency": "GBP", "carbon_zone": "GB"}, headers=ADMIN
    )
    params = {"start": day, "end": day + 24 * H_MS, "tz": "Europe/London"}
    body = client.get("/api/v1/devices/plug/emissions", params=params, headers=ADMIN).json()
    # 1 kWh every hour; the fallback's hourly factors sum to 24: 238 g x 1.12 (January) x 24
    (only,) = body["days"]
    assert only["kwh"] == pytest.approx(24)
    assert only["grams_co2e"] == pytest.approx(238 * 1.12 * 24)  # 6397.44 g
    assert only["hours_by_source"] == {"fallback": 24}

    # the fetcher stored a measured value for the first hour: it replaces the fallback's
    data.put_grid_values(DEFAULT_TENANT, [value(day, 150.0, ValueSource.LIVE)])
    body = client.get("/api/v1/devices/plug/emissions", params=params, headers=ADMIN).json()
    (only,) = body["days"]
    assert only["grams_co2e"] == pytest.approx(238 * 1.12 * (24 - 0.98) + 150.0)
    assert only["hours_by_source"] == {"cached": 1, "fallback": 23}

    carbon = client.get(
        "/api/v1/grid/carbon", params={"start": day, "end": day + 3 * H_MS}, headers=ADMIN
    )
    assert carbon.status_code == 200, carbon.text
    values = carbon.json()["values"]
    assert [v["source"] for v in values] == ["cached", "fallback", "fallback"]
    assert values[0]["provider"] == "test"
    assert values[1]["value"] == pytest.approx(238 * 1.12 * 0.96)
    # another tenant's devices are not there
    other = client.get("/api/v1/devices/plug/emissions", params=params, headers=bearer("owner-t2"))
    assert other.status_code == 404


def test_weather_falls_back_to_clear_sky_and_needs_a_location(client: TestClient) -> None:
    noon = local_ms("2026-06-21T12:00:00")
    params = {"start": noon - 2 * H_MS, "end": noon + 2 * H_MS}
    missing = client.get("/api/v1/grid/weather", params=params, headers=ADMIN)
    assert missing.status_code == 422
    assert missing.json()["detail"].startswith("latitude_deg:")
    client.put(
        "/api/v1/energy/settings",
        json={"currency": "GBP", "latitude_deg": 51.5, "longitude_deg": -0.12},
        headers=ADMIN,
    )
    body = client.get("/api/v1/grid/weather", params=params, headers=ADMIN).json()
    ghi = body["series"]["ghi_w_m2"]
    assert [v["source"] for v in ghi] == ["fallback"] * 4
    # a clear midsummer late morning and early afternoon in London
    assert all(500 < v["value"] < 1000 for v in ghi), ghi


def test_grid_ranges_are_bounded(client: TestClient) -> None:
    long = client.get(
        "/api/v1/grid/carbon",
        params={"start": 0, "end": 32 * 86_400_000, "zone": "GB"},
        headers=ADMIN,
    )
    assert long.status_code == 422
    unknown = client.get(
        "/api/v1/grid/carbon", params={"start": 0, "end": H_MS, "zone": "XX"}, headers=ADMIN
    )
    assert unknown.status_code == 422
    assert unknown.json()["detail"].startswith("zone:")


def test_the_fetcher_stores_under_a_database_lease(store: SqlStore, data: SqlEnergyData) -> None:
    body = {
        "data": [
            {"from": "2026-06-10T10:00Z", "intensity": {"forecast": 120, "actual": 110}},
            {"from": "2026-06-10T10:30Z", "intensity": {"forecast": 100, "actual": None}},
        ]
    }
    client = httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(200, json=body)))
    data.put_settings(DEFAULT_TENANT, EnergySettings("GBP", "GB"))
    now_ms = int(datetime.fromisoformat("2026-06-10T11:00:00+00:00").timestamp() * 1000)
    leases = SqlLeases(store.engine, clock_ms=lambda: now_ms)
    plan = FetchPlan(lookback_s=3 * 3600, lookahead_s=3600)

    def fetcher(holder: str) -> GridFetcher:
        provider = UkCarbonIntensity(client)
        return GridFetcher(data, leases, holder, [provider], None, plan, clock_ms=lambda: now_ms)

    assert fetcher("first").run_once() == {DEFAULT_TENANT: 4}
    assert fetcher("second").run_once() is None  # the lease is the first's
    stored = data.grid_values(DEFAULT_TENANT, CARBON, now_ms - 3 * H_MS, now_ms + H_MS)
    assert [v.source for v in stored] == [ValueSource.FALLBACK] * 2 + [
        ValueSource.LIVE,
        ValueSource.FALLBACK,
    ]
    assert stored[2].value == 105.0
