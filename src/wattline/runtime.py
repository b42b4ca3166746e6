"""The composition root: builds the configured backends and runs the services.

Start order is broker -> store -> collector -> API -> simulator; stop order is
the reverse, so the collector drains and acknowledges every message it has
before the broker goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import secrets
import signal
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from prometheus_client import CollectorRegistry

from wattline.api.app import create_app
from wattline.api.ratelimit import RateLimiter
from wattline.api.services import ApiServices
from wattline.archive.base import RawArchive
from wattline.archive.factory import open_archive
from wattline.broker.embedded import EmbeddedBroker
from wattline.broker.mosquitto import BrokerStartError, MosquittoBroker, find_mosquitto
from wattline.config import Settings
from wattline.ingest.collector import Collector
from wattline.ingest.committer import Committer
from wattline.ingest.interpret import InterpretConfig
from wattline.ingest.sources import open_source
from wattline.ingest.sources.base import DeliverFn, MessageSource, MqttEndpoint, SessionOptions
from wattline.ingest.sources.http import HttpIngest
from wattline.live.window import WindowStore
from wattline.model.messages import Reading
from wattline.observability.metrics import IngestMetrics
from wattline.ports import HTTP_PORT, MQTT_PORT, PortTakenError, free_port_from, require_free
from wattline.protocols.adapters import build_adapters
from wattline.protocols.validation import Limits
from wattline.simulator import FleetPublisher, build_fleet
from wattline.storage.factory import describe_store, open_store
from wattline.storage.retention import RetentionScheduler, retention_policy
from wattline.storage.sql import SqlStore

# The embedded brokers: Mosquitto as a child process, or amqtt in this process.
Broker = EmbeddedBroker | MosquittoBroker

log = logging.getLogger("wattline")

ADMIN_TOKEN_FILE = "admin-token"  # noqa: S105 - a file name, not a secret
# Written at every start: the URLs this run listens on, which in demo mode
# need not be the default ports (ports.py).
API_URL_FILE = "api-url"
MQTT_URL_FILE = "mqtt-url"


class StartupError(Exception):
    """A problem the user fixes with a flag or a setting; printed as one line."""


class ServiceFailedError(Exception):
    """A service died while running; the process exits non-zero for a supervisor to restart."""


@dataclass(frozen=True, slots=True)
class Announcement:
    api_url: str
    docs_url: str
    mqtt_url: str
    broker: str  # "embedded Mosquitto", "embedded amqtt" or "external"
    database: str  # the SQLite file, or the PostgreSQL URL without its password
    archive: Path
    admin_token: str
    token_source: str
    simulated_devices: int
    urls_file: Path  # the API URL for scripts; the broker's beside it
    port_notes: tuple[str, ...] = ()  # a default port that was taken, and what replaced it


def choose_ports(settings: Settings) -> tuple[Settings, tuple[str, ...]]:
    """The ports to listen on, and a note for each port moved off a taken default.

    In demo mode a port nobody chose (no flag, no variable) moves to a free one;
    a chosen port, or any port outside demo mode, must be free as configured.
    """
    wanted = [("http_port", HTTP_PORT)]
    if settings.embedded_broker:
        wanted.append(("mqtt_port", MQTT_PORT))
    updates: dict[str, int] = {}
    notes: list[str] = []
    try:
        for field, setting in wanted:
            port: int = getattr(settings, field)
            if not settings.demo or field in settings.model_fields_set:
                require_free(settings.host, port, setting)
                continue
            updates[field] = free_port_from(settings.host, port)
            if updates[field] != port:
                notes.append(
                    f"port {port} was taken, so {updates[field]} instead "
                    f"(choose with {setting.flag} or {setting.env})"
                )
    except PortTakenError as exc:
        raise StartupError(str(exc)) from None
    return settings.model_copy(update=updates), tuple(notes)


def write_urls(settings: Settings) -> None:
    """The API and broker URLs into the data dir, for scripts: curl $(cat wattline-data/api-url)."""
    (settings.data_dir / API_URL_FILE).write_text(api_url(settings) + "\n")
    (settings.data_dir / MQTT_URL_FILE).write_text(settings.effective_mqtt_url + "\n")


def api_url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.http_port}"


def load_admin_token(settings: Settings) -> tuple[str, str]:
    """The configured token, else the one generated into the data dir on first start."""
    if settings.admin_token is not None:
        return settings.admin_token.get_secret_value(), "WATTLINE_ADMIN_TOKEN"
    path = settings.data_dir / ADMIN_TOKEN_FILE
    if path.exists():
        return path.read_text().strip(), str(path)
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(token + "\n")
    return token, f"{path} (generated)"


def build_committer(  # noqa: PLR0913 - backends, then keyword-only options
    settings: Settings,
    store: SqlStore,
    archive: RawArchive,
    metrics: IngestMetrics,
    adapter_names: Sequence[str] | None = None,
    *,
    on_committed: Callable[[Sequence[Reading]], None] | None = None,
) -> Committer:
    """A committer for the configured adapters, or for adapter_names (HTTP ingest)."""
    names = settings.adapters if adapter_names is None else adapter_names
    adapters = build_adapters(names, settings.adapter_prefixes)
    return Committer(
        store,
        archive,
        InterpretConfig(
            topic_prefix=settings.topic_prefix,
            max_payload_bytes=settings.max_payload_bytes,
            limits=Limits(max_future_skew_ms=int(settings.max_future_skew_s * 1000)),
            adapters=adapters,
        ),
        metrics,
        auto_register=settings.auto_register or settings.demo,
        on_committed=on_committed,
    )


def build_collector(
    settings: Settings,
    store: SqlStore,
    archive: RawArchive,
    metrics: IngestMetrics,
    window: WindowStore | None = None,
) -> Collector:
    on_committed = window.add if window is not None else None
    committer = build_committer(settings, store, archive, metrics, on_committed=on_committed)
    adapters = build_adapters(settings.adapters, settings.adapter_prefixes)
    endpoint = MqttEndpoint.from_url(settings.effective_mqtt_url)
    topics = list(dict.fromkeys(f for adapter in adapters for f in adapter.subscriptions()))

    options = session_options(settings)

    def make_source(deliver: DeliverFn) -> MessageSource:
        return open_source(endpoint, settings.mqtt_client_id, topics, deliver, options)

    return Collector(make_source, committer, metrics)


def session_options(settings: Settings) -> SessionOptions:
    mqtt5 = settings.mqtt_protocol == "5" or (
        settings.mqtt_protocol is None and not settings.embedded_broker
    )
    if settings.mqtt_shared_group and not mqtt5:
        raise StartupError("WATTLINE_MQTT_SHARED_GROUP needs MQTT 5 (WATTLINE_MQTT_PROTOCOL=5)")
    return SessionOptions(
        mqtt5=mqtt5,
        shared_group=settings.mqtt_shared_group,
        session_expiry_s=settings.mqtt_session_expiry_s,
        receive_maximum=settings.mqtt_receive_maximum,
    )


def freeze_startup_objects() -> None:
    """Exempt every object made at start-up (modules, app, schemas) from garbage collection.

    A full collection walks every tracked object of the process: some 100,000
    once the app is built, 55 ms on a 2-core machine. A request that builds
    thousands of buckets triggers one every other time, which doubled the
    median of a day at one minute (benchmarks/query.py: 137 -> 63 ms). Frozen
    objects are still freed by reference counting; only cycles among them are
    never collected, and start-up objects live as long as the process.
    """
    gc.collect()
    gc.freeze()


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the runtime owns Ctrl-C."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def _simulator(settings: Settings) -> AsyncIterator[None]:
    if not settings.demo or settings.sim_devices == 0:
        yield
        return
    endpoint = MqttEndpoint.from_url(settings.effective_mqtt_url)
    publisher = FleetPublisher(
        endpoint.host,
        endpoint.port,
        build_fleet(settings.sim_devices, settings.sim_seed),
        interval_s=settings.sim_interval_s,
        topic_prefix=settings.topic_prefix,
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


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def run_up(settings: Settings, announce: Callable[[Announcement], None]) -> None:
    settings, port_notes = choose_ports(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    write_urls(settings)
    token, token_source = load_admin_token(settings)
    stop = _stop_event()

    broker = choose_embedded_broker(settings) if settings.embedded_broker else None
    if broker is not None:
        await _start_broker(broker)
        if settings.mqtt_protocol is None:
            settings = settings.model_copy(update={"mqtt_protocol": broker.protocol})
    store = open_store(settings)
    archive = open_archive(settings)
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    window = WindowStore(settings.window_size)
    collector = build_collector(settings, store, archive, metrics, window)
    collector.start()
    retention = start_retention(settings, store)
    http_committer = build_committer(
        settings, store, archive, metrics, ["smartsolar"], on_committed=window.add
    )
    services = ApiServices(
        store=store,
        admin_token=token,
        registry=registry,
        offline_after_ms=int(settings.offline_after_s * 1000),
        collector_status=collector.status,
        replay=collector.committer.replay,
        http_ingest=HttpIngest(http_committer, settings.smartsolar_topic_prefix),
        rate_limiter=RateLimiter(settings.http_ingest_rate_per_s, settings.http_ingest_burst),
        window=window,
        deleted_devices_dir=settings.data_dir / "deleted-devices",
        forget_device=_forgetting(collector.committer, http_committer, window),
    )
    app = create_app(services)
    freeze_startup_objects()
    server = _QuietServer(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.http_port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
    )
    api_task = asyncio.create_task(server.serve())
    try:
        await asyncio.to_thread(collector.wait_connected, 10.0)
        if collector.failed.is_set():
            raise ServiceFailedError("the collector stopped on an unexpected error (logged above)")
        async with _simulator(settings):
            announce(_announcement(settings, token, token_source, broker, port_notes))
            await _wait_for_stop(stop, collector, api_task)
            log.info("stopping")
    finally:
        await asyncio.to_thread(collector.stop)
        # After the collector: it appends until its last batch is committed.
        await asyncio.to_thread(archive.close)
        server.should_exit = True
        await api_task
        if broker is not None:
            await broker.stop()
        await asyncio.to_thread(retention.stop)
        store.close()


def choose_embedded_broker(settings: Settings) -> Broker:
    """Mosquitto when installed (or asked for), else amqtt."""
    if settings.broker != "amqtt":
        binary = find_mosquitto()
        if binary is not None:
            state_dir = settings.data_dir / "mosquitto"
            return MosquittoBroker(binary, settings.host, settings.mqtt_port, state_dir)
        if settings.broker == "mosquitto":
            raise StartupError(
                "WATTLINE_BROKER=mosquitto, but no mosquitto binary was found "
                "(Debian/Ubuntu: apt install mosquitto)"
            )
    return EmbeddedBroker(settings.host, settings.mqtt_port)


async def _start_broker(broker: Broker) -> None:
    try:
        await broker.start()
    except BrokerStartError as exc:
        raise StartupError(f"the embedded broker did not start: {exc}") from exc


def _forgetting(*holders: Committer | WindowStore) -> Callable[[str], None]:
    """What the API calls after deleting a device, so no in-memory state keeps it."""

    def forget(device_id: str) -> None:
        for holder in holders:
            holder.forget(device_id)

    return forget


def start_retention(settings: Settings, store: SqlStore) -> RetentionScheduler:
    """Retention in a thread of its own: a run at start, then every retention_interval_s."""
    scheduler = RetentionScheduler(
        store, retention_policy(settings), interval_s=settings.retention_interval_s
    )
    scheduler.start()
    return scheduler


async def _wait_for_stop(
    stop: asyncio.Event, collector: Collector, api_task: asyncio.Task[None] | None = None
) -> None:
    """Until Ctrl-C / SIGTERM, or until a service dies (then raise, so the process exits)."""
    watched = {asyncio.create_task(stop.wait()), asyncio.create_task(_collector_failure(collector))}
    if api_task is not None:
        watched.add(api_task)
    done, pending = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
    for task in pending - {api_task}:
        task.cancel()
    if api_task is not None and api_task in done:
        api_task.result()
        raise ServiceFailedError("the API server stopped unexpectedly")
    if collector.failed.is_set():
        raise ServiceFailedError("the collector stopped on an unexpected error (logged above)")


async def _collector_failure(collector: Collector) -> None:
    # Polled: a thread blocked in Event.wait() would keep the process from exiting.
    while not collector.failed.is_set():  # noqa: ASYNC110
        await asyncio.sleep(0.5)


def _broker_name(broker: Broker | None) -> str:
    if broker is None:
        return "external"
    return f"embedded {broker.name}"


def _announcement(
    settings: Settings,
    token: str,
    token_source: str,
    broker: Broker | None,
    port_notes: tuple[str, ...] = (),
) -> Announcement:
    url = api_url(settings)
    return Announcement(
        api_url=url,
        docs_url=f"{url}/docs",
        mqtt_url=settings.effective_mqtt_url,
        broker=_broker_name(broker),
        database=describe_store(settings),
        archive=settings.archive_dir,
        admin_token=token,
        token_source=token_source,
        simulated_devices=settings.sim_devices if settings.demo else 0,
        urls_file=settings.data_dir / API_URL_FILE,
        port_notes=port_notes,
    )


async def run_collect(settings: Settings) -> None:
    """A collector alone, against an external broker: for scaling ingest out."""
    stop = _stop_event()
    store = open_store(settings)
    archive = open_archive(settings)
    collector = build_collector(settings, store, archive, IngestMetrics(CollectorRegistry()))
    freeze_startup_objects()
    collector.start()
    retention = start_retention(settings, store)
    try:
        await _wait_for_stop(stop, collector)
    finally:
        await asyncio.to_thread(collector.stop)
        await asyncio.to_thread(archive.close)
        await asyncio.to_thread(retention.stop)
        store.close()
