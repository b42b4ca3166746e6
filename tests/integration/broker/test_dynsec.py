"""Devices enforced at the broker: a real Mosquitto with its dynamic-security plugin.

Each test starts its own Mosquitto (security mode, its own port and data dir),
never the system one.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from tests.conftest import free_port, unavailable

from wattline.broker.dynsec import (
    ADMIN_USERNAME,
    DynSecAccounts,
    DynSecClient,
    find_plugin,
)
from wattline.broker.mosquitto import DynamicSecurity, MosquittoBroker, find_mosquitto

pytestmark = pytest.mark.timeout(60)
PREFIX = "iot"
UPLINKS = [f"{PREFIX}/#", "tele/+/SENSOR"]


@dataclass
class SecureBroker:
    port: int
    accounts: DynSecAccounts


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[SecureBroker]:
    binary, plugin = find_mosquitto(), find_plugin()
    if binary is None or plugin is None:
        unavailable("Mosquitto with its dynamic-security plugin is not installed")
    assert binary is not None
    assert plugin is not None
    admin_password = uuid.uuid4().hex
    port = free_port()
    broker = MosquittoBroker(
        binary, "127.0.0.1", port, tmp_path / "mosquitto", DynamicSecurity(plugin, admin_password)
    )
    asyncio.run(broker.start())
    admin = DynSecClient("127.0.0.1", port, ADMIN_USERNAME, admin_password)
    try:
        admin.connect()
        yield SecureBroker(port, DynSecAccounts(admin, UPLINKS, PREFIX))
        admin.close()
    finally:
        asyncio.run(broker.stop())


class Client:
    """A paho client that records what happens to it."""

    def __init__(self, port: int, username: str | None, password: str | None) -> None:
        self.connected = threading.Event()
        self.refused = threading.Event()
        self.disconnected = threading.Event()
        self.subscribed = threading.Event()
        self.granted: list[int] = []
        self.messages: list[tuple[str, bytes]] = []
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"t-{uuid.uuid4().hex[:8]}",
            # MQTT 5: a refused publish is answered (PUBACK 0x87), not a dropped connection.
            protocol=mqtt.MQTTv5,
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = lambda *_a: self.disconnected.set()
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = lambda _c, _u, m: self.messages.append((m.topic, m.payload))
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()

    def _on_connect(self, *args: object) -> None:
        reason = args[3]
        assert isinstance(reason, ReasonCode)
        (self.refused if reason.is_failure else self.connected).set()

    def _on_subscribe(
        self, _c: object, _u: object, _mid: int, codes: list[ReasonCode], _p: object
    ) -> None:
        self.granted = [code.value for code in codes]
        self.subscribed.set()

    def wait_connected(self) -> bool:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.connected.is_set():
                return True
            if self.refused.is_set() or self.disconnected.is_set():
                return False
            time.sleep(0.02)
        return False

    def subscribe(self, topic: str) -> list[int]:
        self._client.subscribe(topic, qos=1)
        assert self.subscribed.wait(5)
        return self.granted

    def publish(self, topic: str, payload: bytes) -> None:
        self._client.publish(topic, payload, qos=1).wait_for_publish(5)

    def publish_nowait(self, topic: str, payload: bytes) -> None:
        self._client.publish(topic, payload, qos=1)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    made: list[Client] = []
    yield made
    for client in made:
        client.close()


def connect(made: list[Client], port: int, username: str | None, password: str | None) -> Client:
    client = Client(port, username, password)
    made.append(client)
    return client


def test_anonymous_connect_is_refused(secure_broker: SecureBroker, clients: list[Client]) -> None:
    assert not connect(clients, secure_broker.port, None, None).wait_connected()


def test_a_device_cannot_publish_as_another(
    secure_broker: SecureBroker, clients: list[Client]
) -> None:
    secure_broker.accounts.grant("dev-a", "pw-a")
    secure_broker.accounts.collector("pw-c")
    collector = connect(clients, secure_broker.port, "wattline-collector", "pw-c")
    assert collector.wait_connected()
    assert collector.subscribe(f"{PREFIX}/#") == [1]
    device_a = connect(clients, secure_broker.port, "dev-a", "pw-a")
    assert device_a.wait_connected()

    for forged in (f"{PREFIX}/dev-b/telemetry", "tele/dev-b/SENSOR"):
        device_a.publish_nowait(forged, b"forged")
        # Mosquitto 2.0 closes the connection of a client publishing where it may not.
        assert device_a.disconnected.wait(5)
        device_a.disconnected.clear()
    honest = connect(clients, secure_broker.port, "dev-a", "pw-a")
    assert honest.wait_connected()
    honest.publish(f"{PREFIX}/dev-a/telemetry", b"own")

    deadline = time.monotonic() + 5
    while not collector.messages and time.monotonic() < deadline:
        time.sleep(0.02)
    assert collector.messages == [(f"{PREFIX}/dev-a/telemetry", b"own")]


def test_a_device_cannot_subscribe_to_another_devices_downlink(
    secure_broker: SecureBroker, clients: list[Client]
) -> None:
    secure_broker.accounts.grant("dev-a", "pw-a")
    device_a = connect(clients, secure_broker.port, "dev-a", "pw-a")
    assert device_a.wait_connected()
    # 0x87: not authorised. Its own downlink is granted.
    assert device_a.subscribe(f"{PREFIX}/dev-b/command") == [0x87]
    device_a.subscribed.clear()
    assert device_a.subscribe(f"{PREFIX}/+/command") == [0x87]
    device_a.subscribed.clear()
    assert device_a.subscribe(f"{PREFIX}/dev-a/command") == [1]


def test_a_device_gets_its_own_ota_instructions_only(
    secure_broker: SecureBroker, clients: list[Client]
) -> None:
    secure_broker.accounts.grant("dev-a", "pw-a")
    secure_broker.accounts.collector("pw-c")
    device_a = connect(clients, secure_broker.port, "dev-a", "pw-a")
    assert device_a.wait_connected()
    assert device_a.subscribe(f"{PREFIX}/dev-b/ota") == [0x87]
    device_a.subscribed.clear()
    assert device_a.subscribe(f"{PREFIX}/dev-a/ota") == [1]
    # the collector's account publishes instructions (firmware/mqtt_publisher.py)
    collector = connect(clients, secure_broker.port, "wattline-collector", "pw-c")
    assert collector.wait_connected()
    collector.publish(f"{PREFIX}/dev-a/ota", b"instruction")
    deadline = time.monotonic() + 5
    while not device_a.messages and time.monotonic() < deadline:
        time.sleep(0.02)
    assert device_a.messages == [(f"{PREFIX}/dev-a/ota", b"instruction")]


def test_revoked_device_is_disconnected_and_refused(
    secure_broker: SecureBroker, clients: list[Client]
) -> None:
    secure_broker.accounts.grant("dev-a", "pw-a")
    device_a = connect(clients, secure_broker.port, "dev-a", "pw-a")
    assert device_a.wait_connected()

    secure_broker.accounts.revoke("dev-a")

    assert device_a.disconnected.wait(5), "an open session outlived its revoked credential"
    assert not connect(clients, secure_broker.port, "dev-a", "pw-a").wait_connected()


def test_rotation_refuses_the_old_password_and_accepts_the_new(
    secure_broker: SecureBroker, clients: list[Client]
) -> None:
    secure_broker.accounts.grant("dev-a", "old")
    device_a = connect(clients, secure_broker.port, "dev-a", "old")
    assert device_a.wait_connected()

    secure_broker.accounts.grant("dev-a", "new")

    assert device_a.disconnected.wait(5), "a session on the old password stayed open"
    assert not connect(clients, secure_broker.port, "dev-a", "old").wait_connected()
    assert connect(clients, secure_broker.port, "dev-a", "new").wait_connected()
