"""The simulated devices' side of commands: verify like real firmware, act, acknowledge.

A device holds its tenant's public command keys and refuses, with the reason in
its ack: a forged signature, an unknown key, an envelope for another device, an
expired one, and a nonce it has seen before (a replay). A command id it has
already executed is not executed again: a redelivery is answered with the
first result. A smart plug switches its relay, so the next telemetry shows it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import orjson

from wattline.commands.envelopes import EnvelopeRefusedError, public_key_from_text, verify
from wattline.commands.relay import RELAY_OFF, RELAY_ON, RELAY_TOGGLE
from wattline.simulator.models import SmartPlug

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from paho.mqtt import client as mqtt

    from wattline.simulator.fleet import SimulatedDevice

_log = logging.getLogger("wattline.simulator")

# (key id, raw public key as base64): what a device was given at provisioning
KeySource = Callable[[], Sequence[tuple[str, str]]]
# A device remembers this many command ids and nonces, like firmware with a small ring.
MEMORY = 4096


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class CommandResponder:
    """Answers the commands of every device of one simulated fleet connection."""

    def __init__(
        self,
        devices: Sequence[SimulatedDevice],
        keys: KeySource,
        topic_prefix: str = "iot",
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self._devices = {device.device_id: device for device in devices}
        self._keys = keys
        self._prefix = topic_prefix
        self._clock_ms = clock_ms
        self._lock = threading.Lock()
        self._known: dict[str, Ed25519PublicKey] = {}
        self._results: dict[tuple[str, str], tuple[str, str]] = {}
        self._nonces: dict[str, set[str]] = {}
        self.executed: list[tuple[str, str]] = []  # (device id, command id), for tests
        self.configs: dict[str, dict[str, object]] = {}  # applied configuration per device

    def topics(self) -> list[str]:
        return [
            f"{self._prefix}/{device_id}/{leaf}"
            for device_id in self._devices
            for leaf in ("command", "config")
        ]

    def subscribe(self, client: mqtt.Client) -> None:
        client.subscribe([(topic, 1) for topic in self.topics()])

    def on_message(self, client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        levels = msg.topic.split("/")
        device_id = levels[-2] if len(levels) >= 2 else ""
        if device_id not in self._devices:
            return
        if levels[-1] == "config":
            report = self.apply_config(device_id, bytes(msg.payload))
            if report is not None:
                client.publish(f"{self._prefix}/{device_id}/config/reported", report, qos=1)
            return
        if levels[-1] != "command":
            return
        answer = self.answer(device_id, bytes(msg.payload))
        if answer is not None:
            client.publish(f"{self._prefix}/{device_id}/command/ack", answer, qos=1)

    def apply_config(self, device_id: str, payload: bytes) -> bytes | None:
        """Apply a desired configuration and say so: ``{"version", "config"}``."""
        try:
            document = json.loads(payload)
        except ValueError:
            return None
        if not isinstance(document, dict) or not isinstance(document.get("desired"), dict):
            return None
        with self._lock:
            applied = self.configs.setdefault(device_id, {})
            applied.update(document["desired"])
            report = {"version": document.get("version"), "config": dict(applied)}
        return orjson.dumps(report)

    def answer(self, device_id: str, payload: bytes) -> bytes | None:
        """The ack to publish for one received envelope (None: not even a command id)."""
        try:
            document = json.loads(payload)
        except ValueError:
            return None
        command_id = document.get("command_id") if isinstance(document, dict) else None
        if not isinstance(command_id, str):
            return None
        with self._lock:
            status, detail = self._handle(device_id, command_id, document)
        return orjson.dumps(
            {
                "command_id": command_id[:128],
                "status": status,
                "detail": detail[:256],
                "ts": self._clock_ms(),
            }
        )

    def _handle(self, device_id: str, command_id: str, document: object) -> tuple[str, str]:
        now = self._clock_ms()
        try:
            envelope = verify(document, self._key_ring(document), device_id, now)
        except EnvelopeRefusedError as exc:
            return "rejected", str(exc)
        nonces = self._nonces.setdefault(device_id, set())
        if envelope["nonce"] in nonces:
            return "rejected", "replayed: this envelope's nonce was used before"
        if len(nonces) >= MEMORY:
            nonces.clear()
        nonces.add(str(envelope["nonce"]))
        done = self._results.get((device_id, command_id))
        if done is not None:
            return done  # a redelivery: answered, never executed twice
        result = self._execute(self._devices[device_id], str(envelope["name"]))
        if len(self._results) >= MEMORY:
            self._results.clear()
        self._results[(device_id, command_id)] = result
        self.executed.append((device_id, command_id))
        return result

    def _key_ring(self, document: object) -> Mapping[str, Ed25519PublicKey]:
        wanted = document.get("key_id") if isinstance(document, dict) else None
        if wanted not in self._known:
            # A key the device does not hold yet: fetch the tenant's keys again,
            # as a device re-provisioned after a rotation would.
            self._known = {kid: public_key_from_text(text) for kid, text in self._keys()}
        return self._known

    @staticmethod
    def _execute(device: SimulatedDevice, name: str) -> tuple[str, str]:
        if name == "ping":
            return "done", "pong"
        if name in (RELAY_ON, RELAY_OFF, RELAY_TOGGLE):
            model = device.model
            if not isinstance(model, SmartPlug):
                return "rejected", f"{device.device_type} has no relay"
            on = {RELAY_ON: True, RELAY_OFF: False}.get(name, not model.relay_on)
            model.set_relay(on)
            return "done", f"relay {'on' if on else 'off'}"
        return "rejected", f"unknown command {name!r}"
