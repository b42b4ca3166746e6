"""WebSocket clients as bare asyncio protocols, for latency benchmarks.

A latency benchmark's clients share the machine with the server they measure,
and a reading that waits for its client's own event loop counts as latency.
100 clients of the ``websockets`` library in one process took about a fifth of
a core at 11,500 readings/s, and each frame went through its reader task, its
queue and a future before its arrival was stamped; on a machine of two cores
the frames of one commit (one per client) were stamped one after the other as
that loop worked through them. Here a connection is a protocol: each receive
is stamped once, as it arrives, and every frame in it is split out of the
bytes in place (RFC 6455: the server's frames are unmasked; a client's are
masked). Pings are answered; nothing is fragmented by the server we measure
(uvicorn sends each message as one frame), so a fragment is an error here.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Callable

_FIN = 0x80
_MASKED = 0x80
_TEXT, _CLOSE, _PING, _PONG = 0x1, 0x8, 0x9, 0xA
_LENGTH_16, _LENGTH_64 = 126, 127
_SMALL = 125

OnText = Callable[[float, bytes], None]


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One masked frame, as a client must send it."""
    size = len(payload)
    if size <= _SMALL:
        header = bytes([_FIN | opcode, _MASKED | size])
    elif size < 1 << 16:
        header = bytes([_FIN | opcode, _MASKED | _LENGTH_16]) + size.to_bytes(2, "big")
    else:
        header = bytes([_FIN | opcode, _MASKED | _LENGTH_64]) + size.to_bytes(8, "big")
    key = os.urandom(4)
    repeated = (key * (size // 4 + 1))[:size]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        size, "big"
    )
    return header + key + masked


class FrameSplitter:
    """The server's frames out of a byte stream, whole ones only: (opcode, payload)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        buffer = self._buffer
        buffer += data
        frames: list[tuple[int, bytes]] = []
        at = 0
        while len(buffer) - at >= 2:
            first, second = buffer[at], buffer[at + 1]
            if not first & _FIN or second & _MASKED:
                raise ValueError("a fragmented or masked frame from the server")
            size, head = second & 0x7F, 2
            if size == _LENGTH_16:
                if len(buffer) - at < 4:
                    break
                size, head = int.from_bytes(buffer[at + 2 : at + 4], "big"), 4
            elif size == _LENGTH_64:
                if len(buffer) - at < 10:
                    break
                size, head = int.from_bytes(buffer[at + 2 : at + 10], "big"), 10
            if len(buffer) - at < head + size:
                break
            frames.append((first & 0x0F, bytes(buffer[at + head : at + head + size])))
            at += head + size
        del buffer[:at]
        return frames


class RawWebSocket(asyncio.Protocol):
    """A client connection: ``opened`` once the server accepts the upgrade, then
    ``on_text(arrival_ms, payload)`` for each text message, every message of one
    receive with that receive's time (epoch ms)."""

    def __init__(self, host: str, port: int, path: str, headers: dict[str, str]) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        self._request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self._response = bytearray()
        self._splitter = FrameSplitter()
        self._transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.on_text: OnText = lambda _ms, _payload: None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        arrived_ms = time.time_ns() / 1e6
        if not self.opened.done():
            self._response += data
            end = self._response.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self._response[: self._response.find(b"\r\n")])
            if b" 101 " not in status:
                self.opened.set_exception(ConnectionError(status.decode(errors="replace")))
                self.close()
                return
            data = bytes(self._response[end + 4 :])
            self.opened.set_result(None)
        for opcode, payload in self._splitter.feed(data):
            if opcode == _TEXT:
                self.on_text(arrived_ms, payload)
            elif opcode == _PING:
                self.send(_PONG, payload)
            elif opcode == _CLOSE:
                self.close()

    def send_text(self, text: str) -> None:
        self.send(_TEXT, text.encode())

    def send(self, opcode: int, payload: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(client_frame(opcode, payload))

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed before the upgrade"))
        if not self.closed.done():
            self.closed.set_result(None)


async def open_raw_websocket(
    host: str, port: int, path: str, headers: dict[str, str]
) -> RawWebSocket:
    loop = asyncio.get_running_loop()
    _transport, protocol = await loop.create_connection(
        lambda: RawWebSocket(host, port, path, headers), host, port
    )
    await protocol.opened
    return protocol
