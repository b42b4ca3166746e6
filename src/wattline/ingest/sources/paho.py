"""The MQTT 3.1.1 source on paho-mqtt, whose ``manual_ack`` defers each PUBACK.

MQTT 3.1.1 is what the embedded amqtt broker speaks; MQTT 5 sessions use
``gmqtt.py``, which parses several times faster (docs/benchmarks.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from wattline.ingest.sources.base import DeliverFn, Delivery, MqttEndpoint, SessionOptions
from wattline.model.messages import InboundMessage

log = logging.getLogger("wattline.ingest.mqtt")


class PahoSource:
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
        options = options or SessionOptions()
        if options.mqtt5 or options.shared_group:
            raise ValueError("PahoSource speaks MQTT 3.1.1; MQTT 5 sessions use GmqttSource")
        self._topics = list(topics)
        self._deliver = deliver
        self._clock_ms = clock_ms
        self._generation = 0
        # the packet id of this connection's SUBSCRIBE, until its SUBACK
        self._subscribe_mid: int | None = None
        self._lock = threading.Lock()
        self.connected = threading.Event()
        # MQTT 3.1.1 sessions never expire: a clean_session=False client keeps its queue.
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
        self._client.on_subscribe = self._on_subscribe
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
        _, self._subscribe_mid = client.subscribe([(topic, 1) for topic in self._topics])

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        _properties: Any,
    ) -> None:
        """Connected once the broker routes our topics to us: a message published between
        CONNACK and SUBACK to a new session would never reach it."""
        if mid != self._subscribe_mid:
            return
        self._subscribe_mid = None
        refused = [
            topic for topic, reason in zip(self._topics, reasons, strict=False) if reason.is_failure
        ]
        if refused:
            log.error("the broker refused the subscriptions to %s", refused)
        if len(refused) < len(self._topics):
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
        with self._lock:
            generation = self._generation
        message = InboundMessage(
            topic=msg.topic, payload=bytes(msg.payload), received_ms=self._clock_ms()
        )
        # Blocks while the collector's queue is full: back-pressure reaches the
        # broker through TCP instead of growing memory here.
        self._deliver(message, Delivery(mid=msg.mid, qos=msg.qos, generation=generation))
