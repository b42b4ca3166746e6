"""The API side of the live stream: bus batches in, each client's bounded buffer out.

One hub per API process listens to the bus and offers every event to the
clients that may see it (indexed by tenant and by shared device, so an event
is matched against its own tenant's clients only) and asked for it. An event
is rendered once per shape and metric selection, however many clients get it.
A client whose buffer is full is cut off (``BoundedBuffer``): its session
closes it with ``SLOW_CONSUMER_CLOSE``; the hub never waits for a client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from wattline.live.buffer import BoundedBuffer
from wattline.live.bus import Bus, MemoryBus
from wattline.live.events import KIND_TEXT, EventKind, LiveEvent
from wattline.live.redelivery import RecentlyStreamed
from wattline.live.subscriptions import Audience, Subscription, wanted_metrics
from wattline.live.wire import Render
from wattline.observability.live_metrics import LiveMetrics

log = logging.getLogger(__name__)

# Looked up once: an enum member read off its class costs about ten times a module
# constant (96 against 10 ns on Python 3.11), and dispatch asks once per event.
_READING, _ALERT = EventKind.READING, EventKind.ALERT
_NO_CLIENTS: frozenset[LiveClient] = frozenset()

# Messages buffered per client. A browser tab reading a few hundred devices at
# one reading each per second has a second of slack at 1,000; a message is a
# few hundred bytes, so the bound is about a quarter of a megabyte per client.
DEFAULT_BUFFER_MESSAGES = 1_000
# The WebSocket close code for a slow consumer (4000-4999: the application's own;
# 4008 mirrors 1008, policy violation). SSE clients see the stream end instead.
SLOW_CONSUMER_CLOSE = 4008


class Outgoing(NamedTuple):
    """One message for a client: its text, and what it is about (for SSE and dedup)."""

    kind: str
    device_id: str | None
    ts_ms: int
    text: str
    # an alert change's alert id (what a catch-up dedups alerts by); None otherwise
    ref: str | None = None


@dataclass(eq=False)
class LiveClient:
    transport: str
    audience: Audience
    render: Render
    buffer: BoundedBuffer[Outgoing]
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    # how the hub routes to it: devices its subscriptions name, and whether one names none
    named: frozenset[str] = frozenset()
    wide: bool = False

    @property
    def slow(self) -> bool:
        return self.buffer.overflowed


class LiveHub:
    def __init__(
        self, bus: Bus, metrics: LiveMetrics, buffer_messages: int = DEFAULT_BUFFER_MESSAGES
    ) -> None:
        self._bus = bus
        self.metrics = metrics
        self.buffer_messages = buffer_messages
        self._by_tenant: dict[str, set[LiveClient]] = {}
        self._by_shared: dict[str, set[LiveClient]] = {}
        # routing: clients by a device their subscriptions name, and by tenant for
        # clients with a subscription naming no device (by type, tag, or everything)
        self._named: dict[str, set[LiveClient]] = {}
        self._wide: dict[str, set[LiveClient]] = {}
        self._streamed = RecentlyStreamed()
        self.running = False

    def connect(self, audience: Audience, render: Render, transport: str) -> LiveClient:
        client = LiveClient(transport, audience, render, BoundedBuffer(self.buffer_messages))
        self._index(client)
        self.metrics.clients.labels(transport).inc()
        return client

    def disconnect(self, client: LiveClient) -> None:
        if self._unindex(client):
            self.metrics.clients.labels(client.transport).dec()
        client.buffer.close()

    def subscribe(self, client: LiveClient, name: str, subscription: Subscription) -> None:
        """Add (or replace) one of the client's subscriptions."""
        client.subscriptions[name] = subscription
        self._route(client)

    def unsubscribe(self, client: LiveClient, name: str) -> bool:
        """End one of the client's subscriptions; False when it had none of that name."""
        if client.subscriptions.pop(name, None) is None:
            return False
        self._route(client)
        return True

    def set_audience(self, client: LiveClient, audience: Audience) -> None:
        """A client's shares changed (granted or revoked since it connected)."""
        if audience == client.audience:
            return
        if self._unindex(client):
            client.audience = audience
            self._index(client)
            self._route(client)

    @property
    def client_count(self) -> int:
        return sum(len(clients) for clients in self._by_tenant.values())

    async def run(self) -> None:
        """Deliver every bus batch until cancelled.

        On the memory bus the publisher dispatches each batch itself, in its own
        turn of the event loop, instead of waking this task for it."""
        self.running = True
        try:
            if isinstance(self._bus, MemoryBus):
                with self._bus.attached(self._deliver):
                    await asyncio.Event().wait()  # until cancelled
            else:
                async for batch in self._bus.listen():
                    self._deliver(batch)
        finally:
            self.running = False

    def _deliver(self, batch: Sequence[LiveEvent]) -> None:
        self.metrics.received.inc(len(batch))
        self.dispatch(batch)

    def close_all(self) -> None:
        """Every client's buffer closed: their sessions end (the server is stopping)."""
        for clients in list(self._by_tenant.values()):
            for client in list(clients):
                self.disconnect(client)

    def dispatch(self, events: Sequence[LiveEvent]) -> None:
        queued = 0
        for event in events:
            if event.kind is _READING and not self._streamed.first_time(event):
                self.metrics.dropped.labels("redelivered").inc()
                continue
            rendered: dict[tuple[Render, frozenset[str]], list[Outgoing]] = {}
            for client in self._candidates(event):
                metrics = wanted_metrics(client.subscriptions.values(), event)
                if metrics is None:
                    continue
                key = (client.render, metrics)
                messages = rendered.get(key)
                if messages is None:
                    messages = rendered[key] = outgoing(event, client.render(event, metrics))
                for message in messages:
                    if not client.buffer.offer(message):
                        self._cut_off(client)
                        break
                    queued += 1
        if queued:
            self.metrics.fanout.inc(queued)

    def _candidates(self, event: LiveEvent) -> list[LiveClient]:
        """The clients that may see the event and have a subscription that could match."""
        wide = self._wide.get(event.tenant_id, _NO_CLIENTS)
        device_id = event.device_id
        if device_id is None:
            return list(wide)
        named = self._named.get(device_id, _NO_CLIENTS)
        sharing = self._by_shared.get(device_id)
        if sharing is None:
            # The common case, no share of this device: its own tenant's clients.
            if not named:
                return list(wide)
            if not wide:
                return [c for c in named if c.audience.may_see(event)]
        shared = {c for c in sharing if c.wide} if sharing else _NO_CLIENTS
        if not named and not shared:
            return list(wide)
        # named: also of another tenant's device (a share, revoked since): check
        return [c for c in wide | named | shared if c.audience.may_see(event)]

    def _route(self, client: LiveClient) -> None:
        self._unroute(client)
        if client.buffer.closed:
            return
        named = {d for s in client.subscriptions.values() for d in s.devices}
        client.named = frozenset(named)
        client.wide = any(not s.devices for s in client.subscriptions.values())
        for device_id in client.named:
            self._named.setdefault(device_id, set()).add(client)
        if client.wide:
            self._wide.setdefault(client.audience.tenant_id, set()).add(client)

    def _unroute(self, client: LiveClient) -> None:
        for device_id in client.named:
            clients = self._named.get(device_id)
            if clients is not None:
                clients.discard(client)
                if not clients:
                    del self._named[device_id]
        if client.wide:
            clients = self._wide.get(client.audience.tenant_id)
            if clients is not None:
                clients.discard(client)
                if not clients:
                    del self._wide[client.audience.tenant_id]
        client.named, client.wide = frozenset(), False

    def _cut_off(self, client: LiveClient) -> None:
        if self._unindex(client):
            self.metrics.clients.labels(client.transport).dec()
            self.metrics.slow_clients.labels(client.transport).inc()
            self.metrics.dropped.labels("slow_client").inc(self.buffer_messages)
            log.info("live: a %s client was cut off as a slow consumer", client.transport)

    def _index(self, client: LiveClient) -> None:
        self._by_tenant.setdefault(client.audience.tenant_id, set()).add(client)
        for device_id in client.audience.shared:
            self._by_shared.setdefault(device_id, set()).add(client)

    def _unindex(self, client: LiveClient) -> bool:
        """Remove the client from the indexes; False when it was not there."""
        clients = self._by_tenant.get(client.audience.tenant_id)
        if clients is None or client not in clients:
            return False
        self._unroute(client)
        clients.discard(client)
        if not clients:
            del self._by_tenant[client.audience.tenant_id]
        for device_id in client.audience.shared:
            sharing = self._by_shared.get(device_id)
            if sharing is not None:
                sharing.discard(client)
                if not sharing:
                    del self._by_shared[device_id]
        return True


def outgoing(event: LiveEvent, texts: list[str]) -> list[Outgoing]:
    ref = None
    if event.kind is _ALERT and event.payload.get("alert_id") is not None:
        ref = str(event.payload["alert_id"])
    kind = KIND_TEXT[event.kind]
    return [Outgoing(kind, event.device_id, event.ts_ms, text, ref) for text in texts]
