"""``wattline simulate`` as the README runs it, beside a demo fleet on the same broker."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid

import paho.mqtt.client as mqtt
import pytest

from wattline.ingest.sources.base import MqttEndpoint
from wattline.simulator import build_fleet

pytestmark = pytest.mark.e2e


def test_simulate_never_publishes_as_a_demo_fleet_device(mosquitto_url: str) -> None:
    endpoint = MqttEndpoint.from_url(mosquitto_url)
    prefix = f"simids{uuid.uuid4().hex[:8]}"
    device_ids: set[str] = set()
    retained: set[str] = set()
    subscribed = threading.Event()

    def on_message(_client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        device_ids.add(message.topic.split("/")[1])
        if message.topic.endswith("/status"):
            retained.add(message.topic)

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"watch-{prefix}")
    client.on_message = on_message
    client.on_subscribe = lambda *_args: subscribed.set()
    client.connect(endpoint.host, endpoint.port)
    client.subscribe(f"{prefix}/#", qos=1)
    client.loop_start()
    try:
        assert subscribed.wait(10)
        # The README's command, with a topic prefix of this test's own and a few rounds.
        subprocess.run(
            [
                sys.executable,
                "-m",
                "wattline",
                "simulate",
                "--broker",
                mosquitto_url,
                "--devices",
                "6",
                "--interval-s",
                "0.05",
                "--seed",
                "1",
                "--rounds",
                "2",
                "--topic-prefix",
                prefix,
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    finally:
        for topic in retained:
            client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
        client.disconnect()
        client.loop_stop()

    demo_ids = {device.device_id for device in build_fleet(6, seed=1)}
    assert len(device_ids) == 6
    assert device_ids.isdisjoint(demo_ids)
    assert all(device_id.startswith("sim-") for device_id in device_ids)
