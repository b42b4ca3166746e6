"""One contract for every bus: the in-process one and Redis pub/sub (the machine's Redis)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import pytest
from prometheus_client import CollectorRegistry
from redis import Redis
from redis.exceptions import RedisError
from tests.conftest import unavailable

from wattline.live.bus import Bus, MemoryBus
from wattline.live.events import EventKind, LiveEvent
from wattline.live.redis_bus import RedisBus
from wattline.observability.live_metrics import LiveMetrics

REDIS_URL = "redis://127.0.0.1:6379/0"


def event(device: str, ts_ms: int) -> LiveEvent:
    return LiveEvent(
        EventKind.READING, "t1", device, ts_ms, {"metrics": {"w": 1.5}, "seq": ts_ms}, "m", ("x",)
    )


def make_bus(kind: str, channel: str, metrics: LiveMetrics) -> Bus:
    if kind == "memory":
        return MemoryBus()
    try:
        Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except RedisError as exc:
        unavailable(f"no Redis at {REDIS_URL}: {exc}")
    return RedisBus(REDIS_URL, metrics, channel)


async def collect(bus: Bus, into: list[Sequence[LiveEvent]], started: asyncio.Event) -> None:
    listening = bus.listen()
    first = asyncio.ensure_future(anext(listening))
    started.set()
    into.append(await first)
    async for batch in listening:
        into.append(batch)  # noqa: PERF401 - kept one by one: the task is cancelled mid-stream


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_every_listener_gets_every_batch_in_order(kind: str) -> None:
    channel = f"wattline:test:{uuid.uuid4().hex}"
    metrics = LiveMetrics(CollectorRegistry())

    async def scenario() -> None:
        bus = make_bus(kind, channel, metrics)
        received: list[list[Sequence[LiveEvent]]] = [[], []]
        started = [asyncio.Event(), asyncio.Event()]
        listeners = [asyncio.create_task(collect(bus, received[i], started[i])) for i in range(2)]
        for flag in started:
            await flag.wait()
        await asyncio.sleep(0.2)  # Redis: the SUBSCRIBE has reached the server
        if isinstance(bus, RedisBus):  # a message no Wattline wrote is skipped, and counted
            Redis.from_url(REDIS_URL).publish(channel, b"not json")
        batches = [[event("a", i), event("b", i)] for i in range(50)]
        for batch in batches:
            await bus.publish(batch)
        await bus.publish([])  # nothing: no message
        async with asyncio.timeout(10):
            while any(len(r) < len(batches) for r in received):  # noqa: ASYNC110 - waiting on two consumers
                await asyncio.sleep(0.01)
        for listener in listeners:
            listener.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
        close = getattr(bus, "close", None)
        if close is not None:
            await close()
        for got in received:
            assert [list(b) for b in got] == batches

    asyncio.run(scenario())
    if kind == "redis":
        errors = metrics.registry.get_sample_value(
            "wattline_live_bus_errors_total", {"operation": "decode"}
        )
        assert errors == 2  # once by each listener
