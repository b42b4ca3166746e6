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
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

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


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """How the collector's MQTT session is set up."""

    # MQTT 5 is needed for the receive window and session expiry below; the
    # embedded amqtt broker speaks only 3.1.1.
    mqtt5: bool = False
    # Collectors in one group share the stream ($share/{group}/...): each
    # message goes to one of them.
    shared_group: str | None = None
    # How long the broker keeps the session (and queues for it) while the
    # collector is away. MQTT 3.1.1 sessions never expire.
    session_expiry_s: int = 7 * 86_400
    # Unacknowledged messages the broker may have in flight to us (MQTT 5's
    # Receive Maximum). With acknowledge-after-commit this bounds the batch size.
    receive_maximum: int = 2000

    def subscription(self, topic: str) -> str:
        return f"$share/{self.shared_group}/{topic}" if self.shared_group else topic


class MqttSource:
    def __init__(  # noqa: PLR0913 - each argument is a separate concern
        self,
        endpoint: MqttEndpoint,
        client_id: str,
        topics: Sequence[str],
        deliver: DeliverFn,
        *,
        options: SessionOptions | None = None,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._endpoint = endpoint
        self._options = options or SessionOptions()
        self._topics = [self._options.subscription(topic) for topic in topics]
        self._deliver = deliver
        self._clock_ms = clock_ms
        self._generation = 0
        self._lock = threading.Lock()
        self.connected = threading.Event()
        if self._options.mqtt5:
            self._client = mqtt.Client(
                callback_api_version=CallbackAPIVersion.VERSION2,
                client_id=client_id,
                protocol=mqtt.MQTTv5,
                manual_ack=True,
            )
        else:
            self._client = mqtt.Client(
                callback_api_version=CallbackAPIVersion.VERSION2,
                client_id=client_id,
                clean_session=False,
                protocol=mqtt.MQTTv311,
                manual_ack=True,
            )
        if endpoint.username:
            self._client.username_pw_set(endpoint.username, endpoint.password)
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    def start(self) -> None:
        if self._options.mqtt5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self._options.session_expiry_s
            properties.ReceiveMaximum = self._options.receive_maximum
            self._client.connect_async(
                self._endpoint.host,
                self._endpoint.port,
                keepalive=30,
                clean_start=False,
                properties=properties,
            )
        else:
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
        if self._options.mqtt5:
            client.subscribe([(topic, SubscribeOptions(qos=1)) for topic in self._topics])
        else:
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
