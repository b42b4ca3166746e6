"""The simulator against the real Mosquitto: an orderly stop is quiet and says "offline"."""

from __future__ import annotations

import logging
import threading
import uuid

import orjson
import paho.mqtt.client as mqtt
import pytest

from wattline.ingest.sources.base import MqttEndpoint
from wattline.simulator import FleetPublisher, build_fleet


def retained_states(endpoint: MqttEndpoint, prefix: str, expected: int) -> dict[str, str]:
    """The retained status of every device under prefix, then cleared from the broker."""
    states: dict[str, str] = {}
    complete = threading.Event()

    def on_message(client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        if message.payload:
            states[message.topic] = orjson.loads(message.payload)["state"]
            # Clear it, so the broker keeps nothing of this test.
            client.publish(message.topic, b"", qos=1, retain=True)
        if len(states) >= expected:
            complete.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"check-{prefix}")
    client.on_message = on_message
    client.connect(endpoint.host, endpoint.port)
    client.subscribe(f"{prefix}/+/status", qos=1)
    client.loop_start()
    complete.wait(10)
    client.disconnect()
    client.loop_stop()
    return states


def wait_for_log(caplog: pytest.LogCaptureFixture, text: str, idle: threading.Event) -> None:
    for _ in range(200):
        if any(text in record.getMessage() for record in caplog.records):
            return
        idle.wait(0.05)
    pytest.fail(f"no log line with {text!r}")


@pytest.mark.parametrize("attempt", range(10))
def test_an_orderly_stop_logs_no_error_and_leaves_the_fleet_offline(
    mosquitto_url: str, caplog: pytest.LogCaptureFixture, attempt: int
) -> None:
    # Repeated: the error came from a race at disconnect (about one stop in five here).
    endpoint = MqttEndpoint.from_url(mosquitto_url)
    prefix = f"simstop{uuid.uuid4().hex[:8]}"
    fleet = build_fleet(3, seed=attempt)
    publisher = FleetPublisher(
        endpoint.host, endpoint.port, fleet, interval_s=0.05, topic_prefix=prefix
    )
    stop = threading.Event()
    sent: list[int] = []
    caplog.set_level(logging.DEBUG)
    worker = threading.Thread(target=lambda: sent.append(publisher.run(stop)))
    worker.start()
    try:
        # Stop mid-stream, once readings are flowing and being acknowledged.
        wait_for_log(caplog, "/telemetry", stop)
        wait_for_log(caplog, "Received PUBACK", stop)
    finally:
        stop.set()
        worker.join(15)
    assert not worker.is_alive()
    assert sent[0] > 0
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    states = retained_states(endpoint, prefix, len(fleet))
    assert set(states.values()) == {"offline"}
    assert len(states) == len(fleet)
