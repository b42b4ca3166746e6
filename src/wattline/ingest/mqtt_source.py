"""The MQTT source: QoS 1 on a persistent session, PUBACK only when told to.

paho-mqtt's ``manual_ack`` lets the collector acknowledge a message after its
batch is committed, so a crash between receipt and commit makes the broker
redeliver it instead of losing it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from wattline.model.messages import InboundMessage

log = logging.getLogger("wattline.ingest.mqtt")


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> MqttEndpoint:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise ValueError(f"MQTT URL {url!r} must look like mqtt://host:port")
        return cls(
            host=parts.hostname,
            port=parts.port or 1883,
            username=parts.username,
            password=parts.password,
        )

    def __str__(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Delivery:
    """What is needed to acknowledge one message, tied to the connection it came on."""

    mid: int
    qos: int
    generation: int


DeliverFn = Callable[[InboundMessage, Delivery], None]


class MqttSource:
    def __init__(
        self,
        endpoint: MqttEndpoint,
        client_id: str,
        topics: Sequence[str],
        deliver: DeliverFn,
        *,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._endpoint = endpoint
        self._topics = list(topics)
        self._deliver = deliver
        self._clock_ms = clock_ms
        self._generation = 0
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        if endpoint.username:
            self._client.username_pw_set(endpoint.username, endpoint.password)
        # A large window lets the broker keep the pipeline full while a batch commits.
        self._client.max_inflight_messages_set(1000)
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    def start(self) -> None:
        self._client.connect_async(self._endpoint.host, self._endpoint.port, keepalive=30)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def ack(self, deliveries: Sequence[Delivery]) -> int:
        """Acknowledge committed messages; return how many were still ackable.

        A delivery from an earlier connection is skipped: its packet id may now
        belong to a different, uncommitted message, and the broker redelivers
        the old one anyway (storage is idempotent).
        """
        with self._lock:
            generation = self._generation
        acked = 0
        for delivery in deliveries:
            if delivery.qos > 0 and delivery.generation == generation:
                self._client.ack(delivery.mid, delivery.qos)
                acked += 1
        return acked

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Any,
    ) -> None:
        if reason.is_failure:
            log.warning("mqtt connect to %s refused: %s", self._endpoint, reason)
            return
        with self._lock:
            self._generation += 1
        client.subscribe([(topic, 1) for topic in self._topics])
        self.connected.set()
        log.info("collector connected to %s, subscribed to %s", self._endpoint, self._topics)

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _properties: Any,
    ) -> None:
        self.connected.clear()
        if reason.is_failure:
            log.warning("collector lost %s: %s; reconnecting", self._endpoint, reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        content_type = None
        if msg.properties is not None:
            content_type = getattr(msg.properties, "ContentType", None)
        with self._lock:
            generation = self._generation
        message = InboundMessage(
            topic=msg.topic,
            payload=bytes(msg.payload),
            received_ms=self._clock_ms(),
            content_type=content_type,
        )
        # Blocks while the collector's queue is full: back-pressure reaches the
        # broker through TCP instead of growing memory here.
        self._deliver(message, Delivery(mid=msg.mid, qos=msg.qos, generation=generation))
