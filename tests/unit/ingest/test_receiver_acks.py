"""The MQTT 5 receiver writes PUBACKs only for committed messages of the live connection."""

from __future__ import annotations

import asyncio
import io

from wattline.ingest.sources import frames
from wattline.ingest.sources.receiver import Receiver

CONFIG = {
    "host": "127.0.0.1",
    "port": 1883,
    "client_id": "c",
    "topics": ["iot/+/telemetry"],
    "session_expiry_s": 60,
    "receive_maximum": 100,
}


class FakeConnection:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def send_package(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return False


class FakeClient:
    def __init__(self, connection: FakeConnection) -> None:
        self._connection = connection
        self.subscribed: list[object] = []

    def subscribe(self, subscriptions: object) -> None:
        self.subscribed.append(subscriptions)


def connected_receiver() -> tuple[Receiver, FakeConnection, io.BytesIO]:
    out = io.BytesIO()
    receiver = Receiver(CONFIG, out)
    connection = FakeConnection()
    receiver._on_connect(FakeClient(connection), 0, 0, {})
    return receiver, connection, out


def sent_frames(out: io.BytesIO) -> list[frames.Frame]:
    out.seek(0)
    found = []
    while (frame := frames.read(out)) is not None:
        found.append(frame)
    return found


def receive(receiver: Receiver, mids: list[int]) -> list[int]:
    """Deliver QoS 1 messages; return the keys the collector was given."""

    async def run() -> None:
        for mid in mids:
            receiver._on_qos1_message(mid, b"{}", "iot/d/telemetry", {})
        await asyncio.sleep(0)  # the scheduled flush

    asyncio.run(run())
    keys = []
    for frame in sent_frames(receiver._out):  # type: ignore[arg-type]
        if frame[0] == frames.MESSAGES:
            keys.extend(record[0] for record in frame[1])
    return keys


def test_committed_messages_are_acknowledged_in_one_write() -> None:
    receiver, connection, _ = connected_receiver()
    keys = receive(receiver, [1, 2, 3])
    receiver._acknowledge(keys)
    assert connection.writes == [b"\x40\x02\x00\x01\x40\x02\x00\x02\x40\x02\x00\x03"]


def test_nothing_uncommitted_is_acknowledged_and_nothing_twice() -> None:
    receiver, connection, _ = connected_receiver()
    keys = receive(receiver, [7, 8])
    receiver._acknowledge(keys[:1])
    receiver._acknowledge(keys[:1])
    assert connection.writes == [b"\x40\x02\x00\x07"]


def test_a_message_from_an_earlier_connection_is_never_acknowledged_on_a_later_one() -> None:
    receiver, first, _ = connected_receiver()
    keys = receive(receiver, [5])
    receiver._on_disconnect(None, None)
    second = FakeConnection()
    receiver._on_connect(FakeClient(second), 0, 0, {})
    receive(receiver, [5])  # the broker redelivers it, same packet id, new connection
    receiver._acknowledge(keys)
    assert first.writes == []
    assert second.writes == []  # only the second copy's own key may acknowledge it
