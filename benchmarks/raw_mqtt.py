"""MQTT 3.1.1 QoS 1 publishers as bare sockets, for paced benchmark streams.

A benchmark that paces a stream shares the machine with the system it measures,
so its publisher must cost little. paho in Python took more than half a core
at 4,500 readings/s; 100 ``mosquitto_pub -l`` processes fed line by line took
0.44 of a core at 12,800 readings/s (a process wake-up and a pipe read for every
message). Here each device is still a connection of its own (as in a fleet),
but a PUBLISH is one ``send`` of a packet built from bytes. The PUBACKs are
read once, at the end: 4 bytes each fit the socket's receive buffer many
thousand times over, and reading them all before DISCONNECT says the broker has
every message.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Sequence

_CONNECT_FLAGS_CLEAN = 0x02
_KEEPALIVE_S = 60
_PUBLISH_QOS1 = 0x32
_PUBACK_SIZE = 4
_DISCONNECT = b"\xe0\x00"


def _remaining_length(length: int) -> bytes:
    out = bytearray()
    while True:
        byte, length = length % 128, length // 128
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out)


def _utf8(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def connect_packet(client_id: str) -> bytes:
    body = _utf8("MQTT") + bytes([4, _CONNECT_FLAGS_CLEAN]) + struct.pack("!H", _KEEPALIVE_S)
    body += _utf8(client_id)
    return b"\x10" + _remaining_length(len(body)) + body


def publish_packet(topic: bytes, packet_id: int, payload: bytes) -> bytes:
    """QoS 1 PUBLISH; ``topic`` already length-prefixed (see ``RawPublishers``)."""
    size = len(topic) + 2 + len(payload)
    return (
        bytes([_PUBLISH_QOS1])
        + _remaining_length(size)
        + topic
        + struct.pack("!H", packet_id)
        + payload
    )


class RawPublishers:
    """One MQTT connection per topic; ``publish(i, payload)`` sends on the i-th."""

    def __init__(self, host: str, port: int, topics: Sequence[str], client_prefix: str) -> None:
        self._topics = [_utf8(topic) for topic in topics]
        self._sockets: list[socket.socket] = []
        self._sent = [0] * len(topics)
        for index in range(len(topics)):
            sock = socket.create_connection((host, port), timeout=10)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(connect_packet(f"{client_prefix}-{index}-{time.time_ns() % 10**9}"))
            connack = _read_exactly(sock, 4)
            if connack[0] != 0x20 or connack[3] != 0:
                raise ConnectionError(f"broker refused {topics[index]}: {connack!r}")
            self._sockets.append(sock)

    def publish(self, index: int, payload: bytes) -> None:
        self._sent[index] += 1
        packet_id = (self._sent[index] - 1) % 65_535 + 1
        self._sockets[index].sendall(publish_packet(self._topics[index], packet_id, payload))

    def close(self, timeout_s: float = 60.0) -> None:
        """Wait for every PUBACK (the broker has every message), then disconnect."""
        for sock, sent in zip(self._sockets, self._sent, strict=True):
            sock.settimeout(timeout_s)
            _read_exactly(sock, sent * _PUBACK_SIZE)
            sock.sendall(_DISCONNECT)
            sock.close()


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(min(size - len(chunks), 1 << 20))
        if not chunk:
            raise ConnectionError(f"broker closed after {len(chunks)} of {size} bytes")
        chunks += chunk
    return bytes(chunks)
