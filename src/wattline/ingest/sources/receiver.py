"""The MQTT 5 receiver: a child process that holds the gmqtt session for the collector.

gmqtt parses the packets and keeps the session (connect, subscribe, keep-alive,
reconnect). Acknowledging is ours: a QoS 1 message is handed to the collector
with a key naming its connection and packet id, and its PUBACK is written only
when the collector reports the batch holding it committed. Anything not
reported is never acknowledged, so the broker redelivers it to the next
session.

Why not gmqtt's own ``optimistic_acknowledgement=False``: it runs one asyncio
task per message and writes one PUBACK (a syscall, a TCP segment) per message,
which cost more than half of this process's CPU at 16,000 messages/s. Here
the PUBACKs of a committed batch leave in one write. That replaces one method
of gmqtt's packet handler (``_handle_qos_1_publish_packet``), so the gmqtt
version is pinned and the integration and chaos tests run through this path.

The connection's bytes are split into packets here too (``mqtt_stream.scan``,
installed on each connection gmqtt makes), and the PUBLISH nearly every device
sends (QoS 1, a UTF-8 topic, no properties) is parsed on the way: gmqtt's
general parser, with its struct formats built per packet and its property
walk, was 39 % of this process's time at 7,000 messages/s (py-spy, one of two
PostgreSQL collectors), and its packet loop and dispatch cost 6.9 µs a message
before reaching any parser (``mqtt_stream``'s docstring).
Any other packet (a PUBLISH with properties, a topic alias, QoS 0 or 2; a
CONNACK, a SUBACK) goes to gmqtt's own handling. That replaces gmqtt's
per-connection packet loop too (``MQTTProtocol._read_packet``).

Running the client in its own process gives MQTT parsing and acknowledging a
core of their own instead of a share of the collector's GIL (docs/benchmarks.md
has the measurements). The parent speaks to it through stdin and stdout in
length-prefixed pickle frames (see ``frames``); if either side dies, the other
sees end-of-file: the parent restarts the receiver, and an orphaned receiver
exits without acknowledging anything.

    python -m wattline.ingest.sources.receiver   # frames on stdin/stdout, config first
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import IO, Any

import gmqtt  # type: ignore[import-untyped]
from gmqtt.mqtt.constants import UNLIMITED_RECONNECTS, MQTTv50  # type: ignore[import-untyped]
from gmqtt.mqtt.package import Package  # type: ignore[import-untyped]
from gmqtt.mqtt.protocol import MQTTProtocol  # type: ignore[import-untyped]

from wattline.ingest.sources import frames, mqtt_stream

log = logging.getLogger("wattline.ingest.mqtt")

# Records per frame to the parent: big enough to amortise the write, small
# enough that the parent starts planning early.
_RECORDS_PER_FRAME = 500
# PUBACK, remaining length 2: MQTT 5 lets a success carry no reason code (3.4.2.1).
_PUBACK_HEADER = b"\x40\x02"
_MID_BITS = 16
# how long the socket is left unread after a read (``_pause_reading``)
_READ_PAUSE_S = 0.002


class Receiver:
    def __init__(self, config: dict[str, Any], out: IO[bytes]) -> None:
        self._config = config
        self._out = out
        self._topics: list[str] = config["topics"]
        # Connections so far; a key carries it so that a PUBACK never goes out on
        # a later connection, where the same packet id may name another message.
        self._generation = 0
        self._connection: Any = None
        # the packet id of this connection's SUBSCRIBE, until its SUBACK
        self._subscribe_mid: int | None = None
        # packet ids received on this connection and not acknowledged yet
        self._unacked: set[int] = set()
        self._outbox: list[frames.Record] = []
        self._flush_scheduled = False
        # when the bytes being scanned were read: one stamp for a read's packets
        self._received_ms = 0
        self._stop = asyncio.Event()

    async def run(self, commands: asyncio.StreamReader) -> None:
        client = self._client()
        listener = asyncio.create_task(self._listen(commands))
        try:
            if await self._connect(client):
                await self._stop.wait()
        finally:
            listener.cancel()
            self._unacked.clear()
            with contextlib.suppress(Exception):
                await client.disconnect()

    def _client(self) -> Any:
        config = self._config
        client = gmqtt.Client(
            config["client_id"],
            clean_session=False,
            # Also what keeps gmqtt from acknowledging anything by itself.
            optimistic_acknowledgement=False,
            session_expiry_interval=config["session_expiry_s"],
            receive_maximum=config["receive_maximum"],
        )
        client.set_config({"reconnect_retries": UNLIMITED_RECONNECTS, "reconnect_delay": 1})
        if config.get("username"):
            client.set_auth_credentials(config["username"], config.get("password"))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_qos0_message
        handler = client._package_handler  # noqa: SLF001
        handler._handle_qos_1_publish_packet = self._on_qos1_message  # noqa: SLF001
        attach = handler.set_connection

        def attach_and_scan(connection: Any) -> None:
            # gmqtt points its handler at each connection it makes before the CONNECT
            # goes out, so every packet of every connection is read through scan.
            attach(connection)
            protocol = connection._protocol  # noqa: SLF001
            protocol._read_packet = functools.partial(self._read_packets, connection)  # noqa: SLF001

        handler.set_connection = attach_and_scan
        return client

    async def _connect(self, client: Any) -> bool:
        """Connect, retrying while the broker is not there yet; False if stopped first.

        gmqtt reconnects by itself once a session existed; the first connection
        is ours to retry.
        """
        config = self._config
        while not self._stop.is_set():
            try:
                await client.connect(config["host"], config["port"], keepalive=30, version=MQTTv50)
            except (OSError, gmqtt.mqtt.handler.MQTTConnectError) as exc:
                log.warning("mqtt connect to %s:%s failed: %s", config["host"], config["port"], exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=1.0)
                continue
            return True
        return False

    async def _listen(self, commands: asyncio.StreamReader) -> None:
        """Acknowledge committed messages as the parent reports them; stop on its word or death."""
        try:
            while True:
                command = await frames.read_async(commands)
                if command is None or command[0] == frames.STOP:
                    break
                self._acknowledge(command[1])
        finally:
            self._stop.set()

    def _on_connect(self, client: Any, _flags: int, result: int, _properties: Any) -> None:
        if result != 0:
            log.warning("mqtt connect refused: %s", result)
            return
        self._generation += 1
        self._unacked.clear()
        self._connection = client._connection  # noqa: SLF001 - the one the PUBACKs go out on
        # The persistent session keeps subscriptions, but a broker that lost it
        # (restarted without persistence) needs them again.
        self._subscribe_mid = client.subscribe(
            [gmqtt.Subscription(topic, qos=1) for topic in self._topics]
        )

    def _on_subscribe(self, _client: Any, mid: int, granted: Sequence[int], _props: Any) -> None:
        """Connected once the broker routes our topics to us: a message published between
        CONNACK and SUBACK to a new session would never reach it."""
        if mid != self._subscribe_mid:
            return
        self._subscribe_mid = None
        refused = [topic for topic, qos in zip(self._topics, granted, strict=False) if qos >= 0x80]
        if refused:
            log.error("the broker refused the subscriptions to %s", refused)
        if len(refused) < len(self._topics):
            self._send((frames.CONNECTED, self._generation))

    def _on_disconnect(self, _client: Any, _packet: Any, _exc: Any = None) -> None:
        # Whatever arrived on that connection can no longer be acknowledged on it.
        self._generation += 1
        self._connection = None
        self._subscribe_mid = None
        self._unacked.clear()
        self._send((frames.DISCONNECTED, self._generation))

    def _read_packets(self, connection: Any, data: bytes) -> int:
        """gmqtt's ``MQTTProtocol._read_packet`` for ``connection``: the packets at the
        start of ``data`` handled, the bytes used returned (-1: a broken stream)."""
        if connection._handler.current_connection is not connection:  # noqa: SLF001
            # superseded by a newer connection: gmqtt's loop drops what it still reads
            return int(MQTTProtocol._read_packet(connection._protocol, data))  # noqa: SLF001
        # what gmqtt notes for every packet; its keep-alive reads it
        connection._last_data_in = time.monotonic()  # noqa: SLF001
        self._received_ms = time.time_ns() // 1_000_000
        used = mqtt_stream.scan(
            data,
            self._on_plain_publish,
            lambda first, raw: connection.put_package(Package(first, raw)),
        )
        _pause_reading(connection._transport)  # noqa: SLF001
        return used

    def _on_plain_publish(self, mid: int, topic: str, payload: bytes) -> None:
        self._unacked.add(mid)
        self._outbox.append(
            ((self._generation << _MID_BITS) | mid, topic, payload, self._received_ms, None)
        )
        self._flush_soon()

    def _on_qos1_message(
        self, mid: int, payload: bytes, topic: str | bytes, properties: dict[str, Any]
    ) -> None:
        self._unacked.add(mid)
        self._queue((self._generation << _MID_BITS) | mid, topic, payload, properties)

    def _on_qos0_message(
        self, _client: Any, topic: str, payload: bytes, _qos: int, properties: dict[str, Any]
    ) -> None:
        self._queue(0, topic, payload, properties)

    def _queue(
        self, key: int, topic: str | bytes, payload: bytes, properties: dict[str, Any]
    ) -> None:
        if isinstance(topic, bytes):  # gmqtt passes a topic that is not UTF-8 undecoded
            topic = topic.decode("utf-8", "replace")
        self._outbox.append(
            (key, topic, bytes(payload), time.time_ns() // 1_000_000, _content_type(properties))
        )
        self._flush_soon()

    def _flush_soon(self) -> None:
        if len(self._outbox) >= _RECORDS_PER_FRAME:
            self._flush()
        elif not self._flush_scheduled:
            # Once this turn's burst of packets is parsed.
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._outbox:
            records, self._outbox = self._outbox, []
            self._send((frames.MESSAGES, records))

    def _send(self, frame: frames.Frame) -> None:
        if self._stop.is_set():
            return
        # Messages announced before a connection event must reach the parent first.
        if frame[0] != frames.MESSAGES and self._outbox:
            self._flush()
        try:
            frames.write(self._out, frame)
        except OSError:
            # The collector is gone (killed, most likely): nothing more will be
            # committed, so nothing more may be acknowledged.
            log.info("collector gone; receiver stopping")
            self._outbox.clear()
            self._stop.set()

    def _acknowledge(self, keys: Sequence[int]) -> None:
        """One write with the PUBACKs of every key still owed on this connection."""
        generation, unacked = self._generation, self._unacked
        acks = []
        for key in keys:
            mid = key & 0xFFFF
            if key >> _MID_BITS == generation and mid in unacked:
                unacked.discard(mid)
                acks.append(_PUBACK_HEADER + mid.to_bytes(2, "big"))
        connection = self._connection
        if acks and connection is not None and not connection.is_closing():
            connection.send_package(b"".join(acks))


def _pause_reading(transport: asyncio.Transport) -> None:
    """Leave the socket unread for ``_READ_PAUSE_S`` after a read.

    The broker writes each message as it routes it, so a receiver that reads
    whenever the socket is readable wakes for a few messages at a time (about 12
    at 20,000 messages/s) and pays a turn of the event loop, a frame to the
    collector and the collector's wake-up for each. Paused, the messages wait in
    the socket's buffer and a read takes dozens: the receiver's CPU 17.9 -> 7.1
    us a message at the median (docs/benchmarks.md, session 29). A message after
    a quiet spell is read at once; one in a stream waits at most the pause."""
    if transport.is_reading():
        transport.pause_reading()
        asyncio.get_running_loop().call_later(_READ_PAUSE_S, _resume_reading, transport)


def _resume_reading(transport: asyncio.Transport) -> None:
    if not transport.is_closing():
        transport.resume_reading()


def _content_type(properties: dict[str, Any]) -> str | None:
    value = properties.get("content_type")
    if isinstance(value, list):
        return str(value[0]) if value else None
    return None if value is None else str(value)


async def _main(out: IO[bytes]) -> None:
    # Unbuffered, so reading the config frame takes no byte of the frames after it.
    stdin = os.fdopen(0, "rb", buffering=0)
    first = frames.read(stdin)
    if first is None or first[0] != frames.CONFIG:
        raise SystemExit("receiver: expected a config frame on stdin")
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), stdin)
    await Receiver(first[1], out).run(commands)


def main() -> None:
    # Ctrl-C in a terminal reaches the whole process group; the collector decides
    # when this process stops (after its last commit has been acknowledged).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Frames own the original stdout; anything a library prints goes to stderr
    # instead of into the frame stream.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    logging.basicConfig(
        level=os.environ.get("WATTLINE_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s (receiver): %(message)s",
    )
    # gmqtt logs every lost connection as a warning with a traceback; the
    # collector reports losses and reconnects itself, once each.
    logging.getLogger("gmqtt").setLevel(logging.ERROR)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(out))


if __name__ == "__main__":
    main()
