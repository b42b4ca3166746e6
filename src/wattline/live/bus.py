"""The bus between ingest and the API processes: one small interface, two backends.

``publish`` sends the events of one committed batch; ``listen`` yields every
batch published by any process, in the order each publisher sent them. The
memory bus serves one process (``wattline up``); the Redis bus
(``redis_bus.py``) serves collectors and API processes running apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from wattline.live.events import LiveEvent

# Batches waiting for a slow listener of the memory bus; the hub takes each
# batch in microseconds, so a full queue means a stalled hub: drop and count.
MEMORY_QUEUE_BATCHES = 10_000


class Bus(Protocol):
    async def publish(self, events: Sequence[LiveEvent]) -> None: ...

    def listen(self) -> AsyncIterator[Sequence[LiveEvent]]: ...


class MemoryBus:
    """In-process: every listener gets every batch published after it started listening."""

    def __init__(self, queue_batches: int = MEMORY_QUEUE_BATCHES) -> None:
        self._queue_batches = queue_batches
        self._listeners: list[asyncio.Queue[Sequence[LiveEvent]]] = []
        self.dropped_batches = 0

    async def publish(self, events: Sequence[LiveEvent]) -> None:
        if not events:
            return
        for queue in self._listeners:
            try:
                queue.put_nowait(events)
            except asyncio.QueueFull:
                self.dropped_batches += 1

    async def listen(self) -> AsyncIterator[Sequence[LiveEvent]]:
        queue: asyncio.Queue[Sequence[LiveEvent]] = asyncio.Queue(self._queue_batches)
        self._listeners.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._listeners.remove(queue)

    @property
    def listening(self) -> int:
        return len(self._listeners)
