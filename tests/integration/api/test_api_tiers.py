"""Bucketed telemetry from the rollup tiers: agg, tz, the answering tier, fleets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.integration.api.test_api import AUTH, T0, services

from wattline.api.app import create_app
from wattline.model.messages import Hello, Reading
from wattline.storage.base import CommitBatch
from wattline.storage.sql import SqlStore

HOUR_MS = 3_600_000
# Europe/London's local midnight before the clocks go back (25 October 2026, 02:00 BST -> 01:00 GMT)
AUTUMN = int(datetime.fromisoformat("2026-10-25T00:00:00+01:00").timestamp() * 1000)
SPRING = int(datetime.fromisoformat("2026-03-29T00:00:00+00:00").timestamp() * 1000)


def _commit(store: SqlStore, device: str, readings: list[Reading], kind: str = "meter") -> None:
    store.commit(
        CommitBatch(
            readings=readings,
            hellos=[Hello(device, kind, "1.0")],
            seen_ms={device: readings[-1].ts_ms},
            register=[device],
        )
    )


@pytest.fixture
def client(store: SqlStore) -> Iterator[TestClient]:
    for device, scale in (("m1", 1.0), ("m2", 10.0)):
        minutes = [Reading(device, T0 + i * 60_000, {"power_w": scale * i}) for i in range(120)]
        _commit(store, device, minutes)
    _commit(store, "p1", [Reading("p1", T0, {"power_w": 5.0})], kind="plug")
    with TestClient(create_app(services(store))) as test_client:
        yield test_client


def get(client: TestClient, path: str, **params: object) -> dict[str, object]:
    response = client.get(path, params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_the_coarsest_exact_tier_answers_and_says_so(client: TestClient) -> None:
    path = "/api/v1/devices/m1/telemetry"
    hourly = get(client, path, start=T0, end=T0 + 2 * HOUR_MS, interval="1h", agg="sum,count")
    assert hourly["source"] == "1h"
    assert hourly["buckets"] == [
        {"ts": "2025-11-25T08:00:00.000Z", "values": {"power_w": {"sum": 1770.0, "count": 60}}},
        {"ts": "2025-11-25T09:00:00.000Z", "values": {"power_w": {"sum": 5370.0, "count": 60}}},
    ]
    quarter = get(client, path, start=T0, end=T0 + HOUR_MS, interval="15m", agg="first,last,max")
    assert quarter["source"] == "1m"
    assert quarter["buckets"][1]["values"]["power_w"] == {"first": 15.0, "last": 29.0, "max": 29.0}
    unaligned = get(client, path, start=T0 + 1, end=T0 + HOUR_MS, interval="1h", agg="count")
    assert unaligned["source"] == "raw"
    assert unaligned["buckets"][0]["values"]["power_w"] == {"count": 59}
    daily = get(client, path, start="2025-11-25", end="2025-11-26", interval="1d")
    assert daily["source"] == "1d"
    assert daily["buckets"][0]["values"]["power_w"] == {
        "avg": 59.5,
        "min": 0.0,
        "max": 119.0,
        "count": 120,
    }


def test_a_correction_is_answered_exactly(client: TestClient, store: SqlStore) -> None:
    _commit(store, "m1", [Reading("m1", T0 + 60_000 * 59, {"power_w": -1000.0})])
    body = get(
        client, "/api/v1/devices/m1/telemetry", start=T0, end=T0 + HOUR_MS, interval="1h",
        agg="min,sum,count,last",
    )  # fmt: skip
    assert body["buckets"][0]["values"]["power_w"] == {
        "min": -1000.0,
        "sum": 1770.0 - 59 - 1000,
        "count": 60,
        "last": -1000.0,
    }


@pytest.mark.parametrize(
    ("day_start", "hours"), [(AUTUMN, [25, 24]), (SPRING, [23, 24])], ids=["fall-back", "spring"]
)
def test_local_days_across_dst_changes(
    client: TestClient, store: SqlStore, day_start: int, hours: list[int]
) -> None:
    hourly = [Reading("dst", day_start + h * HOUR_MS, {"power_w": 1.0}) for h in range(60)]
    _commit(store, "dst", hourly)
    end = day_start + sum(hours) * HOUR_MS
    body = get(
        client, "/api/v1/devices/dst/telemetry", start=day_start, end=end, interval="1d",
        tz="Europe/London", agg="count",
    )  # fmt: skip
    assert [b["values"]["power_w"]["count"] for b in body["buckets"]] == hours
    assert body["source"] == "1h"  # a BST midnight is 23:00 UTC: not on a UTC day edge
    assert body["tz"] == "Europe/London"


def test_fleet_by_ids_and_by_type(client: TestClient) -> None:
    params = {"start": T0, "end": T0 + HOUR_MS, "interval": "1h", "agg": "max"}
    body = get(client, "/api/v1/telemetry", devices="m2,m1", **params)
    assert body["source"] == "1h"
    assert [(d["device_id"], d["buckets"][0]["values"]["power_w"]) for d in body["devices"]] == [
        ("m2", {"max": 590.0}),
        ("m1", {"max": 59.0}),
    ]
    plugs = get(client, "/api/v1/telemetry", type="plug", **params)
    assert [d["device_id"] for d in plugs["devices"]] == ["p1"]
    everyone = get(client, "/api/v1/telemetry", all="true", **params)
    assert [d["device_id"] for d in everyone["devices"]] == ["m1", "m2", "p1"]
    unknown = client.get("/api/v1/telemetry", params={**params, "devices": "m1,nope"}, headers=AUTH)
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "devices not registered: nope"


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/api/v1/devices/m1/telemetry", {"interval": "1h", "tz": "Mars/Olympus"}, "IANA"),
        ("/api/v1/devices/m1/telemetry", {"interval": "1h", "agg": "avg,median"}, "'median'"),
        ("/api/v1/devices/m1/telemetry", {"agg": "sum"}, "give an interval"),
        ("/api/v1/devices/m1/telemetry", {"layout": "columns"}, "give an interval"),
        ("/api/v1/devices/m1/telemetry", {"interval": "7m", "tz": "UTC"}, "must divide 24h"),
        ("/api/v1/devices/m1/telemetry", {"interval": "0mo"}, "positive whole number"),
        ("/api/v1/telemetry", {"interval": "1h"}, "exactly one of devices"),
        ("/api/v1/telemetry", {"interval": "1h", "devices": "m1", "type": "x"}, "exactly one"),
        ("/api/v1/telemetry", {"interval": "1h", "type": "x", "all": "true"}, "or all=true"),
        ("/api/v1/telemetry", {"interval": "1m", "devices": "m1", "start": 0}, "exceed 50000"),
    ],
)
def test_bad_bucket_queries_get_a_precise_422(
    client: TestClient, path: str, params: dict[str, object], message: str
) -> None:
    response = client.get(path, params=params, headers=AUTH)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_default_range_snaps_to_bucket_edges(client: TestClient) -> None:
    body = get(client, "/api/v1/devices/m1/telemetry", interval="1h")
    assert body["start"].endswith(":00:00.000Z")
    assert body["end"].endswith(":00:00.000Z")
    assert body["source"] == "1h"


def _transposed(buckets: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """The bucket layout as the columns layout should give it."""
    metrics = sorted({m for b in buckets for m in b["values"]})
    absent = {name: 0 if name == "count" else None for name in names}
    return {
        "ts_ms": [int(datetime.fromisoformat(b["ts"]).timestamp() * 1000) for b in buckets],
        "values": {
            m: {n: [b["values"].get(m, absent)[n] for b in buckets] for n in names} for m in metrics
        },
    }


def test_the_columns_layout_holds_the_same_buckets(client: TestClient, store: SqlStore) -> None:
    # A switch reporting in some minutes only, beside power every minute: nulls and booleans.
    readings = [
        Reading(
            "s1",
            T0 + i * 60_000,
            {"power_w": float(i), **({"relay_state": float(i % 2)} if i % 3 else {})},
        )
        for i in range(30)
    ]
    _commit(store, "s1", readings, kind="plug")
    names = ["avg", "min", "max", "count", "first", "last"]
    params = {"start": T0, "end": T0 + HOUR_MS, "interval": "5m", "agg": ",".join(names)}
    path = "/api/v1/devices/s1/telemetry"
    rows, columns = get(client, path, **params), get(client, path, layout="columns", **params)
    assert rows["columns"] is None
    assert columns["buckets"] is None
    assert columns["columns"] == _transposed(rows["buckets"], names)  # type: ignore[arg-type]
    assert columns["columns"]["values"]["relay_state"]["max"][:2] == [True, True]  # type: ignore[index]
    fleet = {"devices": "m1,s1", **params}
    rows = get(client, "/api/v1/telemetry", **fleet)
    columns = get(client, "/api/v1/telemetry", layout="columns", **fleet)
    assert [d["columns"] for d in columns["devices"]] == [  # type: ignore[attr-defined]
        _transposed(d["buckets"], names)
        for d in rows["devices"]  # type: ignore[attr-defined]
    ]
