"""A real uvicorn server with the live stream, on a thread of its own, for the tests."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import uvicorn
from prometheus_client import CollectorRegistry
from tests.conftest import free_port, port_open
from tests.integration.security.tenants import ADMIN_TOKEN, PRINCIPALS, FixedTokens

from wattline.api.app import create_app
from wattline.api.services import ApiServices
from wattline.live.bus import Bus, MemoryBus
from wattline.live.events import LiveEvent
from wattline.live.feed import LiveFeed
from wattline.live.hub import LiveHub
from wattline.live.owners import OwnerCache
from wattline.model.events import Committed
from wattline.observability.live_metrics import LiveMetrics
from wattline.storage.base import CommitBatch
from wattline.storage.sql import SqlStore
from wattline.storage.sql.owners import SqlDeviceOwners


class LiveServer:
    """The API (with FixedTokens principals) and a feed fed by ``commit``."""

    def __init__(
        self,
        store: SqlStore,
        *,
        buffer_messages: int = 1_000,
        make_bus: Callable[[LiveMetrics], Bus] | None = None,
        alerts: bool = False,
    ) -> None:
        self.store = store
        self.port = free_port()
        self.metrics = LiveMetrics(CollectorRegistry())
        self._buffer_messages = buffer_messages
        # the alerts API too, its changes told to the feed (as ``wattline up`` does)
        self._alerts = alerts
        self._make_bus = make_bus or (lambda _metrics: MemoryBus())
        self._ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), name="live-api")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.feed: LiveFeed | None = None
        self.hub: LiveHub | None = None

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self._thread.start()
        assert self._ready.wait(10), "the live API did not start"
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", self.port):
            assert time.monotonic() < deadline, "the live API is not listening"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)

    def commit(self, batch: CommitBatch) -> None:
        """Store the batch, then tell the feed, as ingest does after a commit."""
        self.store.commit(batch)
        assert self.feed is not None
        self.feed.on_committed(
            Committed(
                readings=batch.readings,
                hellos=batch.hellos,
                statuses=batch.statuses,
                seen_ms=batch.seen_ms,
            )
        )

    def publish(self, event: LiveEvent) -> None:
        assert self.feed is not None
        self.feed.publish_event(event)

    def run_in_loop(self, function: Callable[[], object]) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(function)

    def sample(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else float(value)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        bus = self._make_bus(self.metrics)
        owners = OwnerCache(SqlDeviceOwners(self.store.engine))
        self.feed = LiveFeed(bus, owners, self.metrics, self._loop)
        self.hub = LiveHub(bus, self.metrics, self._buffer_messages)
        services = ApiServices(
            store=self.store,
            admin_token=ADMIN_TOKEN,
            registry=CollectorRegistry(),
            offline_after_ms=120_000,
            authenticator=FixedTokens(PRINCIPALS),
            live=self.hub,
            alerts=self.store.alerts if self._alerts else None,
            on_alert_changed=self.feed.on_alert_change if self._alerts else None,
        )
        config = uvicorn.Config(
            create_app(services),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
        )
        server = uvicorn.Server(config)
        tasks = [
            asyncio.create_task(self.feed.run()),
            asyncio.create_task(self.hub.run()),
            asyncio.create_task(server.serve()),
        ]
        self._ready.set()
        await self._stop.wait()
        self.hub.close_all()
        server.should_exit = True
        await tasks[2]
        for task in tasks[:2]:
            task.cancel()
        await asyncio.gather(*tasks[:2], return_exceptions=True)
        close = getattr(bus, "close", None)
        if close is not None:
            await close()
