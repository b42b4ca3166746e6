"""Committed batches through the feed, the memory bus and the hub, in one event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from wattline.live import wire
from wattline.live.bus import MemoryBus
from wattline.live.events import EventKind, LiveEvent, alert_event, decode_batch, encode_batch
from wattline.live.feed import LiveFeed
from wattline.live.hub import LiveHub
from wattline.live.owners import OwnerCache
from wattline.live.redelivery import RecentlyStreamed
from wattline.live.subscriptions import Audience, Subscription
from wattline.model.events import Committed
from wattline.model.messages import ConnectionState, Hello, Reading, StatusReport
from wattline.observability.live_metrics import LiveMetrics
from wattline.storage.sql.owners import DeviceOwner

OWNERS = {
    "a1": DeviceOwner("ta", "meter", ("roof",)),
    "a2": DeviceOwner("ta", "plug", ()),
    "b1": DeviceOwner("tb", "meter", ()),
}


class Lookup:
    def __init__(self) -> None:
        self.calls: list[set[str]] = []

    def owners(self, device_ids: Iterable[str]) -> dict[str, DeviceOwner]:
        wanted = set(device_ids)
        self.calls.append(wanted)
        return {d: OWNERS[d] for d in wanted if d in OWNERS}


def sample(metrics: LiveMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else float(value)


def test_owner_cache_asks_the_store_once_per_device_until_expiry() -> None:
    now = [0.0]
    lookup = Lookup()
    cache = OwnerCache(lookup, ttl_s=5.0, clock_s=lambda: now[0])
    assert cache.cached(["a1"]) is None
    assert cache.owners(["a1", "zz"]) == {"a1": OWNERS["a1"]}
    assert cache.owners(["a1"]) == {"a1": OWNERS["a1"]}
    assert cache.cached(["a1"]) == {"a1": OWNERS["a1"]}
    assert len(lookup.calls) == 1
    now[0] = 6.0  # expired: a device moved to another tenant is looked up again
    assert cache.cached(["a1"]) is None
    cache.owners(["a1"])
    cache.forget("a1")
    cache.owners(["a1"])
    assert len(lookup.calls) == 3


def test_events_round_trip_through_json() -> None:
    event = LiveEvent(
        EventKind.READING, "ta", "a1", 5, {"metrics": {"p": 1.5}, "seq": 3}, "m", ("x",)
    )
    assert decode_batch(encode_batch([event])) == [event]


def test_an_alert_change_becomes_an_alert_event() -> None:
    @dataclass(frozen=True)
    class Change:
        tenant_id: str
        device_id: str
        ts_ms: int
        severity: str
        value: float

    event = alert_event(Change("ta", "a1", 9, "critical", 9.5))
    assert (event.kind, event.tenant_id, event.device_id, event.ts_ms) == (
        EventKind.ALERT,
        "ta",
        "a1",
        9,
    )
    assert event.payload["severity"] == "critical"
    [text] = wire.wattline(event, frozenset())
    assert orjson.loads(text)["alert"]["value"] == 9.5


def committed(*readings: Reading) -> Committed:
    return Committed(readings=readings, seen_ms={r.device_id: r.ts_ms for r in readings})


async def flow(
    max_pending: int = 100, buffer_messages: int = 100
) -> tuple[LiveFeed, LiveHub, LiveMetrics, asyncio.Task[None], asyncio.Task[None]]:
    metrics = LiveMetrics(CollectorRegistry())
    bus = MemoryBus()
    feed = LiveFeed(
        bus, OwnerCache(Lookup()), metrics, asyncio.get_running_loop(), max_pending=max_pending
    )
    hub = LiveHub(bus, metrics, buffer_messages)
    hub_task = asyncio.create_task(hub.run())
    feed_task = asyncio.create_task(feed.run())
    await asyncio.sleep(0)  # both tasks run to their first wait: the hub is listening
    assert bus.listening == 1
    return feed, hub, metrics, feed_task, hub_task


async def eventually(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():  # noqa: ASYNC110 - a test polling the hub's counters
            await asyncio.sleep(0.01)


async def stop(*tasks: asyncio.Task[None]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def texts(client_buffer_items: list) -> list[dict]:  # type: ignore[type-arg]
    return [orjson.loads(m.text) for m in client_buffer_items]


def test_each_client_gets_its_tenants_matching_events_in_order() -> None:
    async def scenario() -> None:
        feed, hub, metrics, *tasks = await flow()
        everything = hub.connect(Audience("ta"), wire.wattline, "websocket")
        hub.subscribe(everything, "all", Subscription())
        plugs = hub.connect(Audience("ta"), wire.wattline, "websocket")
        hub.subscribe(plugs, "p", Subscription(types=frozenset({"plug"}), metrics=frozenset({"w"})))
        other = hub.connect(Audience("tb"), wire.wattline, "websocket")
        hub.subscribe(other, "all", Subscription())
        guest = hub.connect(Audience("tb", frozenset({"a2"})), wire.wattline, "sse")
        hub.subscribe(guest, "all", Subscription())
        assert sample(metrics, "wattline_live_clients", transport="websocket") == 3

        # from another thread, as the committer calls it
        def commit() -> None:
            for i in range(3):
                feed.on_committed(
                    committed(
                        Reading("a1", i, {"w": 1.0}, i), Reading("a2", i, {"w": 2.0, "v": 3.0}, i)
                    )
                )
            feed.on_committed(
                Committed(
                    hellos=[Hello("a1", "meter", "1.0")],
                    statuses=[StatusReport("a2", ConnectionState.OFFLINE, 7)],
                    seen_ms={"a1": 8},
                )
            )

        thread = threading.Thread(target=commit)
        thread.start()
        thread.join()
        await feed.drain(5)
        await eventually(lambda: sample(metrics, "wattline_live_bus_received_events_total") == 8)

        got = texts(everything.buffer.take_nowait())
        assert [(m["type"], m["device_id"], m["ts_ms"]) for m in got] == [
            ("reading", "a1", 0),
            ("reading", "a2", 0),
            ("reading", "a1", 1),
            ("reading", "a2", 1),
            ("reading", "a1", 2),
            ("reading", "a2", 2),
            ("status", "a1", 8),
            ("status", "a2", 7),
        ]
        assert got[6]["hello"]["firmware_version"] == "1.0"
        assert got[7]["state"] == "offline"
        plug_readings = [m for m in texts(plugs.buffer.take_nowait()) if m["type"] == "reading"]
        assert [m["metrics"] for m in plug_readings] == [
            {"w": 2.0}
        ] * 3  # only the metric asked for
        assert other.buffer.take_nowait() == []  # another tenant's devices: nothing
        shared = texts(guest.buffer.take_nowait())
        assert {m["device_id"] for m in shared} == {"a2"}  # only the device shared with them
        await stop(*tasks)

    asyncio.run(scenario())


def test_a_slow_client_is_cut_off_and_the_others_keep_receiving() -> None:
    async def scenario() -> None:
        _feed, hub, metrics, *tasks = await flow(buffer_messages=5)
        slow = hub.connect(Audience("ta"), wire.wattline, "websocket")
        hub.subscribe(slow, "all", Subscription())
        fast = hub.connect(Audience("ta"), wire.wattline, "websocket")
        hub.subscribe(fast, "all", Subscription())
        received: list[str] = []
        for i in range(20):
            hub.dispatch(
                [LiveEvent(EventKind.READING, "ta", "a1", i, {"metrics": {"w": 1.0}, "seq": i})]
            )
            received.extend(m.text for m in fast.buffer.take_nowait())
        assert slow.slow
        assert len(slow.buffer) == 0
        assert len(received) == 20
        assert hub.client_count == 1
        assert (
            sample(metrics, "wattline_live_slow_clients_disconnected_total", transport="websocket")
            == 1
        )
        hub.disconnect(slow)  # the session's own clean-up: counted once
        assert sample(metrics, "wattline_live_clients", transport="websocket") == 1
        await stop(*tasks)

    asyncio.run(scenario())


def test_the_listener_drops_and_counts_when_the_hand_off_is_full_and_never_raises() -> None:
    async def scenario() -> None:
        feed, _hub, metrics, feed_task, hub_task = await flow(max_pending=2)
        feed_task.cancel()  # nothing publishes: the hand-off fills
        await asyncio.gather(feed_task, return_exceptions=True)
        for i in range(5):
            feed.on_committed(
                committed(Reading("a1", i, {"w": 1.0}, i), Reading("a2", i, {"w": 1.0}))
            )
        assert feed.pending == 2
        assert sample(metrics, "wattline_live_messages_dropped_total", reason="feed_full") == 6
        feed.on_committed(Committed())  # nothing to tell: not even queued
        assert feed.pending == 2
        await stop(hub_task)

    asyncio.run(scenario())


def test_on_the_memory_bus_a_batch_reaches_the_clients_in_the_turn_that_receives_it() -> None:
    async def scenario() -> None:
        feed, hub, _metrics, *tasks = await flow()
        client = hub.connect(Audience("ta"), wire.wattline, "websocket")
        hub.subscribe(client, "all", Subscription())
        feed.on_committed(committed(Reading("a1", 1, {"w": 1.0})))  # its owner looked up
        await eventually(lambda: len(client.buffer) == 1)
        client.buffer.take_nowait()

        feed.on_committed(committed(Reading("a1", 2, {"w": 2.0})))
        await asyncio.sleep(0)  # one turn of the loop: the hand-over runs, nothing after it
        assert [m["ts_ms"] for m in texts(client.buffer.take_nowait())] == [2]
        assert feed.pending == 0
        await stop(*tasks)

    asyncio.run(scenario())


class HeldLookup(Lookup):
    """A store read that waits until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.go = threading.Event()

    def owners(self, device_ids: Iterable[str]) -> dict[str, DeviceOwner]:
        self.go.wait(5)
        return super().owners(device_ids)


def test_a_batch_waiting_for_an_owner_lookup_is_not_overtaken() -> None:
    async def scenario() -> None:
        metrics = LiveMetrics(CollectorRegistry())
        bus = MemoryBus()
        lookup = HeldLookup()
        owners = OwnerCache(lookup)
        lookup.go.set()
        owners.owners(["a1"])  # cached: its batches could go at once
        lookup.go.clear()
        feed = LiveFeed(bus, owners, metrics, asyncio.get_running_loop())
        hub = LiveHub(bus, metrics, 100)
        tasks = [asyncio.create_task(hub.run()), asyncio.create_task(feed.run())]
        await asyncio.sleep(0)
        client = hub.connect(Audience("ta"), wire.wattline, "websocket")
        hub.subscribe(client, "all", Subscription())

        feed.on_committed(committed(Reading("a2", 1, {"w": 1.0})))  # a2: a store read
        await asyncio.sleep(0.05)  # the feed's task has taken it and waits for the read
        assert feed.pending == 1
        feed.on_committed(committed(Reading("a1", 2, {"w": 2.0})))
        feed.on_committed(committed(Reading("a1", 3, {"w": 3.0})))
        await asyncio.sleep(0.1)
        assert len(client.buffer) == 0  # the later, cached batches wait their turn
        lookup.go.set()
        await eventually(lambda: len(client.buffer) == 3)
        got = [(m["device_id"], m["ts_ms"]) for m in texts(client.buffer.take_nowait())]
        assert got == [("a2", 1), ("a1", 2), ("a1", 3)]
        await feed.drain(5)
        assert feed.pending == 0
        # caught up: the next batch goes at once again
        feed.on_committed(committed(Reading("a1", 4, {"w": 4.0})))
        await asyncio.sleep(0)
        assert [m["ts_ms"] for m in texts(client.buffer.take_nowait())] == [4]
        await stop(*tasks)

    asyncio.run(scenario())


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(
                st.sampled_from(["a1", "a2", "b1", "zz"]), min_size=1, max_size=3, unique=True
            ),
            st.integers(min_value=0, max_value=4),  # loop turns after it; 4: 2 ms
        ),
        min_size=1,
        max_size=12,
    )
)
def test_readings_reach_a_client_in_commit_order_whichever_way_each_batch_goes(
    batches: list[tuple[list[str], int]],
) -> None:
    """Batches with every owner cached go at once, others through the feed's task (a
    store read in a thread); interleaved any way, a client sees commit order."""

    async def scenario() -> None:
        feed, hub, _metrics, *tasks = await flow(max_pending=1_000)
        client = hub.connect(Audience("ta"), wire.wattline, "websocket")
        hub.subscribe(client, "all", Subscription())
        expected: list[tuple[str, int]] = []
        for ts, (devices, pause) in enumerate(batches):
            feed.on_committed(committed(*(Reading(d, ts, {"w": 1.0}) for d in devices)))
            expected += [(d, ts) for d in devices if d in OWNERS and OWNERS[d].tenant_id == "ta"]
            if pause == 4:
                await asyncio.sleep(0.002)
            for _ in range(pause % 4):
                await asyncio.sleep(0)
        await feed.drain(5)
        await eventually(lambda: feed.pending == 0)
        got = [(m["device_id"], m["ts_ms"]) for m in texts(client.buffer.take_nowait())]
        assert got == expected
        await stop(*tasks)

    asyncio.run(scenario())


def test_the_hub_detaches_from_the_memory_bus_when_it_stops() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        hub = LiveHub(bus, LiveMetrics(CollectorRegistry()), 10)
        task = asyncio.create_task(hub.run())
        await asyncio.sleep(0)
        assert (bus.listening, hub.running) == (1, True)
        await stop(task)
        assert (bus.listening, hub.running) == (0, False)

    asyncio.run(scenario())


def test_a_failing_listener_of_the_memory_bus_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = MemoryBus()
    got: list[int] = []

    def broken(events: object) -> None:
        raise RuntimeError("boom")

    event = LiveEvent(EventKind.READING, "ta", "a1", 7, {"metrics": {"w": 1.0}})
    with bus.attached(broken), bus.attached(lambda events: got.extend(e.ts_ms for e in events)):
        bus.publish_now([event])
        bus.publish_now([])  # nothing: nobody is called
    bus.publish_now([event])  # detached: nobody hears it
    assert got == [7]
    assert bus.listening == 0
    assert "a listener failed" in caplog.text


def test_a_listener_called_after_the_loop_closed_drops_quietly() -> None:
    metrics = LiveMetrics(CollectorRegistry())
    loop = asyncio.new_event_loop()
    feed = LiveFeed(MemoryBus(), OwnerCache(Lookup()), metrics, loop)
    loop.close()
    feed.on_committed(committed(Reading("a1", 1, {"w": 1.0})))
    assert feed.pending == 0
    assert sample(metrics, "wattline_live_messages_dropped_total", reason="feed_full") == 1


@pytest.mark.parametrize(
    ("render", "metrics", "expected"),
    [
        (
            wire.smart_solar,
            {"power_w": 5.0, "custom": 1.0},
            [
                {
                    "device_id": "a1",
                    "data_type": "power",
                    "value": 5.0,
                    "timestamp": "1970-01-01T00:00:01.000Z",
                },
                {
                    "device_id": "a1",
                    "data_type": "custom",
                    "value": 1.0,
                    "timestamp": "1970-01-01T00:00:01.000Z",
                },
            ],
        ),
        (
            wire.hyper_volt,
            {"temperature_c": 21.5, "power_w": 5.0},
            [
                {
                    "sensor_type": "temperature",
                    "location": "a1",
                    "value": 21.5,
                    "timestamp": "1970-01-01T00:00:01.000Z",
                }
            ],
        ),
    ],
)
def test_the_seed_shapes(
    render: wire.Render, metrics: dict[str, float], expected: list[dict]
) -> None:  # type: ignore[type-arg]
    event = LiveEvent(EventKind.READING, "ta", "a1", 1000, {"metrics": metrics, "seq": None})
    assert [orjson.loads(t) for t in render(event, frozenset())] == expected


def test_a_redelivered_reading_is_streamed_once_and_a_correction_again() -> None:
    async def scenario() -> None:
        _feed, hub, metrics, *tasks = await flow()
        client = hub.connect(Audience("ta"), wire.wattline, "websocket")
        hub.subscribe(client, "all", Subscription())

        def event(ts_ms: int, value: float) -> LiveEvent:
            return LiveEvent(
                EventKind.READING, "ta", "a1", ts_ms, {"metrics": {"w": value}, "seq": 1}
            )

        hub.dispatch([event(1, 1.0), event(2, 1.0)])
        hub.dispatch([event(1, 1.0), event(2, 1.0)])  # a QoS 1 redelivery
        hub.dispatch([event(2, 5.0)])  # a correction: a new value for a stored time
        got = [(m["ts_ms"], m["metrics"]["w"]) for m in texts(client.buffer.take_nowait())]
        assert got == [(1, 1.0), (2, 1.0), (2, 5.0)]
        assert sample(metrics, "wattline_live_messages_dropped_total", reason="redelivered") == 2
        await stop(*tasks)

    asyncio.run(scenario())


def test_recently_streamed_forgets_the_oldest_beyond_its_capacity() -> None:
    seen = RecentlyStreamed(capacity=2)
    events = [
        LiveEvent(EventKind.READING, "t", "d", ts, {"metrics": {"w": 1.0}}) for ts in (1, 2, 3)
    ]
    assert [seen.first_time(e) for e in events] == [True, True, True]
    assert len(seen) == 2
    assert seen.first_time(events[0])  # forgotten
    assert not seen.first_time(events[2])


def test_routing_by_named_device_checks_visibility_and_follows_unsubscribe() -> None:
    async def scenario() -> None:
        _feed, hub, _metrics, *tasks = await flow()
        named = hub.connect(Audience("ta"), wire.wattline, "websocket")
        hub.subscribe(named, "one", Subscription(devices=frozenset({"a1"})))
        guest = hub.connect(Audience("tb", frozenset({"a2"})), wire.wattline, "websocket")
        hub.subscribe(guest, "shared", Subscription(devices=frozenset({"a2"})))

        def event(device: str, tenant: str, ts_ms: int) -> LiveEvent:
            payload = {"metrics": {"w": 1.0}, "seq": ts_ms}
            return LiveEvent(EventKind.READING, tenant, device, ts_ms, payload)

        hub.dispatch([event("a1", "ta", 1), event("a2", "ta", 2)])
        # a1 re-registered in another tenant: its subscriber no longer sees it
        hub.dispatch([event("a1", "tc", 3)])
        assert [m.ts_ms for m in named.buffer.take_nowait()] == [1]
        assert [m.ts_ms for m in guest.buffer.take_nowait()] == [2]
        assert hub.unsubscribe(named, "one")
        assert not hub.unsubscribe(named, "one")
        hub.dispatch([event("a1", "ta", 4)])
        assert named.buffer.take_nowait() == []
        hub.set_audience(guest, Audience("tb"))  # the share was revoked
        hub.dispatch([event("a2", "ta", 5)])
        assert guest.buffer.take_nowait() == []
        await stop(*tasks)

    asyncio.run(scenario())


def test_wait_published_returns_once_the_batch_is_on_the_bus() -> None:
    async def scenario() -> None:
        feed, _hub, metrics, feed_task, hub_task = await flow()

        # the committing thread: hand over, then wait (the loop keeps running meanwhile)
        def commit_then_wait() -> tuple[bool, float]:
            feed.on_committed(committed(Reading("a1", 1, {"w": 1.0})))
            waited = feed.wait_published(5.0)
            return waited, sample(metrics, "wattline_live_bus_published_events_total")

        assert await asyncio.to_thread(commit_then_wait) == (True, 1.0)
        assert await asyncio.to_thread(feed.wait_published, 0.0)  # nothing pending: at once
        await stop(feed_task, hub_task)

    asyncio.run(scenario())


def test_wait_published_gives_up_once_and_then_waits_no_more_until_caught_up() -> None:
    async def scenario() -> None:
        feed, _hub, _metrics, feed_task, hub_task = await flow()
        feed_task.cancel()  # the bus stalls: nothing is published
        await asyncio.gather(feed_task, return_exceptions=True)
        feed.on_committed(committed(Reading("a1", 1, {"w": 1.0})))
        assert not await asyncio.to_thread(feed.wait_published, 0.05)
        started = time.monotonic()
        feed.on_committed(committed(Reading("a1", 2, {"w": 1.0})))
        assert not await asyncio.to_thread(feed.wait_published, 5.0)  # behind: no wait
        assert time.monotonic() - started < 1.0
        restarted = asyncio.create_task(feed.run())  # the bus is back; the feed drains
        await eventually(lambda: feed.pending == 0)
        feed.on_committed(committed(Reading("a1", 3, {"w": 1.0})))
        assert await asyncio.to_thread(feed.wait_published, 5.0)  # waiting again
        await stop(restarted, hub_task)

    asyncio.run(scenario())
