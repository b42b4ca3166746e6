"""One message cannot stop Wattline: not while it runs, and not after a restart.

The reproduction of issue 8: a reading with seq 2^63-1 passed validation, the
store could not hold seq+1, the collector died without acknowledging it, and
the broker redelivered it to every restart. Now such messages are quarantined
and acknowledged, and a restart finds the collector running.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningWattline, forget_session, start_wattline, wait_until

pytestmark = pytest.mark.e2e


def mosquitto_pub(w: RunningWattline, topic: str, payload: str) -> None:
    server = ["-h", w.mqtt_host, "-p", str(w.mqtt_port)]
    subprocess.run(
        ["mosquitto_pub", *server, "-q", "1", "-t", topic, "-m", payload],
        check=True,
        timeout=30,
    )


def reading(seq: int, **changes: object) -> str:
    now_ms = int(time.time() * 1000)
    return json.dumps({"seq": seq, "ts": now_ms, "metrics": {"power_w": 1.5}, **changes})


def quarantined(w: RunningWattline) -> dict[str, dict[str, object]]:
    items = w.get("/api/v1/quarantine", limit=100)["items"]
    return {str(item["topic"]) + " " + str(item["payload_preview"]): item for item in items}


def stored_seqs(w: RunningWattline, device: str) -> list[object]:
    if w.client.get(f"/api/v1/devices/{device}").status_code == 404:
        return []
    return [p["seq"] for p in w.get(f"/api/v1/devices/{device}/telemetry", start=0)["points"]]


def test_poison_messages_are_quarantined_and_survive_a_restart(
    tmp_path: Path, mosquitto_url: str
) -> None:
    prefix = f"e2ep{uuid.uuid4().hex[:8]}"
    env = {
        "WATTLINE_MQTT_URL": mosquitto_url,
        "WATTLINE_TOPIC_PREFIX": prefix,
        "WATTLINE_MQTT_CLIENT_ID": f"wattline-{prefix}",
    }
    hostile = {
        f"{prefix}/plug-1/telemetry": reading(2**63 - 1),
        f"{prefix}/plug-2/telemetry": reading(0, metrics={"power_w": 1.7e308}),
        f"{prefix}/plug-3/telemetry": reading(0, ts=4_102_444_800_000),
        f"{prefix}/plug-4/telemetry": reading(0, metrics={f"m{i}": 1 for i in range(2000)}),
        f"{prefix}/x/telemetry/extra": reading(0),
        f"{prefix}/x/foo": reading(0),
    }
    w = start_wattline(tmp_path, "--auto-register", env=env)
    try:
        for topic, payload in hostile.items():
            mosquitto_pub(w, topic, payload)
        mosquitto_pub(w, f"{prefix}/plug-5/telemetry", reading(0))
        wait_until(lambda: stored_seqs(w, "plug-5") == [0], 30, "a reading after the poison")
        wait_until(lambda: len(quarantined(w)) == len(hostile), 30, "every poison quarantined")
        assert w.client.get("/health").status_code == 200
        first = quarantined(w)
        code, stderr = w.stop()
        assert code == 0, stderr

        w = start_wattline(tmp_path, "--auto-register", env=env)
        health = w.client.get("/health")
        assert health.status_code == 200, health.text
        assert health.json()["components"]["collector"]["status"] == "ok"
        mosquitto_pub(w, f"{prefix}/plug-5/telemetry", reading(1))
        wait_until(lambda: stored_seqs(w, "plug-5") == [0, 1], 30, "a reading after restart")
        # each was acknowledged once: no redelivery added an occurrence
        assert quarantined(w) == first
    finally:
        code, stderr = w.stop()
        forget_session(w.mqtt_host, w.mqtt_port, f"wattline-{prefix}")
    assert code == 0, stderr
    reasons = sorted(str(item["reason"]) for item in first.values())
    assert reasons == sorted(
        ["bad_seq", "bad_value", "bad_timestamp", "bad_shape", "unknown_topic", "unknown_topic"]
    )
