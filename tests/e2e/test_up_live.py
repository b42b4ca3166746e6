"""`wattline up` streams committed readings over its in-process bus, with its metrics."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from websockets.sync.client import connect

from tests.e2e.conftest import TOKEN, RunningWattline, start_wattline
from tests.integration.observability.test_prometheus import promtool

pytestmark = pytest.mark.e2e


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningWattline]:
    w = start_wattline(tmp_path, "--auto-register")
    yield w
    w.stop()


def test_a_published_reading_reaches_a_websocket_client(running: RunningWattline) -> None:
    w = running
    ws_url = w.api_url.replace("http://", "ws://") + "/api/v1/ws"
    with connect(ws_url, subprotocols=["wattline", f"bearer.{TOKEN}"]) as ws:  # type: ignore[list-item]
        ws.send(json.dumps({"type": "subscribe", "kinds": ["reading"]}))
        assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        client.connect(w.mqtt_host, w.mqtt_port)
        client.loop_start()
        try:
            body = {"seq": 7, "ts": int(time.time() * 1000), "metrics": {"power_w": 42.0}}
            client.publish(f"{w.topic_prefix}/up-live-1/telemetry", json.dumps(body), qos=1)
            message = json.loads(ws.recv(timeout=30))
        finally:
            client.disconnect()
            client.loop_stop()
        assert (message["device_id"], message["seq"], message["metrics"]) == (
            "up-live-1",
            7,
            {"power_w": 42.0},
        )
        exposition = w.client.get("/metrics").text
        assert 'wattline_live_clients{transport="websocket"} 1.0' in exposition
        assert "wattline_live_bus_published_events_total 1.0" in exposition
    lint = promtool("check", "metrics", stdin=exposition)
    assert lint.returncode == 0, lint.stdout + lint.stderr
