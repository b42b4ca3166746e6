"""The bus between ingest and the API processes: one small interface, two backends.

``publish`` sends the events of one committed batch; ``listen`` yields every
batch published by any process, in the order each publisher sent them. The
memory bus serves one process (``wattline up``); the Redis bus
(``redis_bus.py``) serves collectors and API processes running apart.

The memory bus also hands a batch straight to a listener that attached a
callback (``attached``; the hub does): every hop through the event loop's
ready queue waits for the rest of the loop's turn, and in ``wattline up`` at
half the sustained rate a turn is several milliseconds of WebSocket writes
(docs/benchmarks.md, session 22).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Protocol

from wattline.live.events import LiveEvent

# Batches waiting for a slow listener of the memory bus; the hub takes each
# batch in microseconds, so a full queue means a stalled hub: drop and count.
MEMORY_QUEUE_BATCHES = 10_000

log = logging.getLogger(__name__)

Deliver = Callable[[Sequence[LiveEvent]], None]


class Bus(Protocol):
    async def publish(self, events: Sequence[LiveEvent]) -> None: ...

    def listen(self) -> AsyncIterator[Sequence[LiveEvent]]: ...


class MemoryBus:
    """In-process: every listener gets every batch published after it started listening."""

    def __init__(self, queue_batches: int = MEMORY_QUEUE_BATCHES) -> None:
        self._queue_batches = queue_batches
        self._listeners: list[asyncio.Queue[Sequence[LiveEvent]]] = []
        self._callbacks: list[Deliver] = []
        self.dropped_batches = 0

    async def publish(self, events: Sequence[LiveEvent]) -> None:
        self.publish_now(events)

    def publish_now(self, events: Sequence[LiveEvent]) -> None:
        """``publish`` without a wait: attached listeners get the batch before it returns.

        Called on the event loop's thread, like every listener."""
        if not events:
            return
        for deliver in self._callbacks:
            try:
                deliver(events)
            except Exception:  # one listener's failure is not the publisher's
                log.exception("memory bus: a listener failed on a batch of %d events", len(events))
        for queue in self._listeners:
            try:
                queue.put_nowait(events)
            except asyncio.QueueFull:
                self.dropped_batches += 1

    @contextlib.contextmanager
    def attached(self, deliver: Deliver) -> Iterator[None]:
        """``deliver`` gets every batch published while the block runs, called by the
        publisher itself (on the event loop), in publish order."""
        self._callbacks.append(deliver)
        try:
            yield
        finally:
            self._callbacks.remove(deliver)

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
        return len(self._listeners) + len(self._callbacks)
