"""Tariffs and GET /api/v1/energy/cost over SQLite and PostgreSQL, to the cent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from tests.integration.analytics.conftest import load
from tests.integration.security.tenants import ADMIN_TOKEN, PRINCIPALS, FixedTokens, bearer

from wattline.api.app import create_app
from wattline.api.services import ApiServices
from wattline.model.messages import Reading
from wattline.storage.sql import SqlStore
from wattline.storage.sql.energy import SqlEnergyData

LONDON = ZoneInfo("Europe/London")
MIN_MS = 60_000
H_MS = 3_600_000
ADMIN = bearer(ADMIN_TOKEN)

TOU = {
    "name": "Night saver",
    "tz": "Europe/London",
    "versions": [
        {
            "effective_from": "2026-01-01",
            "pricing": "tou",
            "price_per_kwh": 0.30,
            "periods": [{"name": "night", "start": "00:30", "end": "04:30", "price_per_kwh": 0.10}],
            "standing_charge_per_day": 0.45,
            "export_price_per_kwh": 0.15,
        }
    ],
}


def local_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=LONDON).timestamp() * 1000)


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


def put(client: TestClient, path: str, body: dict[str, Any], token: str = ADMIN_TOKEN) -> Any:
    response = client.put(path, json=body, headers=bearer(token))
    assert response.status_code in {200, 201}, response.text
    return response.json()


def cost(client: TestClient, **params: object) -> Any:
    response = client.get("/api/v1/energy/cost", params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


def test_time_of_use_over_the_autumn_dst_day(client: TestClient, store: SqlStore) -> None:
    start_ms = local_ms("2026-10-25T00:00:00")
    end_ms = start_ms + 25 * H_MS
    load(
        store,
        [
            Reading("plug", ts, {"power_w": 1000.0})
            for ts in range(start_ms - H_MS, end_ms + H_MS, MIN_MS)
        ],
    )
    put(client, "/api/v1/tariffs/night", TOU)
    put(client, "/api/v1/tariff-assignments", {"target_kind": "tenant", "tariff_id": "night"})
    put(client, "/api/v1/energy/settings", {"currency": "GBP"})
    body = cost(client, devices="plug", start=start_ms, end=end_ms, tz="Europe/London")
    assert body["currency"] == "GBP"
    (bucket,) = body["buckets"]
    assert bucket["start"] == "2026-10-24T23:00:00.000Z"
    # 5 h at night (01:00-02:00 twice) x 10p + 20 h x 30p + 45p standing charge
    assert bucket["cost"] == body["cost"] == 6.95
    assert bucket["import_kwh"] == pytest.approx(25)
    parts = {p["period"]: p for p in bucket["parts"]}
    assert parts["night"]["kwh"] == pytest.approx(5)
    assert parts["night"]["amount"] == pytest.approx(0.5)
    assert parts["standard"]["kwh"] == pytest.approx(20)
    assert parts["standing charge"]["days"] == 1
    assert {p["effective_from"] for p in bucket["parts"]} == {"2026-01-01"}
    assert body["devices"] == [
        {
            "device_id": "plug",
            "tariff_id": "night",
            "direction": "import",
            "import_kwh": pytest.approx(25),
            "export_kwh": 0.0,
            "energy_cost": 6.5,
        }
    ]


def test_a_price_change_mid_month(client: TestClient, store: SqlStore) -> None:
    start_ms = local_ms("2026-03-01T00:00:00")
    end_ms = local_ms("2026-04-01T00:00:00")
    # 2 kW all month (743 h: 29 March has 23), read every 10 minutes (within max_gap_s)
    ten_min = 10 * MIN_MS
    load(
        store,
        [
            Reading("meter", ts, {"power_w": 2000.0})
            for ts in range(start_ms - ten_min, end_ms + 2 * ten_min, ten_min)
        ],
    )
    tariff = {
        "name": "Flat",
        "tz": "Europe/London",
        "versions": [
            {
                "effective_from": "2026-01-01",
                "effective_to": "2026-03-15",
                "pricing": "flat",
                "price_per_kwh": 0.20,
                "standing_charge_per_day": 0.40,
            },
            {
                "effective_from": "2026-03-15",
                "pricing": "flat",
                "price_per_kwh": 0.25,
                "standing_charge_per_day": 0.50,
            },
        ],
    }
    put(client, "/api/v1/tariffs/flat", tariff)
    put(
        client,
        "/api/v1/tariff-assignments",
        {"target_kind": "device", "target": "meter", "tariff_id": "flat"},
    )
    body = cost(
        client, devices="meter", start=start_ms, end=end_ms, interval="1mo", tz="Europe/London"
    )
    (bucket,) = body["buckets"]
    # 14 days x 48 kWh x 20p + 814 kWh x 25p + 14 x 40p + 17 x 50p
    assert bucket["cost"] == 352.00
    by_version = {}
    for part in bucket["parts"]:
        by_version.setdefault(part["effective_from"], 0.0)
        by_version[part["effective_from"]] += part["kwh"]
    assert by_version == pytest.approx({"2026-01-01": 672, "2026-03-15": 814})


def test_export_from_a_counter_and_a_pv_inverter(client: TestClient, store: SqlStore) -> None:
    start_ms = local_ms("2026-06-10T00:00:00")
    readings = [
        Reading(
            "meter",
            start_ms + i * H_MS,
            {"energy_import_wh": 500.0 * i, "energy_export_wh": 1000.0 * i},
        )
        for i in range(24)
    ]
    # Counter steps are booked at the reading that ends them (docs/energy.md): the
    # readings from 01:00 to 23:00 end 23 steps of 0.5 kWh imported and 1 kWh exported.
    # a PV inverter whose whole output is fed in: 1.5 kWh an hour for 4 hours
    readings += [
        Reading("pv", start_ms + (10 + i) * H_MS, {"energy_wh": 1500.0 * i}) for i in range(5)
    ]
    load(store, readings)
    put(client, "/api/v1/tariffs/night", TOU)
    put(client, "/api/v1/tariff-assignments", {"target_kind": "tenant", "tariff_id": "night"})
    put(
        client,
        "/api/v1/tariff-assignments",
        {"target_kind": "device", "target": "pv", "tariff_id": "night", "direction": "export"},
    )
    body = cost(
        client, devices="meter,pv", start=start_ms, end=start_ms + 24 * H_MS, tz="Europe/London"
    )
    (bucket,) = body["buckets"]
    assert bucket["import_kwh"] == pytest.approx(11.5)
    assert bucket["export_kwh"] == pytest.approx(23 + 6)
    # imports: steps ending 01:00-04:00 at night, 4 x 0.5 kWh x 10p = 0.20, and
    # 19 x 0.5 kWh x 30p = 2.85; exports: 29 kWh x 15p = 4.35 credit; standing 0.45
    assert bucket["cost"] == -0.85
    devices = {d["device_id"]: d for d in body["devices"]}
    assert devices["pv"]["direction"] == "export"
    assert devices["pv"]["energy_cost"] == -0.90


def test_tariff_crud_and_validation(client: TestClient) -> None:
    created = client.put("/api/v1/tariffs/night", json=TOU, headers=ADMIN)
    assert created.status_code == 201
    assert client.put("/api/v1/tariffs/night", json=TOU, headers=ADMIN).status_code == 200
    listed = client.get("/api/v1/tariffs", headers=bearer("viewer-default")).json()
    assert [t["tariff_id"] for t in listed["tariffs"]] == ["night"]
    assert listed["tariffs"][0]["versions"][0]["periods"][0]["start"] == "00:30"
    # another tenant sees nothing of it
    assert client.get("/api/v1/tariffs/night", headers=bearer("owner-t2")).status_code == 404
    assert client.get("/api/v1/tariffs", headers=bearer("owner-t2")).json() == {"tariffs": []}
    # a viewer may not write
    assert (
        client.put("/api/v1/tariffs/x", json=TOU, headers=bearer("viewer-default")).status_code
        == 403
    )

    overlap = {
        **TOU,
        "versions": [TOU["versions"][0], {**TOU["versions"][0], "effective_from": "2026-02-01"}],
    }
    response = client.put("/api/v1/tariffs/bad", json=overlap, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("versions[1].effective_from:")
    negative = {**TOU, "versions": [{**TOU["versions"][0], "price_per_kwh": -1}]}
    response = client.put("/api/v1/tariffs/bad", json=negative, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "versions", 0, "price_per_kwh"]
    bad_tz = client.put("/api/v1/tariffs/bad", json={**TOU, "tz": "Mars/Olympus"}, headers=ADMIN)
    assert bad_tz.status_code == 422
    assert bad_tz.json()["detail"].startswith("tz:")
    missing = client.put(
        "/api/v1/tariff-assignments",
        json={"target_kind": "tag", "target": "x", "tariff_id": "nope"},
        headers=ADMIN,
    )
    assert missing.status_code == 404

    assert client.delete("/api/v1/tariffs/night", headers=ADMIN).status_code == 204
    assert client.delete("/api/v1/tariffs/night", headers=ADMIN).status_code == 404


def test_cost_refuses_sub_day_intervals_and_long_ranges(client: TestClient) -> None:
    base = {"all": "true", "start": "2026-01-01T00:00:00Z"}
    hourly = client.get(
        "/api/v1/energy/cost",
        params={**base, "end": "2026-01-02T00:00:00Z", "interval": "1h"},
        headers=ADMIN,
    )
    assert hourly.status_code == 422
    assert "interval" in hourly.json()["detail"]
    long = client.get(
        "/api/v1/energy/cost", params={**base, "end": "2027-03-01T00:00:00Z"}, headers=ADMIN
    )
    assert long.status_code == 422
    assert "400 days" in long.json()["detail"]
