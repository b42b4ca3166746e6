"""A client's bounded buffer: the hub offers, the client's sender takes; never grows.

The hub runs on the event loop and must never wait for a client, so ``offer``
does not block: when the buffer is full it refuses, and the buffer is marked
overflowed. The client is then disconnected (a slow consumer) rather than
slowing every other client or holding messages without bound.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class BufferClosedError(Exception):
    """The buffer was closed (overflowed, or the hub stopped): no more messages."""


class BoundedBuffer(Generic[T]):
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("buffer capacity must be at least 1")
        self.capacity = capacity
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
