"""The receiver's own packet loop and parse agree with gmqtt's, and leave the rest to it.

``mqtt_stream.scan`` splits the connection's bytes into packets and
``plain_qos1_publish`` takes the common one (QoS 1, a UTF-8 topic, no
properties) off gmqtt's loop and general parser; anything else must reach
gmqtt as before, so a content type, a topic alias or another QoS keeps its
meaning.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from typing import Any

import gmqtt  # type: ignore[import-untyped]
from gmqtt.mqtt.connection import MQTTConnection  # type: ignore[import-untyped]
from gmqtt.mqtt.protocol import MQTTProtocol  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.ingest.test_receiver_acks import CONFIG

from wattline.ingest.sources import frames
from wattline.ingest.sources import receiver as receiver_module
from wattline.ingest.sources.mqtt_stream import plain_qos1_publish, scan
from wattline.ingest.sources.receiver import Receiver


def _string(data: bytes) -> bytes:
    return len(data).to_bytes(2, "big") + data


def publish(
    topic: bytes, qos: int, mid: int, properties: bytes, payload: bytes, *, flags: int = 0
) -> tuple[int, bytes]:
    """A PUBLISH's first byte and its bytes after the remaining length (MQTT 5, 3.3)."""
    body = _string(topic) + (mid.to_bytes(2, "big") if qos else b"")
    # the properties' length, a variable byte integer: one byte below 128
    assert len(properties) < 128
    return 0x30 | (qos << 1) | flags, body + bytes([len(properties)]) + properties + payload


properties = st.sampled_from(
    [
        b"",
        b"\x03" + _string(b"application/cbor"),  # content type
        b"\x23\x00\x05",  # topic alias 5
        b"\x01\x01",  # payload format: UTF-8
    ]
)
topics = st.binary(max_size=40) | st.text(max_size=40).map(str.encode)


def gmqtt_parse(cmd: int, raw: bytes) -> tuple[Any, ...] | None:
    """What gmqtt hands on for a QoS 1 PUBLISH: (mid, topic, payload, properties)."""
    handler = gmqtt.Client("reference")._package_handler
    seen: list[tuple[Any, ...]] = []
    handler._handle_qos_1_publish_packet = lambda *args: seen.append(args)
    handler._handle_publish_packet(cmd, raw)
    if not seen:
        return None
    mid, payload, topic, props = seen[0]
    return mid, topic, bytes(payload), props


@given(
    topic=topics,
    qos=st.sampled_from([0, 1, 2]),
    mid=st.integers(1, 65_535),
    props=properties,
    payload=st.binary(max_size=200),
    flags=st.sampled_from([0, 0x01, 0x08, 0x09]),  # retain, dup
)
def test_what_the_plain_parse_takes_gmqtt_reads_the_same(  # noqa: PLR0917 - the parts
    topic: bytes, qos: int, mid: int, props: bytes, payload: bytes, flags: int
) -> None:
    cmd, raw = publish(topic, qos, mid, props, payload, flags=flags)
    plain = plain_qos1_publish(raw, cmd, 0, len(raw))
    if plain is None:
        # declined: only a packet with something beyond the plain case
        assert qos != 1 or props or not topic or not _is_utf8(topic)
        return
    assert (qos, props) == (1, b"")
    reference = gmqtt_parse(cmd, raw)
    assert reference is not None
    assert plain == reference[:3]
    assert "content_type" not in reference[3]


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@given(raw=st.binary(max_size=12), cmd=st.integers(0x30, 0x3F))
def test_truncated_or_odd_bytes_never_raise(raw: bytes, cmd: int) -> None:
    plain = plain_qos1_publish(raw, cmd, 0, len(raw))
    if plain is not None:
        mid, topic, payload = plain
        assert 0 <= mid <= 65_535
        assert topic
        assert len(payload) <= len(raw)


def received(packets: list[tuple[int, bytes]]) -> list[frames.Record]:
    """The records a receiver hands the collector for these packets, through its gmqtt client."""
    out = io.BytesIO()
    receiver = Receiver(CONFIG, out)
    handler = receiver._client()._package_handler

    async def run() -> None:
        for cmd, raw in packets:
            handler._handle_packet(cmd, raw)
        await asyncio.sleep(0)  # the scheduled flush

    asyncio.run(run())
    out.seek(0)
    records: list[frames.Record] = []
    while (frame := frames.read(out)) is not None:
        if frame[0] == frames.MESSAGES:
            records += frame[1]
    return records


def test_plain_and_general_packets_reach_the_collector_alike_and_in_order() -> None:
    packets = [
        publish(b"iot/a/telemetry", 1, 7, b"", b'{"ts": 1}'),
        publish(b"iot/b/telemetry", 1, 8, b"\x03" + _string(b"application/cbor"), b"\xa0"),
        publish(b"iot/c/telemetry", 0, 0, b"", b"q0"),
        publish(b"iot/d/telemetry", 1, 9, b"", b"", flags=0x09),  # dup, retained
    ]
    records = received(packets)
    assert [
        (key & 0xFFFF, topic, payload, content_type)
        for key, topic, payload, _, content_type in records
    ] == [
        (7, "iot/a/telemetry", b'{"ts": 1}', None),
        (8, "iot/b/telemetry", b"\xa0", "application/cbor"),  # gmqtt's parse: its content type
        (0, "iot/c/telemetry", b"q0", None),  # QoS 0: nothing to acknowledge
        (9, "iot/d/telemetry", b"", None),
    ]


def test_only_a_publish_is_parsed_as_one() -> None:
    _, raw = publish(b"iot/a/telemetry", 1, 7, b"", b"{}")
    for first in (0x40, 0x90, 0xB0, 0xD0):  # PUBACK, SUBACK, UNSUBACK, PINGRESP
        assert plain_qos1_publish(raw, first | 0x02, 0, len(raw)) is None


def packet_bytes(first: int, raw: bytes) -> bytes:
    """A whole packet: its first byte, the remaining length, the rest."""
    length, encoded = len(raw), bytearray()
    while True:
        length, digit = divmod(length, 128)
        encoded.append(digit | (0x80 if length else 0))
        if not length:
            return bytes([first, *encoded]) + raw


class PausableTransport:
    """What the receiver asks of a connection's transport: pausing and resuming reads."""

    def __init__(self) -> None:
        self.reading = True
        self.closing = False
        self.pauses = 0

    def is_reading(self) -> bool:
        return self.reading

    def pause_reading(self) -> None:
        self.reading = False
        self.pauses += 1

    def resume_reading(self) -> None:
        self.reading = True

    def is_closing(self) -> bool:
        return self.closing


class ConnectedReceiver:
    """A receiver whose gmqtt client made one connection (no socket): bytes given to
    ``read`` go through the packet loop the receiver installed, as gmqtt's read loop
    hands them on (what a read added to what was left over)."""

    def __init__(self) -> None:
        self.out = io.BytesIO()
        self.receiver = Receiver(CONFIG, self.out)
        self.handler = self.receiver._client()._package_handler
        self.connection = self.connect()
        self.left = b""

    def connect(self) -> Any:
        connection = MQTTConnection.__new__(MQTTConnection)
        protocol = MQTTProtocol.__new__(MQTTProtocol)
        protocol._connection = connection
        connection._protocol = protocol
        connection._handler = self.handler
        connection._logger = logging.getLogger("test")
        connection._last_data_in = 0.0
        connection._transport = PausableTransport()
        self.handler.set_connection(connection)  # what MQTTConnection.__init__ does
        return connection

    def read(self, chunk: bytes) -> int:
        data = self.left + chunk
        used: int = self.connection._protocol._read_packet(data)
        if used >= 0:
            self.left = data[used:]
        return used

    def records(self) -> list[frames.Record]:
        self.out.seek(0)
        found: list[frames.Record] = []
        while (frame := frames.read(self.out)) is not None:
            if frame[0] == frames.MESSAGES:
                found += frame[1]
        return found


def comparable(records: list[frames.Record]) -> list[tuple[Any, ...]]:
    return [(key, topic, payload, kind) for key, topic, payload, _, kind in records]


packets = st.lists(
    st.tuples(
        topics.filter(bool),
        st.sampled_from([0, 1]),
        st.integers(1, 65_535),
        properties,
        # past 127 bytes the remaining length takes two bytes
        st.binary(max_size=20) | st.binary(min_size=120, max_size=300),
        st.sampled_from([0, 0x01, 0x08]),
    ).map(lambda p: publish(*p[:5], flags=p[5]))
    | st.just((0xD0, b"")),  # PINGRESP
    max_size=12,
)


@given(packets=packets, cuts=st.lists(st.integers(0, 4_000), max_size=8))
def test_the_stream_read_in_any_pieces_gives_what_gmqtt_gives_packet_by_packet(
    packets: list[tuple[int, bytes]], cuts: list[int]
) -> None:
    stream = b"".join(packet_bytes(first, raw) for first, raw in packets)
    connected = ConnectedReceiver()

    async def run() -> None:
        at = 0
        for cut in [*sorted(c for c in cuts if c < len(stream)), len(stream)]:
            assert connected.read(stream[at:cut]) >= 0
            at = max(at, cut)
        await asyncio.sleep(0)  # the scheduled flush

    asyncio.run(run())
    assert connected.left == b""
    expected = received(packets)
    assert comparable(connected.records()) == comparable(expected)
    assert connected.receiver._unacked == {key & 0xFFFF for key, *_ in expected if key}


def test_a_read_is_stamped_once_and_counts_for_the_keep_alive() -> None:
    connected = ConnectedReceiver()
    stream = b"".join(
        packet_bytes(*publish(b"iot/a/telemetry", 1, mid, b"", b"{}")) for mid in (1, 2, 3)
    )
    before_ms = time.time_ns() // 1_000_000

    async def run() -> None:
        assert connected.read(stream) == len(stream)
        await asyncio.sleep(0)

    asyncio.run(run())
    stamps = {received_ms for _, _, _, received_ms, _ in connected.records()}
    assert len(stamps) == 1
    assert stamps.pop() >= before_ms
    assert connected.connection._last_data_in > 0


def test_a_packet_is_used_only_once_whole() -> None:
    whole = packet_bytes(*publish(b"iot/a/telemetry", 1, 5, b"", b"x" * 200))  # two length bytes
    assert scan(whole[:1], _refuse, _refuse) == 0
    assert scan(whole[:2], _refuse, _refuse) == 0
    assert scan(whole[:-1], _refuse, _refuse) == 0
    seen: list[tuple[int, str, bytes]] = []
    assert scan(whole + whole[:3], lambda *p: seen.append(p), _refuse) == len(whole)
    assert seen == [(5, "iot/a/telemetry", b"x" * 200)]


def test_a_remaining_length_longer_than_mqtt_allows_breaks_the_stream() -> None:
    assert scan(b"\x32\xff\xff\xff\x7f", _refuse, _refuse) == 0  # 268,435,455: waits for it
    assert scan(b"\x32\xff\xff\xff\xff\x01", _refuse, _refuse) == -1


@given(data=st.binary(max_size=64))
def test_any_bytes_are_split_or_refused_without_raising(data: bytes) -> None:
    used = scan(data, lambda *_: None, lambda *_: None)
    assert -1 <= used <= len(data)


def test_a_superseded_connection_hands_nothing_on() -> None:
    connected = ConnectedReceiver()
    old = connected.connection
    connected.connection = connected.connect()  # gmqtt reconnected
    stream = packet_bytes(*publish(b"iot/a/telemetry", 1, 9, b"", b"{}"))

    async def run() -> None:
        assert old._protocol._read_packet(stream) == len(stream)
        await asyncio.sleep(0)

    asyncio.run(run())
    assert connected.records() == []
    assert connected.receiver._unacked == set()


def _refuse(*_: object) -> None:
    raise AssertionError("no whole packet was there")


def test_after_a_read_the_socket_rests_for_the_pause_then_is_read_again() -> None:
    connected = ConnectedReceiver()
    transport = connected.connection._transport
    stream = packet_bytes(*publish(b"iot/a/telemetry", 1, 3, b"", b"{}"))

    async def run() -> None:
        assert connected.read(stream) == len(stream)
        assert not transport.reading  # the next messages gather in the socket's buffer
        connected.read(b"")  # what gmqtt's loop still held: no second pause pending
        assert transport.pauses == 1
        await asyncio.sleep(receiver_module._READ_PAUSE_S * 5)
        assert transport.reading
        assert connected.read(stream) == len(stream)
        transport.closing = True  # the connection went meanwhile: stays as it is
        await asyncio.sleep(receiver_module._READ_PAUSE_S * 5)
        assert not transport.reading

    asyncio.run(run())
    assert [key for key, *_ in connected.records()] == [3, 3]
