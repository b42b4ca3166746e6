"""Small MQTT clients that play one device of a family other than the canonical one.

A smart plug (the seed's format) verifies the signed envelope on
``{sp}/{id}/control`` like the canonical simulator does (its CommandResponder
does the checking and the dedup by command id) and answers with its status
update ``{"relay_state": bool, "power": W}`` on ``{sp}/{id}/status``, which is
what completes the command. A Tasmota plug takes ``{cmnd}/{id}/POWER`` and
answers ``{"POWER": "ON"|"OFF"}`` on ``{stat}/{id}/RESULT``.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt

from wattline.commands.downlinks import Prefixes
from wattline.ingest.sources.base import MqttEndpoint
from wattline.simulator.commands import CommandResponder
from wattline.simulator.fleet import SimulatedDevice
from wattline.simulator.models import SmartPlug


class _Player:
    """One paho client, subscribed to one downlink topic, answering on another."""

    def __init__(self, endpoint: MqttEndpoint, topic: str) -> None:
        self.received: list[bytes] = []
        self.got_one = threading.Event()
        self._topic = topic
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"player-{uuid.uuid4().hex}"
        )
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(endpoint.host, endpoint.port)
        self.client.loop_start()
        if not self._subscribed.wait(5):
            self.stop()
            raise TimeoutError(f"could not subscribe to {topic}")

    def _on_message(self, client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        payload = bytes(msg.payload)
        self.received.append(payload)
        answer = self.answer(payload)
        if answer is not None:
            client.publish(*answer, qos=1)
        self.got_one.set()

    def answer(self, payload: bytes) -> tuple[str, bytes] | None:
        raise NotImplementedError

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class SmartPlugPlayer(_Player):
    """The seed's smart plug: verifies, switches once per command id, reports its relay."""

    def __init__(
        self,
        endpoint: MqttEndpoint,
        prefixes: Prefixes,
        device: SimulatedDevice,
        keys: Callable[[], list[tuple[str, str]]],
    ) -> None:
        self.plug = device.model
        assert isinstance(self.plug, SmartPlug)
        self.device_id = device.device_id
        self.verifier = CommandResponder([device], keys, prefixes.smartplug)
        self.acks: list[dict[str, object]] = []
        self._status_topic = f"{prefixes.smartplug}/{device.device_id}/status"
        super().__init__(endpoint, f"{prefixes.smartplug}/{device.device_id}/control")

    def answer(self, payload: bytes) -> tuple[str, bytes] | None:
        ack = self.verifier.answer(self.device_id, payload)
        if ack is None:
            return None
        self.acks.append(json.loads(ack))
        if self.acks[-1]["status"] != "done":
            return None  # a refused command changes nothing, so there is nothing to report
        status = {"relay_state": self.plug.relay_on, "power": 1000.0 if self.plug.relay_on else 0}
        return self._status_topic, json.dumps(status).encode()


class TasmotaPlayer(_Player):
    """A Tasmota plug: ON, OFF or TOGGLE on POWER; its RESULT says the relay's state."""

    def __init__(self, endpoint: MqttEndpoint, prefixes: Prefixes, topic: str) -> None:
        self.relay_on = True
        self._result_topic = f"{prefixes.tasmota_result}/{topic}/RESULT"
        super().__init__(endpoint, f"{prefixes.tasmota_command}/{topic}/POWER")

    def answer(self, payload: bytes) -> tuple[str, bytes] | None:
        word = payload.decode().upper()
        if word not in ("ON", "OFF", "TOGGLE"):
            return None
        self.relay_on = {"ON": True, "OFF": False}.get(word, not self.relay_on)
        return self._result_topic, json.dumps({"POWER": "ON" if self.relay_on else "OFF"}).encode()
