"""GET /api/v1/devices/{id}/telemetry/window: memory first, storage after a restart."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from tests.integration.analytics.conftest import AUTH, app_client, load, make_committer

from wattline.live.window import RecentReadings
from wattline.model.messages import InboundMessage, Reading
from wattline.storage.sql import SqlStore

T0 = 1_764_057_600_000  # 2025-11-25T08:00:00Z


def telemetry(device_id: str, seq: int, ts_ms: int, power_w: float) -> InboundMessage:
    body = {"seq": seq, "ts": ts_ms, "metrics": {"power_w": power_w, "voltage_v": 230.0}}
    return InboundMessage(f"iot/{device_id}/telemetry", orjson.dumps(body), ts_ms)


def test_committed_readings_are_served_from_memory(store: SqlStore, tmp_path: Path) -> None:
    window = RecentReadings(size=5)
    committer = make_committer(store, tmp_path, window=window)
    messages = [telemetry("w1", i, T0 + i * 1000, float(i)) for i in range(8)]
    messages.append(InboundMessage("iot/w1/telemetry", b"not json", T0))  # quarantined
    committer.commit(committer.plan(messages))
    with app_client(store, window) as client:
        body = client.get(
            "/api/v1/devices/w1/telemetry/window",
            params={"metric": "power_w", "n": 3},
            headers=AUTH,
        ).json()
        assert body["source"] == "memory"
        assert body["metrics"] == {
            "power_w": [{"ts": f"2025-11-25T08:00:0{s}.000Z", "value": float(s)} for s in (5, 6, 7)]
        }
        everything = client.get("/api/v1/devices/w1/telemetry/window", headers=AUTH).json()
        assert sorted(everything["metrics"]) == ["power_w", "voltage_v"]
        assert len(everything["metrics"]["voltage_v"]) == 5
        too_many = client.get("/api/v1/devices/w1/telemetry/window", params={"n": 6}, headers=AUTH)
        assert too_many.status_code == 422
        assert "exceeds the window of 5 readings" in too_many.json()["detail"]


def test_after_a_restart_the_window_refills_from_storage(store: SqlStore) -> None:
    # 300 readings over ten days: the newest 60 must be found looking back from the latest.
    load(store, [Reading("w2", T0 + i * 3_000_000, {"power_w": float(i)}) for i in range(300)])
    window = RecentReadings()  # empty, as after a restart
    with app_client(store, window) as client:
        body = client.get("/api/v1/devices/w2/telemetry/window", headers=AUTH).json()
        assert [p["value"] for p in body["metrics"]["power_w"]] == [
            float(i) for i in range(240, 300)
        ]
        assert window.is_loaded("w2")
        # new readings from the committer land on top of the refill
        window.add([Reading("w2", T0 + 300 * 3_000_000, {"power_w": 300.0})])
        again = client.get(
            "/api/v1/devices/w2/telemetry/window", params={"n": 2}, headers=AUTH
        ).json()
        assert [p["value"] for p in again["metrics"]["power_w"]] == [299.0, 300.0]


@pytest.mark.parametrize("with_window", [True, False])
def test_unknown_device_is_404(store: SqlStore, with_window: bool) -> None:
    with app_client(store, RecentReadings() if with_window else None) as client:
        response = client.get("/api/v1/devices/nope/telemetry/window", headers=AUTH)
        assert response.status_code == 404


def test_without_a_window_it_reads_storage(store: SqlStore) -> None:
    load(store, [Reading("w3", T0 + i * 1000, {"a": float(i), "b": -float(i)}) for i in range(10)])
    with app_client(store, None) as client:
        body = client.get(
            "/api/v1/devices/w3/telemetry/window", params={"metric": "b", "n": 2}, headers=AUTH
        ).json()
        assert body["source"] == "storage"
        assert [p["value"] for p in body["metrics"]["b"]] == [-8.0, -9.0]
