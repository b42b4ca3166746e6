"""Pickled objects over a stream socket between two of Wattline's own processes.

The collector and its commit process (ADR 0025) trade a request and a reply
per commit. ``multiprocessing``'s ``Connection`` writes a header and then the
body, and reads the header and then the body, each a system call that leaves
the GIL; in a busy process (``wattline up``: the event loop writing
WebSockets) the calling thread may then wait a switch interval (5 ms) for the
GIL after each one. Here a message is one ``sendall`` and a reply is usually
one ``recv_into``: whatever the other side wrote is taken in one call, and the
frames found in it are unpickled from the buffer.

Both ends are processes Wattline started itself, so pickle's trust model holds.
"""

from __future__ import annotations

import pickle
import select
import socket
import struct
from typing import Any

_HEADER = struct.Struct("!Q")
# Taken per call: a request or a reply usually fits whole.
_RECEIVE_BYTES = 1 << 18


class PickleChannel:
    """One end of a socket carrying length-prefixed pickles, in order.

    ``recv`` raises EOFError when the other end has closed, and ``send`` an
    OSError (BrokenPipeError) when it is gone, as ``Connection`` did."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._received = bytearray()
        self._scratch = bytearray(_RECEIVE_BYTES)

    def send(self, obj: object) -> None:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        self._sock.sendall(_HEADER.pack(len(data)) + data)

    def recv(self) -> Any:
        received = self._received
        while (end := self._whole_frame_end()) is None:
            count = self._sock.recv_into(self._scratch)
            if count == 0:
                raise EOFError("the other end closed the channel")
            received += memoryview(self._scratch)[:count]
        with memoryview(received) as view, view[_HEADER.size : end] as body:
            obj = pickle.loads(body)  # noqa: S301 - our own process wrote it
        del received[:end]
        return obj

    def poll(self, timeout_s: float) -> bool:
        """Whether something can be received within ``timeout_s`` (or the end is there)."""
        if self._whole_frame_end() is not None:
            return True
        readable, _, _ = select.select([self._sock], [], [], timeout_s)
        return bool(readable)

    def _whole_frame_end(self) -> int | None:
        """Where the first frame received ends, once all of it is here."""
        received = self._received
        if len(received) < _HEADER.size:
            return None
        end: int = _HEADER.size + _HEADER.unpack_from(received)[0]
        return end if len(received) >= end else None

    def close(self) -> None:
        self._sock.close()
