"""An MQTT connection's bytes split into packets, the common PUBLISH parsed on the way.

The receiver reads its connection through ``scan`` instead of gmqtt's packet
loop. gmqtt wraps each packet in a ``Package``, hands it through its
connection and handler (a debug log call, a handler lookup by name, two clock
reads) and only then to a parser: 6.9 µs a telemetry message on the machine of
docs/benchmarks.md (session 29), against 2.3 µs here for the packet nearly every
device sends, a QoS 1 PUBLISH with a UTF-8 topic and no properties. Every other
packet goes to gmqtt as before, so its meaning (a content type, a topic alias,
another QoS, a CONNACK) is gmqtt's.
"""

from __future__ import annotations

from collections.abc import Callable

# a PUBLISH: the fixed header's first byte, its type and QoS bits (MQTT 5, 3.3.1)
_TYPE_BITS, _PUBLISH = 0xF0, 0x30
_QOS_BITS, _QOS1 = 0x06, 0x02
# the remaining length: a variable byte integer of at most four bytes (1.5.5)
_MAX_SHIFT = 21

# (packet id, topic, payload)
PlainPublish = tuple[int, str, bytes]


def plain_qos1_publish(data: bytes, first: int, start: int, end: int) -> PlainPublish | None:
    """The (packet id, topic, payload) of the PUBLISH in ``data[start:end]`` (the bytes
    after its remaining length; ``first`` its first byte) if it is at QoS 1 with a UTF-8
    topic and no properties; None for any other packet, which gmqtt then parses (and
    judges)."""
    if first & _TYPE_BITS != _PUBLISH or first & _QOS_BITS != _QOS1 or end - start < 2:
        return None
    # Indexing, not int.from_bytes over slices: 0.86 -> 0.68 us a packet.
    topic_end = start + 2 + (data[start] << 8 | data[start + 1])
    # the packet id, then the properties' length, a variable byte integer: 0 is 0x00
    if topic_end == start + 2 or end < topic_end + 3 or data[topic_end + 2]:
        return None
    try:
        topic = data[start + 2 : topic_end].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return data[topic_end] << 8 | data[topic_end + 1], topic, data[topic_end + 3 : end]


def scan(
    data: bytes,
    plain: Callable[[int, str, bytes], object],
    other: Callable[[int, bytes], object],
) -> int:
    """Hand every whole packet at the start of ``data`` on, in order: a plain QoS 1
    PUBLISH to ``plain`` (packet id, topic, payload), any other to ``other`` (its first
    byte, its bytes after the remaining length). Return how many bytes were used (an
    incomplete packet at the end waits for more), or -1 when a remaining length is
    longer than MQTT allows: the stream is broken and the connection must go, as
    gmqtt's own loop does."""
    size, used = len(data), 0
    while size - used >= 2:
        at, length, shift = used + 1, 0, 0
        while True:
            if at >= size:
                return used
            byte = data[at]
            at += 1
            length |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
            if shift > _MAX_SHIFT:
                return -1
        end = at + length
        if end > size:
            break
        first = data[used]
        found = plain_qos1_publish(data, first, at, end)
        if found is None:
            other(first, data[at:end])
        else:
            plain(*found)
        used = end
    return used
