"""GET /api/v1/devices/{id}/energy and /api/v1/energy over SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from tests.integration.analytics.conftest import AUTH, load

from wattline.analytics.energy import Point, counter_energy
from wattline.model.messages import Reading
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore

LONDON = ZoneInfo("Europe/London")
MIN_MS = 60_000
H_MS = 3_600_000
DAY_MS = 86_400_000


def local_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=LONDON).timestamp() * 1000)


def constant_power(device_id: str, start_ms: int, end_ms: int, power_w: float) -> list[Reading]:
    return [
        Reading(device_id, ts, {"power_w": power_w}) for ts in range(start_ms, end_ms + 1, MIN_MS)
    ]


@pytest.mark.parametrize(("day", "hours"), [("2026-03-29", 23), ("2026-10-25", 25)])
def test_dst_days_have_23_or_25_hourly_buckets(
    client: TestClient, store: SqlStore, day: str, hours: int
) -> None:
    start_ms = local_ms(f"{day}T00:00:00")
    end_ms = start_ms + hours * H_MS
    load(store, constant_power("p1", start_ms - H_MS, end_ms + H_MS, 1000.0))
    params = {"start": start_ms, "end": end_ms, "tz": "Europe/London"}
    hourly = client.get(
        "/api/v1/devices/p1/energy", params={**params, "interval": "1h"}, headers=AUTH
    )
    assert hourly.status_code == 200, hourly.text
    body = hourly.json()
    assert body["method"] == "power"
    assert body["metric"] == "power_w"
    assert len(body["buckets"]) == hours
    assert all(b["kwh"] == pytest.approx(1.0) for b in body["buckets"])
    assert body["total_kwh"] == pytest.approx(hours)
    daily = client.get(
        "/api/v1/devices/p1/energy", params={**params, "interval": "1d"}, headers=AUTH
    ).json()
    assert [b["kwh"] for b in daily["buckets"]] == [pytest.approx(hours)]
    # local midnight, printed in UTC like every API time
    utc_midnight = f"{day}T00:00:00.000Z" if hours == 23 else "2026-10-24T23:00:00.000Z"
    assert daily["buckets"][0]["start"] == utc_midnight


def test_counter_with_reset_and_bogus_zero_gives_the_true_daily_energy(
    client: TestClient, store: SqlStore
) -> None:
    start_ms = local_ms("2026-06-01T00:00:00")
    values = []
    counter_wh = 50_000.0
    for _ in range(48):  # two days, hourly readings, 100 Wh an hour
        counter_wh += 100
        values.append(counter_wh)
    values[10] = 0.0  # a bogus zero
    # a reboot at hour 30: the register restarts from 0
    values[30:] = [100.0 * (k + 1) for k in range(18)]
    readings = [
        Reading("m1", start_ms + (i + 1) * H_MS, {"energy_wh": v, "power_w": 100.0})
        for i, v in enumerate(values)
    ]
    readings.insert(0, Reading("m1", start_ms, {"energy_wh": 50_000.0, "power_w": 100.0}))
    load(store, readings)
    body = client.get(
        "/api/v1/devices/m1/energy",
        params={"start": start_ms, "end": start_ms + 48 * H_MS, "tz": "Europe/London"},
        headers=AUTH,
    ).json()
    assert body["method"] == "counter"
    assert body["metric"] == "energy_wh"
    # A step belongs to the day of the reading that ends it: hours 1-23 on day one,
    # hours 24-47 on day two (the reading at 48 h is outside the range). The bogus
    # zero and the reboot cost nothing and add nothing.
    assert [b["kwh"] for b in body["buckets"]] == [pytest.approx(2.3), pytest.approx(2.4)]
    assert body["total_kwh"] == pytest.approx(4.7)
    power = client.get(
        "/api/v1/devices/m1/energy",
        params={"start": start_ms, "end": start_ms + 48 * H_MS, "source": "power"},
        headers=AUTH,
    ).json()
    assert power["method"] == "power"


def test_fleet_sums_devices_by_id_and_type(client: TestClient, store: SqlStore) -> None:
    start_ms = local_ms("2026-07-01T00:00:00")
    load(store, constant_power("a", start_ms, start_ms + 2 * H_MS, 500.0), "smart_plug")
    load(store, constant_power("b", start_ms, start_ms + 2 * H_MS, 1500.0), "smart_plug")
    load(store, constant_power("c", start_ms, start_ms + 2 * H_MS, 100.0), "inverter")
    store.register_device("silent", "smart_plug", 0, tenant_id=DEFAULT_TENANT)
    params = {
        "start": start_ms,
        "end": start_ms + 2 * H_MS,
        "interval": "1h",
        "tz": "Europe/London",
    }
    by_ids = client.get("/api/v1/energy", params={**params, "devices": "a,b"}, headers=AUTH).json()
    assert [b["kwh"] for b in by_ids["buckets"]] == [pytest.approx(2.0), pytest.approx(2.0)]
    assert {d["device_id"]: d["total_kwh"] for d in by_ids["devices"]} == {
        "a": pytest.approx(1.0),
        "b": pytest.approx(3.0),
    }
    by_type = client.get(
        "/api/v1/energy", params={**params, "type": "smart_plug"}, headers=AUTH
    ).json()
    assert by_type["total_kwh"] == pytest.approx(4.0)
    silent = next(d for d in by_type["devices"] if d["device_id"] == "silent")
    assert silent == {"device_id": "silent", "method": None, "metric": None, "total_kwh": 0.0}
    everyone = client.get("/api/v1/energy", params={**params, "all": "true"}, headers=AUTH).json()
    assert everyone["total_kwh"] == pytest.approx(4.2)


@pytest.mark.parametrize(
    "selector",
    [{}, {"devices": "a", "type": "smart_plug"}, {"tag": "x", "all": "true"}],
)
def test_fleet_energy_needs_exactly_one_selector(
    client: TestClient, selector: dict[str, str]
) -> None:
    response = client.get("/api/v1/energy", params=selector, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "give exactly one of devices (comma-separated ids), type, tag or all=true"
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"tz": "Mars/Olympus"}, "tz='Mars/Olympus' is not an IANA time zone"),
        ({"interval": "1y"}, "interval '1y' must be a positive whole number"),
        ({"start": "yesterday"}, "start='yesterday' is neither an ISO 8601"),
        (
            {"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
            "start must be before end",
        ),
        (
            {"start": "2020-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z", "interval": "1m"},
            "more than 50000 buckets",
        ),
    ],
)
def test_bad_input_gets_a_precise_422(
    client: TestClient, store: SqlStore, params: dict[str, str], message: str
) -> None:
    store.register_device("d", None, 0, tenant_id=DEFAULT_TENANT)
    for path in ("/api/v1/devices/d/energy", "/api/v1/energy"):
        response = client.get(path, params=params, headers=AUTH)
        assert response.status_code == 422
        assert message in response.json()["detail"]


def test_unknown_devices_and_devices_without_series(client: TestClient, store: SqlStore) -> None:
    load(store, [Reading("t", 1_700_000_000_000, {"temperature_c": 20.0})])
    missing = client.get("/api/v1/devices/nope/energy", headers=AUTH)
    assert missing.status_code == 404
    assert client.get("/api/v1/energy", params={"devices": "t,nope"}, headers=AUTH).json() == {
        "detail": "devices not registered: nope"
    }
    none = client.get("/api/v1/devices/t/energy", headers=AUTH)
    assert none.status_code == 422
    assert "has no auto series" in none.json()["detail"]


def test_fleet_counter_energy_from_the_day_tier_equals_every_reading(
    client: TestClient, store: SqlStore
) -> None:
    """Daily UTC buckets read the 1 d tier; days with a drop are replayed from raw readings."""
    day0_ms = 1_780_272_000_000  # 2026-06-01T00:00Z
    step_ms = 10 * MIN_MS
    series: dict[str, list[float]] = {"rising": [], "reset": [], "bogus": [], "boundary": []}
    counters = dict.fromkeys(series, 7_000.0)
    for i in range(4 * 144):  # four days at 10 minutes
        for name, values in series.items():
            counters[name] += 5.0
            if name == "reset" and i == 2 * 144 + 40:
                counters[name] = 2.0  # a reboot in the middle of day three
            if name == "boundary" and i == 144:
                counters[name] = 1.0  # a meter replaced at midnight
            values.append(0.0 if name == "bogus" and i == 150 else counters[name])
    readings = [
        Reading(name, day0_ms + i * step_ms, {"energy_wh": v, "power_w": 30.0})
        for name, values in series.items()
        for i, v in enumerate(values)
    ]
    load(store, readings)
    start_ms, end_ms = day0_ms + DAY_MS, day0_ms + 4 * DAY_MS  # day one warms up the rules
    body = client.get(
        "/api/v1/energy", params={"start": start_ms, "end": end_ms, "all": "true"}, headers=AUTH
    ).json()
    edges = [start_ms + k * DAY_MS for k in range(4)]
    expected_wh = [0.0] * 3
    for name, values in series.items():
        points = [Point(day0_ms + i * step_ms, v) for i, v in enumerate(values)]
        device_wh = counter_energy(points, edges)
        expected_wh = [a + b for a, b in zip(expected_wh, device_wh, strict=True)]
        device = next(d for d in body["devices"] if d["device_id"] == name)
        assert device["method"] == "counter"
        assert device["total_kwh"] == pytest.approx(sum(device_wh) / 1000, abs=1e-12)
    assert [b["kwh"] for b in body["buckets"]] == pytest.approx([wh / 1000 for wh in expected_wh])
