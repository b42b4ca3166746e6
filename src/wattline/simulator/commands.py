"""The simulated devices' side of commands: verify like real firmware, act, acknowledge.

A device holds its tenant's public command keys, read from ``keys`` when it
first needs them (its provisioning); after a rotation it learns the new key
only from ``set_command_key``, a command signed with a key it already holds,
as firmware in the field would. It refuses, with the reason in its ack: a
forged signature, an unknown key, an envelope for another device, an expired
one, and a nonce it has seen before (a replay). A command id it has already
executed is not executed again: a redelivery is answered with the first result.
A smart plug switches its relay, so the next telemetry shows it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import orjson

from wattline.commands.envelopes import (
    SET_COMMAND_KEY,
    EnvelopeRefusedError,
    key_id,
    public_key_from_text,
    verify,
)
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
# Keys a device holds at once: the current one, and the previous ones still in
# their grace period after a rotation or two.
KEYS_KEPT = 3


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
        # each device's key ring: key id -> public key
        self._rings: dict[str, dict[str, Ed25519PublicKey]] = {}
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
            envelope = verify(document, self._key_ring(device_id), device_id, now)
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
        name, parameters = str(envelope["name"]), envelope.get("parameters")
        if name == SET_COMMAND_KEY:
            result = self._install_key(device_id, parameters)
        else:
            result = self._execute(self._devices[device_id], name)
        if len(self._results) >= MEMORY:
            self._results.clear()
        self._results[(device_id, command_id)] = result
        self.executed.append((device_id, command_id))
        return result

    def _key_ring(self, device_id: str) -> dict[str, Ed25519PublicKey]:
        ring = self._rings.get(device_id)
        if ring is None:  # provisioning: the tenant's keys of this moment
            ring = {kid: public_key_from_text(text) for kid, text in self._keys()}
            self._rings[device_id] = ring
        return ring

    def key_ids(self, device_id: str) -> list[str]:
        """The key ids the device accepts now (for tests)."""
        with self._lock:
            return sorted(self._key_ring(device_id))

    def _install_key(self, device_id: str, parameters: object) -> tuple[str, str]:
        """``set_command_key`` verified: accept commands signed by the new key from now."""
        if not isinstance(parameters, dict):
            return "rejected", "set_command_key needs key_id and public_key"
        kid, text = parameters.get("key_id"), parameters.get("public_key")
        if not isinstance(kid, str) or not isinstance(text, str):
            return "rejected", "set_command_key needs key_id and public_key"
        try:
            public = public_key_from_text(text)
        except ValueError:
            return "rejected", "set_command_key: not an Ed25519 public key"
        if key_id(public) != kid:
            return "rejected", "set_command_key: key_id does not match the key"
        ring = self._key_ring(device_id)
        ring[kid] = public
        # a device keeps a few keys, like firmware with a small key store: the newest
        while len(ring) > KEYS_KEPT:
            del ring[next(iter(ring))]
        return "done", f"command key {kid} installed"

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
