"""The receiver's own parse of a plain QoS 1 PUBLISH agrees with gmqtt's, and declines the rest.

``plain_qos1_publish`` takes the common packet (QoS 1, a UTF-8 topic, no
properties) off gmqtt's general parser; anything else must reach gmqtt as
before, so a content type, a topic alias or another QoS keeps its meaning.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import gmqtt  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.ingest.test_receiver_acks import CONFIG

from wattline.ingest.sources import frames
from wattline.ingest.sources.receiver import Receiver, plain_qos1_publish


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
    plain = plain_qos1_publish(cmd, raw)
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
    plain = plain_qos1_publish(cmd, raw)
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
