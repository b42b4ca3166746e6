"""The bus over Redis pub/sub: every API process hears every collector.

One channel carries everything; a message is the JSON of one committed
batch's events (``events.encode_batch``), so one Redis round trip per batch,
not per reading. Each API process subscribes once and filters for its own
clients. Redis delivers a channel's messages in the order one connection
published them, and the feed publishes from a single task, so each device's
readings arrive in commit order.

Pub/sub is at-most-once: while an API process is disconnected from Redis it
misses what is published, and its clients catch up from the store (``since``).
Streams would replay, at the cost of trimming and consumer bookkeeping; the
store already is the replay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from wattline.live.events import LiveEvent, decode_batch, encode_batch
from wattline.observability.live_metrics import LiveMetrics

log = logging.getLogger(__name__)

# Every Wattline key and channel in Redis starts with "wattline:".
CHANNEL = "wattline:live:events"
# After Redis goes away, try again this often (a restart takes seconds).
RECONNECT_AFTER_S = 1.0
# A publish must not stall the feed behind a dead server for long: the
# feed's queue is bounded and drops (counted) while Redis is away.
_TIMEOUT_S = 2.0


class RedisBus:
    def __init__(self, url: str, metrics: LiveMetrics, channel: str = CHANNEL) -> None:
        self._url = url
        self._channel = channel
        self._metrics = metrics
        self._client: Redis = Redis.from_url(
            url, socket_timeout=_TIMEOUT_S, socket_connect_timeout=_TIMEOUT_S
        )

    async def publish(self, events: Sequence[LiveEvent]) -> None:
        if not events:
            return
        try:
            await self._client.publish(self._channel, encode_batch(events))
        except (RedisError, OSError) as exc:
            self._metrics.bus_errors.labels("publish").inc()
            self._metrics.dropped.labels("bus_unavailable").inc(len(events))
            log.warning(
                "live bus: %d events not published, Redis unavailable: %s", len(events), exc
            )

    async def listen(self) -> AsyncIterator[Sequence[LiveEvent]]:
        # A connection of its own without a read timeout: a quiet channel is no error.
        client: Redis = Redis.from_url(self._url, socket_connect_timeout=_TIMEOUT_S)
        try:
            while True:
                try:
                    async for batch in self._subscribed(client):
                        yield batch
                except (RedisError, OSError) as exc:
                    self._metrics.bus_errors.labels("listen").inc()
                    log.warning("live bus: Redis subscription lost (%s); retrying", exc)
                    await asyncio.sleep(RECONNECT_AFTER_S)
        finally:
            await client.aclose()

    async def _subscribed(self, client: Redis) -> AsyncIterator[Sequence[LiveEvent]]:
        async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(self._channel)
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                try:
                    yield decode_batch(message["data"])
                except (ValueError, KeyError, TypeError) as exc:
                    self._metrics.bus_errors.labels("decode").inc()
                    log.warning("live bus: undecodable message skipped: %s", exc)

    async def ping(self) -> None:
        await self._client.ping()

    async def close(self) -> None:
        await self._client.aclose()
