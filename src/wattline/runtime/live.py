"""The live stream's parts for one process: the bus, the ingest feed, the API hub.

``wattline up`` runs all three in one process over the memory bus;
``wattline collect`` runs the feed and ``wattline serve`` the hub, over Redis
(``WATTLINE_REDIS_URL``), so a reading any collector commits reaches every
client of every API process. With ``WATTLINE_REDIS_URL`` set, ``up`` uses
Redis too, so API processes started beside it see its readings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from prometheus_client import CollectorRegistry

from wattline.config import Settings
from wattline.live.bus import Bus, MemoryBus
from wattline.live.feed import LiveFeed
from wattline.live.hub import LiveHub
from wattline.live.owners import OwnerCache
from wattline.observability.live_metrics import LiveMetrics
from wattline.storage.sql import SqlStore
from wattline.storage.sql.owners import SqlDeviceOwners

log = logging.getLogger("wattline")

# Published but not yet on the bus when the process stops: waited for this long.
DRAIN_TIMEOUT_S = 2.0


def live_metrics(registry: CollectorRegistry) -> LiveMetrics:
    return LiveMetrics(registry)


@contextlib.asynccontextmanager
async def bus(settings: Settings, metrics: LiveMetrics) -> AsyncIterator[Bus]:
    """Redis when WATTLINE_REDIS_URL is set, else in this process."""
    if settings.redis_url is None:
        yield MemoryBus()
        return
    # Imported only when configured: redis is the heaviest import of a default start.
    from wattline.live.redis_bus import RedisBus  # noqa: PLC0415

    redis_bus = RedisBus(settings.redis_url, metrics, settings.live_redis_channel)
    try:
        await redis_bus.ping()
    except Exception as exc:
        # Not fatal: the subscriber retries, and readings are stored whatever the stream does.
        log.warning("live stream: Redis at WATTLINE_REDIS_URL unreachable for now: %s", exc)
    try:
        yield redis_bus
    finally:
        await redis_bus.close()


@contextlib.asynccontextmanager
async def feed(live_bus: Bus, store: SqlStore, metrics: LiveMetrics) -> AsyncIterator[LiveFeed]:
    """Committed batches onto the bus; enter before the collector, so it stops after it."""
    owners = OwnerCache(SqlDeviceOwners(store.engine))
    live_feed = LiveFeed(live_bus, owners, metrics, asyncio.get_running_loop())
    task = asyncio.create_task(live_feed.run(), name="wattline-live-feed")
    try:
        yield live_feed
    finally:
        await live_feed.drain(DRAIN_TIMEOUT_S)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def hub_running(hub: LiveHub) -> AsyncIterator[LiveHub]:
    """Deliver bus events to the hub's clients; enter after the API server, so that at
    stop every client is closed (1001) before the server waits for its connections."""
    task = asyncio.create_task(hub.run(), name="wattline-live-hub")
    try:
        yield hub
    finally:
        hub.close_all()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
