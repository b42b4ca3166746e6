"""Committed batches from every collector to the one alert evaluator that leads.

With several collectors, one evaluator holds the "alerts" lease and the others
drop what they are handed; without help the leader would judge only the
batches its own collector committed. With Redis configured, each collector
publishes the part of each committed batch the rules read (readings, statuses,
quarantine notices, last-seen times) on one channel, and every process hands
the batches of *other* processes to its evaluator: the leader evaluates them,
the others drop them as they drop their own. Its own batches reach the local
evaluator directly, so the leader never sees a batch twice.

Like the live bus this is pub/sub, at most once: a batch published while Redis
is away is not evaluated by the leader (counted and logged); absence rules
still fire on the leader's clock.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from wattline.model.events import Committed, OnCommitted, QuarantineNotice
from wattline.model.messages import ConnectionState, Reading, StatusReport

log = logging.getLogger(__name__)

CHANNEL = "wattline:alerts:committed"
# Batches waiting to be published; beyond, a batch is dropped and counted
# (the leader then misses it, as it would while Redis is away).
MAX_PENDING = 1_000
RECONNECT_AFTER_S = 1.0
_TIMEOUT_S = 2.0


def encode(origin: str, event: Committed) -> bytes:
    """The rules' part of a committed batch, as one JSON message."""
    return orjson.dumps(
        {
            "origin": origin,
            "readings": [[r.device_id, r.ts_ms, r.metrics, r.seq] for r in event.readings],
            "statuses": [[s.device_id, s.state.value, s.ts_ms] for s in event.statuses],
            "quarantined": [[q.topic, q.reason, q.received_ms] for q in event.quarantined],
            "seen_ms": event.seen_ms or {},
        }
    )


def decode(data: bytes) -> tuple[str, Committed]:
    """(origin, batch); ValueError, KeyError or TypeError for a malformed message."""
    body: Mapping[str, Any] = orjson.loads(data)
    readings = [
        Reading(str(d), int(ts), {str(k): float(v) for k, v in m.items()}, _seq(seq))
        for d, ts, m, seq in body["readings"]
    ]
    statuses = [StatusReport(str(d), ConnectionState(s), int(ts)) for d, s, ts in body["statuses"]]
    quarantined = [QuarantineNotice(str(t), str(r), int(ms)) for t, r, ms in body["quarantined"]]
    seen = {str(d): int(ms) for d, ms in body["seen_ms"].items()}
    return str(body["origin"]), Committed(
        readings=readings, statuses=statuses, quarantined=quarantined, seen_ms=seen or None
    )


def _seq(value: object) -> int | None:
    return None if value is None else int(str(value))


class AlertRelay:
    """Publishes this process's batches; hands other processes' batches to ``on_remote``."""

    def __init__(  # noqa: PLR0913 - where, who, and what to tell
        self,
        url: str,
        origin: str,
        on_remote: OnCommitted,
        loop: asyncio.AbstractEventLoop,
        *,
        channel: str = CHANNEL,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._url = url
        self._origin = origin
        self._on_remote = on_remote
        self._loop = loop
        self._channel = channel
        self._max_pending = max_pending
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._lock = threading.Lock()
        self._pending = 0
        self.dropped_batches = 0
        self.received_batches = 0
        self.subscribed = asyncio.Event()

    def on_committed(self, event: Committed) -> None:
        """Ingest's listener (committing thread): quick, never raises."""
        if not (event.readings or event.statuses or event.quarantined):
            return
        with self._lock:
            if self._pending >= self._max_pending:
                self.dropped_batches += 1
                return
            self._pending += 1
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, encode(self._origin, event))
        except RuntimeError:  # the loop has closed: the process is stopping
            with self._lock:
                self._pending -= 1

    async def run(self) -> None:
        """Publish and listen until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._publish())
            tasks.create_task(self._listen())

    async def _publish(self) -> None:
        client: Redis = Redis.from_url(
            self._url, socket_timeout=_TIMEOUT_S, socket_connect_timeout=_TIMEOUT_S
        )
        try:
            while True:
                message = await self._queue.get()
                with self._lock:
                    self._pending -= 1
                try:
                    await client.publish(self._channel, message)
                except (RedisError, OSError) as exc:
                    self.dropped_batches += 1
                    log.warning("alert relay: a batch was not published: %s", exc)
        finally:
            await client.aclose()

    async def _listen(self) -> None:
        # a connection of its own without a read timeout: a quiet channel is no error
        client: Redis = Redis.from_url(self._url, socket_connect_timeout=_TIMEOUT_S)
        try:
            while True:
                try:
                    await self._subscribed(client)
                except (RedisError, OSError) as exc:
                    self.subscribed.clear()
                    log.warning("alert relay: Redis subscription lost (%s); retrying", exc)
                    await asyncio.sleep(RECONNECT_AFTER_S)
        finally:
            await client.aclose()

    async def _subscribed(self, client: Redis) -> None:
        async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(self._channel)
            self.subscribed.set()
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                try:
                    origin, event = decode(message["data"])
                except (ValueError, KeyError, TypeError) as exc:
                    log.warning("alert relay: undecodable batch skipped: %s", exc)
                    continue
                if origin == self._origin:
                    continue  # our own: the local evaluator had it already
                self.received_batches += 1
                self._on_remote(event)
