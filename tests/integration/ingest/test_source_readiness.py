"""A collector's source is connected only once the broker acknowledged its subscription.

A message published to a new session between CONNACK and SUBACK is routed to
no one; a collector that called itself connected at CONNACK let its first
readers (the demo's simulator, tests) publish into that gap and lose them. A
scripted broker over a real socket holds the SUBACK back to show the order.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator

import pytest

from wattline.ingest.sources import open_source
from wattline.ingest.sources.base import Delivery, MessageSource, MqttEndpoint, SessionOptions
from wattline.model.messages import InboundMessage

SUBSCRIBE = 0x82
GRANTED_QOS1, REFUSED = 0x01, 0x80


class ScriptedBroker:
    """Accepts one client: CONNACK at once, SUBACK only when told."""

    def __init__(self, mqtt5: bool) -> None:
        self.mqtt5 = mqtt5
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._client: socket.socket | None = None
        self.subscribe_mid: int | None = None
        self.subscribed = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        client, _ = self._server.accept()
        self._client = client
        _read_packet(client)  # CONNECT
        client.sendall(b"\x20\x03\x00\x00\x00" if self.mqtt5 else b"\x20\x02\x00\x00")
        while True:
            try:
                kind, body = _read_packet(client)
            except OSError:
                return
            if kind == SUBSCRIBE:
                self.subscribe_mid = int.from_bytes(body[:2], "big")
                self.subscribed.set()

    def acknowledge(self, code: int) -> None:
        assert self._client is not None
        assert self.subscribe_mid is not None
        properties = b"\x00" if self.mqtt5 else b""
        body = self.subscribe_mid.to_bytes(2, "big") + properties + bytes([code])
        self._client.sendall(bytes([0x90, len(body)]) + body)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self._server.close()


def _read_packet(client: socket.socket) -> tuple[int, bytes]:
    kind = _read_exactly(client, 1)[0]
    length, shift = 0, 0
    while True:
        byte = _read_exactly(client, 1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            break
    return kind, _read_exactly(client, length)


def _read_exactly(client: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = client.recv(size - len(data))
        if not chunk:
            raise OSError("closed")
        data += chunk
    return data


@pytest.fixture(params=[False, True], ids=["mqtt311", "mqtt5"])
def broker(request: pytest.FixtureRequest) -> Iterator[ScriptedBroker]:
    scripted = ScriptedBroker(mqtt5=request.param)
    yield scripted
    scripted.close()


def _ignore(_message: InboundMessage, _delivery: Delivery) -> None:
    return None


def _source_for(broker: ScriptedBroker) -> MessageSource:
    endpoint = MqttEndpoint("127.0.0.1", broker.port)
    options = SessionOptions(mqtt5=broker.mqtt5)
    return open_source(endpoint, f"c-{uuid.uuid4().hex}", ["t/+/telemetry"], _ignore, options)


def test_a_source_is_connected_only_after_the_broker_acknowledged_its_subscription(
    broker: ScriptedBroker,
) -> None:
    source = _source_for(broker)
    source.start()
    try:
        assert broker.subscribed.wait(15), "the source subscribes after CONNACK"
        assert not source.connected.wait(0.5), "connected before the SUBACK"
        broker.acknowledge(GRANTED_QOS1)
        assert source.connected.wait(10)
    finally:
        source.stop()


def test_a_refused_subscription_leaves_the_source_not_connected(
    broker: ScriptedBroker, caplog: pytest.LogCaptureFixture
) -> None:
    source = _source_for(broker)
    source.start()
    try:
        assert broker.subscribed.wait(15)
        broker.acknowledge(REFUSED)
        assert not source.connected.wait(1.0)
    finally:
        source.stop()
    if not broker.mqtt5:  # the MQTT 5 receiver logs in its own process
        assert "refused the subscriptions" in caplog.text
