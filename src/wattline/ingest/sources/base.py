"""What every MQTT source shares: where the broker is, how a session is set up,
and how a received message is handed over and later acknowledged.

A source receives QoS 1 on a persistent session and sends a message's PUBACK
only when told to, after the batch holding it is committed: a crash between
receipt and commit makes the broker redeliver it instead of losing it.
``open_source`` (this package's ``__init__``) picks the implementation for the protocol version.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from msgspec import Struct

from wattline.model.messages import InboundMessage


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


class Delivery(Struct, frozen=True):
    """What is needed to acknowledge one message, tied to the connection it came on."""

    # the source's handle for the message (paho: the packet id)
    mid: int
    qos: int
    generation: int


DeliverFn = Callable[[InboundMessage, Delivery], None]
# A frame's worth at once, in order: a source that receives messages in batches
# (the MQTT 5 receiver's frames) hands them over in one call.
DeliverManyFn = Callable[[Sequence[tuple[InboundMessage, Delivery]]], None]


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
    # Receive Maximum). With acknowledge-after-commit every message of a batch
    # is in flight until its commit, so this must be several batches (2,000
    # messages) for the next batch to arrive while one commits: 2,000 -> 8,000
    # took one collector from 18.6k to 21.4k readings/s (docs/benchmarks.md).
    receive_maximum: int = 10_000

    def subscription(self, topic: str) -> str:
        return f"$share/{self.shared_group}/{topic}" if self.shared_group else topic


class MessageSource(Protocol):
    """A connection to the broker that delivers messages and acknowledges them later."""

    connected: threading.Event

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def ack(self, deliveries: Sequence[Delivery]) -> int: ...
