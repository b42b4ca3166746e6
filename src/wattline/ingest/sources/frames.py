"""Length-prefixed pickle frames between the collector and its MQTT receiver process.

Both ends are Wattline's own processes, started by the collector, so pickle's
trust model holds; nothing from the network is unpickled (payloads travel as
bytes inside the frame).
"""

from __future__ import annotations

import asyncio
import pickle
import struct
from typing import IO, Any

# receiver -> collector
MESSAGES = "m"  # ("m", [Record, ...])
CONNECTED = "c"  # ("c", generation)
DISCONNECTED = "d"  # ("d", generation)
# collector -> receiver
CONFIG = "g"  # ("g", {...}): the first frame; on stdin, not argv, so no password shows in ps
ACK = "a"  # ("a", [key, ...])
STOP = "s"  # ("s",)

# (key, topic, payload, received_ms, content_type); key 0 for QoS 0 (nothing to acknowledge)
Record = tuple[int, str, bytes, int, str | None]
Frame = tuple[Any, ...]

_HEADER = struct.Struct("!I")


def encode(frame: Frame) -> bytes:
    data = pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


def write(out: IO[bytes], frame: Frame) -> None:
    out.write(encode(frame))
    out.flush()


def read(source: IO[bytes]) -> Frame | None:
    """The next frame, or None at end of file (the other side is gone)."""
    header = _read_exactly(source, _HEADER.size)
    if header is None:
        return None
    data = _read_exactly(source, _HEADER.unpack(header)[0])
    if data is None:
        return None
    frame: Frame = pickle.loads(data)  # noqa: S301 - written by our own child process
    return frame


async def read_async(reader: asyncio.StreamReader) -> Frame | None:
    try:
        header = await reader.readexactly(_HEADER.size)
        data = await reader.readexactly(_HEADER.unpack(header)[0])
    except asyncio.IncompleteReadError:
        return None
    frame: Frame = pickle.loads(data)  # noqa: S301 - written by our own parent process
    return frame


def _read_exactly(source: IO[bytes], size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = source.read(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)
