"""Each service of a running Wattline as an async context manager: entering starts it,
leaving stops it. ``up.py`` enters them in order on one ``AsyncExitStack``, so they
stop in the reverse order, however the run ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
from prometheus_client import (
    CollectorRegistry,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)

import wattline
from wattline.archive.base import RawArchive
from wattline.config import Settings
from wattline.grid.carbon_providers import ElectricityMaps, UkCarbonIntensity
from wattline.grid.fetcher import FetchPlan, GridFetcher
from wattline.grid.providers import CarbonProvider
from wattline.grid.weather import OpenMeteo
from wattline.ingest.collector import Collector
from wattline.ingest.sources.base import MqttEndpoint
from wattline.runtime.backends import open_archive, open_store, retention_policy
from wattline.runtime.broker import Broker, choose_embedded_broker, start_broker
from wattline.runtime.build_info import register_build_info
from wattline.runtime.commit_process import CommitProcess, StoreAddress
from wattline.runtime.errors import StartupError
from wattline.simulator import FleetPublisher, build_fleet
from wattline.simulator.commands import CommandResponder, KeySource
from wattline.storage.base import StoreUnavailableError
from wattline.storage.retention import Compaction, RetentionScheduler
from wattline.storage.sql import SqlStore
from wattline.storage.sql.energy import SqlEnergyData
from wattline.storage.sql.leases import SqlLeases, holder_name


@contextlib.asynccontextmanager
async def embedded_broker(settings: Settings) -> AsyncIterator[Broker | None]:
    """The embedded broker, or None with an external one (WATTLINE_MQTT_URL)."""
    if not settings.embedded_broker:
        yield None
        return
    broker = choose_embedded_broker(settings)
    await start_broker(broker)
    try:
        yield broker
    finally:
        await broker.stop()


@contextlib.contextmanager
def store(settings: Settings) -> Iterator[SqlStore]:
    opened = open_store(settings)
    try:
        yield opened
    finally:
        opened.close()


@contextlib.asynccontextmanager
async def archive(settings: Settings) -> AsyncIterator[RawArchive]:
    opened = open_archive(settings)
    try:
        yield opened
    finally:
        # After the collector: it appends until its last batch is committed.
        await asyncio.to_thread(opened.close)


@contextlib.asynccontextmanager
async def commit_process(
    settings: Settings, *, by_default: bool
) -> AsyncIterator[CommitProcess | None]:
    """The child that commits the collector's batches, or None: WATTLINE_COMMIT_PROCESS,
    or ``by_default`` when it is unset.

    Entered before the collector and left after it: the collector drains through it."""
    wanted = settings.commit_process
    if not (by_default if wanted is None else wanted):
        yield None
        return
    process = CommitProcess(
        StoreAddress(settings.database_url, settings.database_path, settings.sqlite_synchronous)
    )
    try:
        # Spawned now, awaited by the first commit: it imports while Wattline starts.
        process.start()
    except StoreUnavailableError as exc:
        raise StartupError(str(exc)) from None
    try:
        yield process
    finally:
        await asyncio.to_thread(process.close)


@contextlib.asynccontextmanager
async def collecting(collector: Collector) -> AsyncIterator[Collector]:
    """The collector's threads; stopping drains and acknowledges every message it holds."""
    collector.start()
    try:
        yield collector
    finally:
        await asyncio.to_thread(collector.stop)


@contextlib.asynccontextmanager
async def retention(
    settings: Settings, target: SqlStore, archive: RawArchive
) -> AsyncIterator[RetentionScheduler]:
    """Retention in a thread of its own: a run at start, then every retention_interval_s;
    it also expires (WATTLINE_ARCHIVE_RETENTION_DAYS) and compacts the raw archive."""
    scheduler = RetentionScheduler(
        target,
        retention_policy(settings),
        interval_s=settings.retention_interval_s,
        compaction=Compaction(target, settings.compact_after_days),
        archive=archive,
        compact_archive=settings.archive_compact,
    )
    scheduler.start()
    try:
        yield scheduler
    finally:
        await asyncio.to_thread(scheduler.stop)


@contextlib.asynccontextmanager
async def simulator(
    settings: Settings, endpoint: MqttEndpoint | None = None, command_keys: KeySource | None = None
) -> AsyncIterator[None]:
    """The demo fleet, publishing from a thread of its own (only with --demo).

    ``endpoint``: the broker and the simulator's login in security mode;
    ``command_keys``: the public keys its devices verify commands with (None: deaf).
    """
    if not settings.demo or settings.sim_devices == 0:
        yield
        return
    endpoint = endpoint or MqttEndpoint.from_url(settings.effective_mqtt_url)
    fleet = build_fleet(settings.sim_devices, settings.sim_seed)
    responder = (
        CommandResponder(fleet, command_keys, settings.topic_prefix)
        if command_keys is not None
        else None
    )
    publisher = FleetPublisher(
        endpoint.host,
        endpoint.port,
        fleet,
        interval_s=settings.sim_interval_s,
        topic_prefix=settings.topic_prefix,
        username=endpoint.username,
        password=endpoint.password,
        commands=responder,
    )
    stop = threading.Event()
    thread = threading.Thread(target=publisher.run, args=(stop,), name="wattline-simulator")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        # Joined off the event loop: the embedded broker runs on that loop and
        # must keep acknowledging the fleet's final "offline" messages.
        await asyncio.to_thread(thread.join, 10)


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def process_registry(settings: Settings, role: str) -> CollectorRegistry:
    """The process's metrics: what its services register, plus CPU, memory and file
    descriptors (``process_*``), the Python version (``python_info``) and the build,
    role (up, serve, collect) and backends (``wattline_build_info``)."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    register_build_info(registry, settings, role)
    return registry


@contextlib.contextmanager
def metrics_endpoint(settings: Settings, registry: CollectorRegistry) -> Iterator[None]:
    """Serve /metrics on WATTLINE_METRICS_PORT when it is set (``wattline collect``)."""
    if settings.metrics_port is None:
        yield
        return
    server, thread = start_http_server(settings.metrics_port, settings.host, registry)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextlib.asynccontextmanager
async def grid_fetch(settings: Settings, target: SqlStore) -> AsyncIterator[GridFetcher | None]:
    """Carbon and weather fetched on a schedule in a thread (WATTLINE_GRID_FETCH_INTERVAL_S)."""
    if settings.grid_fetch_interval_s <= 0:
        yield None
        return
    with httpx.Client(headers={"user-agent": f"wattline/{wattline.__version__}"}) as client:
        carbon: list[CarbonProvider] = [UkCarbonIntensity(client)]
        if settings.electricity_maps_token:
            carbon.append(ElectricityMaps(client, settings.electricity_maps_token))
        fetcher = GridFetcher(
            SqlEnergyData(target.engine),
            SqlLeases(target.engine),
            holder_name(),
            carbon,
            OpenMeteo(client),
            FetchPlan(interval_s=settings.grid_fetch_interval_s),
        )
        fetcher.start()
        try:
            yield fetcher
        finally:
            await asyncio.to_thread(fetcher.stop)
