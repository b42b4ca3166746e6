"""The ingest side of the live stream: committed batches in, bus messages out.

``on_committed`` is ingest's listener and runs on the committing thread, so it
only hands the batch to the event loop through a bounded hand-off: when
``max_pending`` batches are already waiting it drops the batch and counts it
(``wattline_live_messages_dropped_total{reason="feed_full"}``); it never
blocks and never raises. A task on the loop then looks up each device's owner
(``OwnerCache``, in a worker thread on a cache miss) and publishes the batch's
events on the bus, one bus message per batch, in commit order.

On the memory bus (``wattline up``) a batch is published in the loop turn that
receives it, when nothing is ahead of it and every owner is cached: the hub
then dispatches it in that same turn (``MemoryBus.attached``). Through the task
and the hub's own task instead, a batch crossed the loop's ready queue three
times, and each crossing waits for the rest of a turn that, at half the
sustained rate, is mostly WebSocket writes (docs/benchmarks.md, session 22).

A collector calls ``wait_published`` after a commit and before acknowledging
the batch to the broker: killed in between, it has not acknowledged, so the
broker delivers the messages again and the batch reaches the bus then (stored
once, streamed once: the hubs skip a reading they streamed). The wait is
bounded (``ACK_WAIT_S``); once it times out (the bus stalls), the collector
stops waiting until the feed has caught up, so a bus outage never holds
ingest back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable

from wattline.live.bus import Bus, MemoryBus
from wattline.live.events import AlertChangeLike, LiveEvent, alert_event, events_of
from wattline.live.owners import OwnerCache
from wattline.model.events import Committed
from wattline.observability.live_metrics import LiveMetrics

log = logging.getLogger(__name__)

# Committed batches waiting for the publisher task. A batch is at most 2,000
# readings, and the publisher keeps up with ingest by a wide margin (one bus
# message per batch), so this is only reached when the bus stalls.
DEFAULT_MAX_PENDING = 1_000
# Queued batches sent as one bus message at most: a few hundred kB of JSON.
COALESCE_BATCHES = 100
# How long a collector waits for its committed batch to be on the bus before it
# acknowledges the batch anyway (a publish normally takes a millisecond).
ACK_WAIT_S = 1.0


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class LiveFeed:
    def __init__(  # noqa: PLR0913 - its parts and limits
        self,
        bus: Bus,
        owners: OwnerCache,
        metrics: LiveMetrics,
        loop: asyncio.AbstractEventLoop,
        *,
        max_pending: int = DEFAULT_MAX_PENDING,
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self._bus = bus
        # the bus a batch can be handed to without a wait, or None (Redis)
        self._direct = bus if isinstance(bus, MemoryBus) else None
        self._owners = owners
        self._metrics = metrics
        self._loop = loop
        self._max_pending = max_pending
        self._clock_ms = clock_ms
        self._queue: asyncio.Queue[Committed | LiveEvent] = asyncio.Queue()
        self._lock = threading.Lock()
        self._pending = 0
        # items handed over, and items published (or given up on): wait_published
        self._handed = 0
        self._finished = 0
        self._settled = threading.Condition(self._lock)
        # a wait timed out: no waiting until the feed has caught up again
        self._behind = False
        # ``run`` holds items it has not published yet: later ones must queue behind them
        self._publishing = False

    def on_committed(self, committed: Committed) -> None:
        """Ingest's listener: hand the batch over, or drop it; quick, never raises."""
        if committed.readings or committed.statuses or committed.hellos:
            self._hand_over(committed, len(committed.readings) + len(committed.statuses))

    def on_alert_change(self, change: AlertChangeLike) -> None:
        """The alert evaluator's listener: the change goes out as an ``alert`` event."""
        try:
            event = alert_event(change)
        except (TypeError, ValueError):
            log.exception("live feed: alert change not serialisable: %r", change)
            return
        self._hand_over(event, 1)

    def publish_event(self, event: LiveEvent) -> None:
        """Any other event (already owned by a tenant); from any thread, never blocks."""
        self._hand_over(event, 1)

    def _hand_over(self, item: Committed | LiveEvent, size: int) -> None:
        with self._lock:
            if self._pending >= self._max_pending:
                self._metrics.dropped.labels("feed_full").inc(size)
                return
            self._pending += 1
            self._handed += 1
        try:
            self._loop.call_soon_threadsafe(self._arrive, item)
        except RuntimeError:  # the loop has closed: the process is stopping
            self._settle(1)
            self._metrics.dropped.labels("feed_full").inc(size)

    def _arrive(self, item: Committed | LiveEvent) -> None:
        """On the loop: published at once when it can be without a wait and without
        overtaking anything (see the module's docstring); else queued for ``run``."""
        if self._direct is not None and not self._publishing and self._queue.empty():
            events = self._events_at_once(item)
            if events is not None:
                try:
                    if events:
                        self._direct.publish_now(events)
                        self._metrics.published.inc(len(events))
                except Exception:  # one bad batch must not end the live stream
                    log.exception("live feed: a batch was not published")
                finally:
                    self._settle(1)
                return
        self._queue.put_nowait(item)

    def _events_at_once(self, item: Committed | LiveEvent) -> list[LiveEvent] | None:
        """The item's events, or None when building them needs a store read."""
        if isinstance(item, LiveEvent):
            return [item]
        owners = self._owners.cached(_device_ids(item))
        if owners is None:
            return None
        return events_of(item, owners, self._clock_ms())

    def _settle(self, count: int) -> None:
        with self._settled:
            self._pending -= count
            self._finished += count
            if self._pending == 0:
                self._behind = False
            self._settled.notify_all()

    def wait_published(self, timeout_s: float = ACK_WAIT_S) -> bool:
        """Block (a committing thread, never the loop) until everything handed over so
        far is published or given up on; False when that took longer than ``timeout_s``,
        or when an earlier wait timed out and the feed has not caught up since."""
        with self._settled:
            if self._behind:
                return False
            target = self._handed
            done = self._settled.wait_for(lambda: self._finished >= target, timeout_s)
            if not done:
                self._behind = True
                log.warning("live feed: the bus is slow; acknowledging without waiting for it")
            return done

    def forget(self, device_id: str) -> None:
        """A deleted device: its owner is looked up again if it ever returns."""
        self._owners.forget(device_id)

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    async def run(self) -> None:
        """Publish every handed-over batch, in order, until cancelled.

        Batches that queued up while the previous publish was on its way go out
        together in one bus message (at most ``COALESCE_BATCHES``): a slow bus
        costs fewer round trips instead of a growing queue."""
        while True:
            items = [await self._queue.get()]
            self._publishing = True
            while len(items) < COALESCE_BATCHES and not self._queue.empty():
                items.append(self._queue.get_nowait())
            try:
                await self._publish(items)
            except Exception:  # one bad batch must not end the live stream
                log.exception("live feed: %d batches were not published", len(items))
            finally:
                self._publishing = False
                self._settle(len(items))
                for _ in items:
                    self._queue.task_done()

    async def drain(self, timeout_s: float) -> None:
        """Wait (at most ``timeout_s``) until everything handed over is published."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout_s)

    async def _publish(self, items: list[Committed | LiveEvent]) -> None:
        events: list[LiveEvent] = []
        for item in items:
            if isinstance(item, LiveEvent):
                events.append(item)
            else:
                events.extend(await self._events(item))
        if events:
            await self._bus.publish(events)
            self._metrics.published.inc(len(events))

    async def _events(self, committed: Committed) -> list[LiveEvent]:
        device_ids = _device_ids(committed)
        owners = self._owners.cached(device_ids)
        if owners is None:  # a store read: off the event loop
            owners = await asyncio.to_thread(self._owners.owners, device_ids)
        return events_of(committed, owners, self._clock_ms())


def _device_ids(committed: Committed) -> set[str]:
    device_ids = {r.device_id for r in committed.readings}
    device_ids.update(s.device_id for s in committed.statuses)
    device_ids.update(h.device_id for h in committed.hellos)
    return device_ids
