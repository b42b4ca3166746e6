"""The HyperVolt seed's grid data, preferences, energy sources and AI decisions over the
primary stores (SQLite and PostgreSQL): the seed's field names, DRF pages, the same
roles and tenant scoping as /api/v1, and preference changes through the same checks."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from tests.integration.security.tenants import ADMIN_TOKEN, PRINCIPALS, FixedTokens, bearer

from wattline.analytics.recommendations import StaticSignals
from wattline.api.app import create_app
from wattline.api.services import ApiServices
from wattline.grid.providers import CARBON, TEMPERATURE
from wattline.intelligence.advisor import Advisor
from wattline.model.messages import Reading
from wattline.storage.base import CommitBatch
from wattline.storage.energy_data import GridValue, ValueSource
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore
from wattline.storage.sql.energy import SqlEnergyData
from wattline.storage.sql.intelligence import SqlIntelligence

H = 3_600_000
ADMIN = bearer(ADMIN_TOKEN)
VIEWER = bearer("viewer-default")
OPERATOR = bearer("operator-default")
OTHER = bearer("owner-t2")
SIGNALS = StaticSignals(prices=[0.10] * 7 + [0.30] * 17, carbon=[150.0] * 12 + [250.0] * 12)
HOME = {
    "tz": "UTC",
    "sources": [
        {"kind": "grid"},
        {"kind": "solar", "device_id": "pv"},
        {"kind": "battery", "device_id": "batt", "capacity_kwh": 10},
    ],
    "flexible_device_id": "plug",
    "preferences": {"priority": "carbon", "battery_reserve_pct": 30},
}


@pytest.fixture
def api(store: SqlStore) -> Iterator[TestClient]:
    now_ms = time.time_ns() // 1_000_000
    store.commit(
        CommitBatch(
            readings=[
                Reading("pv", now_ms - 1000, {"ac_power_w": 1800.0}),
                Reading("batt", now_ms - 1000, {"battery_soc_pct": 80.0}),
                Reading("plug", now_ms - 1000, {"power_w": 0.0}),
            ],
            seen_ms=dict.fromkeys(("pv", "batt", "plug"), now_ms),
            register=["pv", "batt", "plug"],
        )
    )
    intelligence = SqlIntelligence(store.engine)
    services = ApiServices(
        store=store,
        admin_token=ADMIN_TOKEN,
        registry=CollectorRegistry(),
        offline_after_ms=120_000,
        authenticator=FixedTokens(PRINCIPALS),
        energy_data=SqlEnergyData(store.engine),
        intelligence=intelligence,
        advisor=Advisor(store, intelligence, SIGNALS),
    )
    with TestClient(create_app(services)) as client:
        yield client


def _home(api: TestClient, home_id: str = "house") -> None:
    put = api.put(f"/api/v1/homes/{home_id}", json=HOME, headers=ADMIN)
    assert put.status_code == 200, put.text


def test_grid_data_pages_carbon_and_weather_in_the_seeds_fields(
    api: TestClient, store: SqlStore
) -> None:
    assert api.get("/api/grid-data/", headers=VIEWER).json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }
    settings_body = {"currency": "GBP", "carbon_zone": "GB", "latitude_deg": 51.5}
    settings_body["longitude_deg"] = -0.1
    assert api.put("/api/v1/energy/settings", json=settings_body, headers=ADMIN).status_code == 200
    hour = time.time_ns() // 1_000_000 // H * H
    data = SqlEnergyData(store.engine)
    data.put_grid_values(
        DEFAULT_TENANT,
        [
            GridValue(CARBON, hour, 123.0, ValueSource.LIVE, "uk-carbon-intensity", hour),
            GridValue(TEMPERATURE, hour, 11.5, ValueSource.LIVE, "open-meteo", hour),
        ],
    )
    body = api.get("/api/grid-data/", params={"hours": 3, "page_size": 4}, headers=VIEWER).json()
    # 4 hours (3 back and the current one) of carbon, irradiance and the one temperature
    assert body["count"] == 4 + 4 + 1
    assert body["previous"] is None
    assert body["next"].endswith("page=2") or "page=2" in body["next"]
    newest = body["results"][0]
    assert set(newest) == {
        "data_type", "value", "unit", "zone", "metadata", "timestamp", "created_at"
    }  # fmt: skip
    second = api.get(body["next"], headers=VIEWER).json()
    assert second["previous"] is not None
    assert len(second["results"]) == 4
    carbon = api.get("/api/grid-data/carbon_intensity/", params={"hours": 2}, headers=VIEWER)
    rows = carbon.json()
    assert [r["data_type"] for r in rows] == ["carbon_intensity"] * 3
    assert rows[0]["value"] == 123.0
    assert rows[0]["unit"] == "gCO2eq/kWh"
    assert rows[0]["zone"] == "GB"
    assert rows[0]["metadata"] == {
        "series": CARBON, "source": "cached", "provider": "uk-carbon-intensity"
    }  # fmt: skip
    assert rows[1]["metadata"]["source"] == "fallback"
    latest = api.get("/api/grid-data/latest/", headers=VIEWER).json()
    by_series = {r["metadata"]["series"]: r for r in latest}
    assert by_series[TEMPERATURE]["value"] == 11.5
    assert by_series[TEMPERATURE]["unit"] == "celsius"
    assert by_series[CARBON]["value"] == 123.0
    weather = api.get("/api/grid-data/weather/", params={"hours": 1}, headers=VIEWER).json()
    assert {r["data_type"] for r in weather} == {"weather"}
    # another tenant has no zone and no location: nothing, and its actions say why
    assert api.get("/api/grid-data/", headers=OTHER).json()["count"] == 0
    assert api.get("/api/grid-data/carbon_intensity/", headers=OTHER).status_code == 422
    assert api.get("/api/grid-data/weather/", headers=OTHER).status_code == 422
    assert api.get("/api/grid-data/", params={"page": 2}, headers=VIEWER).status_code == 404
    assert api.get("/api/grid-data/").status_code == 401


def test_preferences_read_and_change_through_the_homes_checks(api: TestClient) -> None:
    assert api.get("/api/preferences/", headers=VIEWER).json()["count"] == 0
    assert api.get("/api/preferences/priority/", headers=VIEWER).status_code == 404
    _home(api)
    listing = api.get("/api/preferences/", headers=VIEWER).json()
    by_key = {r["preference_key"]: r for r in listing["results"]}
    assert by_key["priority"]["preference_value"] == "carbon"
    assert by_key["battery_reserve_pct"]["preference_value"] == 30
    assert by_key["automation"]["preference_value"] is False
    assert by_key["priority"]["description"]
    assert by_key["priority"]["home_id"] == "house"
    one = api.get("/api/preferences/get_preference/", params={"key": "priority"}, headers=VIEWER)
    assert one.json()["preference_value"] == "carbon"
    # a viewer may read, not write; an admin's change lands in the primary API's home
    body = {"preference_value": "cost"}
    assert api.patch("/api/preferences/priority/", json=body, headers=VIEWER).status_code == 403
    changed = api.patch("/api/preferences/priority/", json=body, headers=ADMIN)
    assert changed.status_code == 200, changed.text
    assert changed.json()["preference_value"] == "cost"
    home = api.get("/api/v1/homes/house", headers=VIEWER).json()
    assert home["preferences"]["priority"] == "cost"
    assert home["preferences"]["battery_reserve_pct"] == 30  # the others kept
    assert home["sources"][1]["device_id"] == "pv"
    bad = api.put(
        "/api/preferences/battery_reserve_pct/", json={"preference_value": 101}, headers=ADMIN
    )
    assert bad.status_code == 400
    assert "battery_reserve_pct" in bad.json()["detail"]
    unknown = api.put("/api/preferences/brightness/", json={"preference_value": 1}, headers=ADMIN)
    assert unknown.status_code == 404
    assert "automation" in unknown.json()["detail"]
    # a second home: the seed's single-household paths must now name one
    _home(api, "cabin")
    assert api.get("/api/preferences/priority/", headers=VIEWER).status_code == 400
    picked = api.get("/api/preferences/priority/", params={"home": "cabin"}, headers=VIEWER)
    assert picked.json()["preference_value"] == "carbon"
    assert api.get("/api/preferences/", headers=VIEWER).json()["count"] == 2 * 9
    # another tenant sees none of them
    assert api.get("/api/preferences/", headers=OTHER).json()["count"] == 0
    assert (
        api.get("/api/preferences/priority/", params={"home": "house"}, headers=OTHER).status_code
        == 404
    )


def test_energy_sources_show_each_sources_status_and_output(api: TestClient) -> None:
    _home(api)
    body = api.get("/api/energy-sources/", headers=VIEWER).json()
    assert body["count"] == 3
    rows = body["results"]
    assert [r["source_type"] for r in rows] == ["solar", "battery", "grid"]  # by priority
    solar, battery, grid = rows
    assert solar["current_output"] == 1800.0
    assert solar["is_available"] is True
    assert battery["capacity_kwh"] == 10
    assert grid["is_available"] is True  # the grid without a meter is always there
    assert grid["device_id"] is None
    available = api.get("/api/energy-sources/available/", headers=VIEWER).json()
    assert {r["source_type"] for r in available} == {"solar", "battery", "grid"}
    assert api.get("/api/energy-sources/", headers=OTHER).json()["count"] == 0


def test_ai_decisions_are_the_decision_log_in_the_seeds_fields(api: TestClient) -> None:
    _home(api)
    for _ in range(3):
        assert api.post("/api/v1/homes/house/decisions", headers=OPERATOR).status_code == 200
    primary = api.get("/api/v1/decisions", headers=VIEWER).json()["decisions"]
    body = api.get("/api/ai-decisions/", params={"page_size": 2}, headers=VIEWER).json()
    assert body["count"] == 3
    assert body["previous"] is None
    first = body["results"][0]
    assert set(first) == {
        "id", "decision_type", "decision", "confidence", "reasoning", "applied",
        "timestamp", "created_at",
    }  # fmt: skip
    assert first["id"] == primary[0]["id"]
    assert first["reasoning"] == primary[0]["explanation"]
    assert first["decision"]["source"] == primary[0]["source"]
    assert first["decision"]["inputs"] == primary[0]["inputs"]
    assert first["applied"] is False  # the home does not allow automation
    assert first["decision_type"] == (
        "power_source" if primary[0]["run_from"] is None else "load_shift"
    )
    rest = api.get(body["next"], headers=VIEWER).json()
    assert [r["id"] for r in rest["results"]] == [primary[2]["id"]]
    assert rest["next"] is None
    detail = api.get(f"/api/ai-decisions/{first['id']}/", headers=VIEWER)
    assert detail.json() == first
    assert api.get(f"/api/ai-decisions/{first['id']}/", headers=OTHER).status_code == 404
    assert api.get("/api/ai-decisions/", headers=OTHER).json()["count"] == 0
    recent = api.get("/api/ai-decisions/recent/", params={"hours": 1}, headers=VIEWER).json()
    assert recent["count"] == 3
    typed = api.get(
        "/api/ai-decisions/", params={"decision_type": first["decision_type"]}, headers=VIEWER
    ).json()
    assert typed["count"] == 3
    assert (
        api.get("/api/ai-decisions/", params={"applied": True}, headers=VIEWER).json()["count"] == 0
    )
    assert (
        api.get("/api/ai-decisions/", params={"applied": False}, headers=VIEWER).json()["count"]
        == 3
    )
    # decisions come from Wattline's rules, with what they saw: no external writes
    assert api.post("/api/ai-decisions/", json={}, headers=ADMIN).status_code == 405


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    hours=st.integers(min_value=-2, max_value=31 * 24 + 2),
    page_size=st.integers(min_value=-1, max_value=1_002),
)
def test_hours_and_page_size_are_refused_outside_their_range(
    api: TestClient, hours: int, page_size: int
) -> None:
    params = {"hours": hours, "page_size": page_size}
    status = api.get("/api/grid-data/", params=params, headers=VIEWER).status_code
    ok = 1 <= hours <= 31 * 24 and 1 <= page_size <= 1_000
    assert status == (200 if ok else 422)
    recent = api.get("/api/ai-decisions/recent/", params=params, headers=VIEWER).status_code
    assert recent == (200 if ok else 422)
