"""Device tags: set at registration, used to pick a fleet for telemetry and energy."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from wattline.api.app import create_app
from wattline.api.services import ApiServices
from wattline.model.messages import Reading
from wattline.storage.base import CommitBatch
from wattline.storage.sql import SqlStore

AUTH = {"Authorization": "Bearer t"}
T0 = 1_764_028_800_000  # 2025-11-25T00:00:00Z


def test_fleet_by_tag(store: SqlStore) -> None:
    services = ApiServices(store, "t", CollectorRegistry(), 120_000)
    with TestClient(create_app(services)) as api:
        for device, tags in (("n1", ["depot-north", "rail"]), ("n2", ["depot-north"]), ("s1", [])):
            created = api.post(
                "/api/v1/devices", json={"device_id": device, "tags": tags}, headers=AUTH
            )
            assert created.status_code == 201
            assert created.json()["tags"] == sorted(tags)
        readings = [
            Reading(d, T0 + m * 60_000, {"energy_wh": 100.0 * m}, m)
            for d in ("n1", "n2", "s1")
            for m in range(120)
        ]
        store.commit(CommitBatch(readings=readings, seen_ms=dict.fromkeys(["n1", "n2", "s1"], T0)))

        fleet = api.get(
            "/api/v1/telemetry",
            params={"tag": "depot-north", "interval": "1h", "start": T0, "end": T0 + 7_200_000},
            headers=AUTH,
        ).json()
        assert [d["device_id"] for d in fleet["devices"]] == ["n1", "n2"]
        energy = api.get(
            "/api/v1/energy",
            params={"tag": "rail", "start": T0, "end": T0 + 86_400_000, "interval": "1d"},
            headers=AUTH,
        ).json()
        assert [d["device_id"] for d in energy["devices"]] == ["n1"]
        assert energy["total_kwh"] == 11.9  # 119 steps of 100 Wh

        both = api.get(
            "/api/v1/telemetry", params={"tag": "rail", "type": "x", "interval": "1h"}, headers=AUTH
        )
        assert both.status_code == 422
        assert "exactly one of devices" in both.json()["detail"]

        # registering again replaces the tags and keeps the data
        again = api.post(
            "/api/v1/devices", json={"device_id": "s1", "tags": ["rail"]}, headers=AUTH
        )
        assert (again.status_code, again.json()["tags"]) == (200, ["rail"])
        bad = api.post(
            "/api/v1/devices", json={"device_id": "s1", "tags": ["no spaces"]}, headers=AUTH
        )
        assert bad.status_code == 422
