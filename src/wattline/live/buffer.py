"""A client's bounded buffer: the hub offers, the client's sender takes; never grows.

The hub runs on the event loop and must never wait for a client, so ``offer``
does not block: when the buffer is full it refuses, and the buffer is marked
overflowed. The client is then disconnected (a slow consumer) rather than
slowing every other client or holding messages without bound.

While a client is sent a catch-up (readings it missed, straight from the store),
live messages queue behind it for as long as the catch-up takes; ``headroom``
lets the buffer hold that many more for the duration, and until the client has
taken what queued, so a catch-up under load does not cut off the very client
it is for. The bound stays: capacity plus the catch-up's own bound.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class BufferClosedError(Exception):
    """The buffer was closed (overflowed, or the hub stopped): no more messages."""


class BoundedBuffer(Generic[T]):
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("buffer capacity must be at least 1")
        self.capacity = capacity
        self._base_capacity = capacity
        self._headroom = 0  # extra items allowed by the catch-ups in progress
        self._items: deque[T] = deque()
        self._ready = asyncio.Event()
        # set once, when closed: what a sender blocked on a stuck socket is woken by
        self.closed_event = asyncio.Event()
        self.overflowed = False
        self.closed = False

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, item: T) -> bool:
        """Add the item; False (and overflowed) when full, False when closed."""
        if self.closed:
            return False
        if len(self._items) >= self.capacity:
            self.overflowed = True
            self.close()
            return False
        self._items.append(item)
        self._ready.set()
        return True

    @contextlib.contextmanager
    def headroom(self, extra: int) -> Iterator[None]:
        """Hold up to ``extra`` more items while the block runs and until the next take."""
        if extra < 0:
            raise ValueError("headroom must not be negative")
        self._headroom += extra
        self.capacity = self._base_capacity + self._headroom
        try:
            yield
        finally:
            self._headroom -= extra
            # the capacity shrinks back at the next take: what queued meanwhile stays

    def close(self) -> None:
        """No more offers; what is buffered is dropped and a waiting ``take`` raises."""
        self.closed = True
        self._items.clear()
        self._ready.set()
        self.closed_event.set()

    def take_nowait(self) -> list[T]:
        """Everything buffered, oldest first (empty when there is nothing)."""
        items = list(self._items)
        self._items.clear()
        self._ready.clear()
        self.capacity = self._base_capacity + self._headroom
        return items

    async def take(self) -> list[T]:
        """Wait for at least one item and return all buffered, oldest first.

        Raises BufferClosedError once closed."""
        while not self._items:
            if self.closed:
                raise BufferClosedError
            self._ready.clear()
            await self._ready.wait()
        if self.closed:
            raise BufferClosedError
        return self.take_nowait()
