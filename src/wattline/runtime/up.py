"""``wattline up`` and ``wattline serve``: the services of one process, started in order.

Start order is broker -> store -> archive -> collector -> retention -> API -> simulator,
declared once below; an ``AsyncExitStack`` stops them in the reverse order, so the
collector drains and acknowledges every message it has before the store closes and
the broker goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from opentelemetry.trace import Tracer
from prometheus_client import CollectorRegistry

from wattline.alerts.evaluator import fan_out_changes
from wattline.api.app import create_app
from wattline.api.routers.pairing import claims_throttle
from wattline.api.services import ApiServices, wall_clock_ms
from wattline.archive.base import RawArchive
from wattline.commands.service import CommandService
from wattline.config import Settings, weak_secret
from wattline.ingest.admit import Admission
from wattline.ingest.collector import Collector
from wattline.ingest.sources.base import MqttEndpoint
from wattline.ingest.sources.http import HttpIngest
from wattline.live.feed import LiveFeed
from wattline.live.hub import LiveHub
from wattline.live.window import RecentReadings
from wattline.model.events import OnCommitted, fan_out
from wattline.observability.certificates import CertificateExpiry
from wattline.observability.tracing import Tracing
from wattline.observability.workload_metrics import RuleEvaluationMetrics, WorkloadMetrics
from wattline.ports import HTTP_PORT, MQTT_PORT, PortTakenError, free_port_from, require_free
from wattline.runtime import garbage, live, services
from wattline.runtime.alerts import alert_relay, alerting, ensure_demo_rule
from wattline.runtime.api_server import api_server
from wattline.runtime.backends import describe_store
from wattline.runtime.broker import Broker, broker_name
from wattline.runtime.broker_accounts import BrokerSecurity, broker_security, with_login
from wattline.runtime.certificates import (
    crl_publisher,
    current_crl,
    expiry_sources,
    load_authority,
)
from wattline.runtime.commands import (
    ScheduledCommands,
    command_service,
    demo_keys,
    dispatching,
)
from wattline.runtime.errors import ServiceFailedError, StartupError
from wattline.runtime.firmware import (
    firmware_service,
    ota_campaigns,
    schedule_service,
    scheduling,
)
from wattline.runtime.identity import DEMO_OWNER_EMAIL, identity_service, reset_demo_owner
from wattline.runtime.ingest import Ingest, build_collector, prepare_ingest, uplink_filters
from wattline.runtime.intelligence import Intelligence, build_intelligence, intelligence_jobs
from wattline.runtime.limits import rate_limits
from wattline.runtime.stopping import stop_event, wait_for_stop
from wattline.runtime.tracing import tracing
from wattline.storage.audit_sink import StoreAuditSink
from wattline.storage.sql import SqlStore
from wattline.storage.sql.audit import SqlAuditStore
from wattline.storage.sql.device_names import SqlDeviceNames
from wattline.storage.sql.energy import SqlEnergyData
from wattline.storage.sql.workload import SqlWorkload

log = logging.getLogger("wattline")

ADMIN_TOKEN_FILE = "admin-token"  # noqa: S105 - a file name, not a secret
# Written at every start: the URLs this run listens on, which in demo mode
# need not be the default ports (ports.py).
API_URL_FILE = "api-url"
MQTT_URL_FILE = "mqtt-url"


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
    urls_file: Path
    # demo mode: the demo owner's email and this run's password
    demo_login: tuple[str, str] | None  # the API URL for scripts; the broker's beside it
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
        token = settings.admin_token.get_secret_value()
        return _strong(settings, token, "WATTLINE_ADMIN_TOKEN"), "WATTLINE_ADMIN_TOKEN"
    if settings.admin_token_file is not None:
        token_file = settings.admin_token_file
        try:
            token = token_file.read_text().strip()
        except OSError as exc:
            raise StartupError(f"WATTLINE_ADMIN_TOKEN_FILE {token_file}: {exc.strerror}") from None
        return _strong(settings, token, str(token_file)), str(token_file)
    path = settings.data_dir / ADMIN_TOKEN_FILE
    if path.exists():
        return _strong(settings, path.read_text().strip(), str(path)), str(path)
    # Hex: no letters outside a-f, so never a placeholder word (config.weak_secret).
    token = secrets.token_hex(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(token + "\n")
    return token, f"{path} (generated)"


def _strong(settings: Settings, token: str, source: str) -> str:
    """The token, unless it is a placeholder or too short outside demo mode (StartupError)."""
    problem = None if settings.demo else weak_secret(f"the admin token ({source})", token)
    if problem is not None:
        raise StartupError(problem)
    return token


async def run_up(settings: Settings, announce: Callable[[Announcement], None]) -> None:  # noqa: PLR0915 - the composition root, in start order
    registry = services.process_registry(settings, "up")
    ingest = prepare_ingest(settings, registry)
    settings, port_notes = choose_ports(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    write_urls(settings)
    token, token_source = load_admin_token(settings)
    stop = stop_event()

    async with contextlib.AsyncExitStack() as running:
        traced = running.enter_context(tracing(settings, "up"))
        broker = await running.enter_async_context(services.embedded_broker(settings))
        if broker is not None and settings.mqtt_protocol is None:
            settings = settings.model_copy(update={"mqtt_protocol": broker.protocol})
        security = await running.enter_async_context(
            broker_security(settings, broker, uplink_filters(ingest))
        )
        store = running.enter_context(services.store(settings))
        # Started early, so the child imports and connects while the rest starts up;
        # left after the collector, which drains through it.
        commits = await running.enter_async_context(
            services.commit_process(settings, by_default=True)
        )
        archive = await running.enter_async_context(services.archive(settings))
        window = RecentReadings(settings.window_size)
        commands = command_service(settings, store)
        dispatcher = await running.enter_async_context(
            dispatching(settings, commands, store, _commands_endpoint(settings, security))
        )
        metrics = live.live_metrics(registry)
        bus = await running.enter_async_context(live.bus(settings, metrics))
        feed = await running.enter_async_context(live.feed(bus, store, metrics))
        collector_endpoint = with_login(
            settings.effective_mqtt_url, security.collector if security else None
        )
        ota = await running.enter_async_context(ota_campaigns(settings, store, collector_endpoint))
        await running.enter_async_context(scheduling(store, ScheduledCommands(commands)))
        if settings.demo:
            ensure_demo_rule(store, services.wall_clock_ms())
        alerts = await running.enter_async_context(
            alerting(settings, store, collector_endpoint, on_alert_changed=feed.on_alert_change)
        )
        if alerts is not None:
            registry.register(RuleEvaluationMetrics(alerts.figures))
        relayed = await running.enter_async_context(alert_relay(settings, alerts))
        on_committed = fan_out(
            window.on_committed,
            feed.on_committed,
            dispatcher.on_committed,
            alerts.on_committed if alerts else None,
            relayed,
            ota.on_committed,
        )
        collector = await running.enter_async_context(
            services.collecting(
                build_collector(
                    settings,
                    ingest,
                    store,
                    archive,
                    on_committed,
                    endpoint=collector_endpoint,
                    traces=traced.message_traces() if traced else None,
                    commits=commits,
                )
            )
        )
        await running.enter_async_context(services.retention(settings, store, archive))
        await running.enter_async_context(services.grid_fetch(settings, store))
        intelligence = build_intelligence(store, settings.data_dir, commands=commands)
        parts = _ApiParts(
            settings,
            registry,
            ingest,
            store,
            archive,
            token,
            security,
            broker,
            tracer=_tracer(traced),
            commands=commands,
            intelligence=intelligence,
        )
        hub = LiveHub(bus, metrics)
        api = _api_services(parts, running, collector, window, _Live(hub, feed, on_committed))
        await running.enter_async_context(
            intelligence_jobs(
                intelligence,
                store,
                fan_out_changes(
                    alerts.notifier.on_alert_changed if alerts else None, feed.on_alert_change
                ),
                alerts=settings.alerts,
            )
        )
        demo_login = (
            (DEMO_OWNER_EMAIL, reset_demo_owner(api.identity))
            if settings.demo and api.identity is not None
            else None
        )
        app = create_app(api)
        garbage.settle_after_startup()
        api_task = await running.enter_async_context(api_server(app, settings))
        await running.enter_async_context(live.hub_running(hub))
        await asyncio.to_thread(collector.wait_connected, 10.0)
        if collector.failed.is_set():
            raise ServiceFailedError("the collector stopped on an unexpected error (logged above)")
        await running.enter_async_context(
            services.simulator(
                settings, _simulator_endpoint(settings, security), demo_keys(commands)
            )
        )
        announce(
            _announcement(settings, token, token_source, broker, port_notes, demo_login=demo_login)
        )
        await wait_for_stop(stop, collector, api_task)
        log.info("stopping")


@dataclass(frozen=True, slots=True)
class _ApiParts:
    settings: Settings
    registry: CollectorRegistry
    ingest: Ingest
    store: SqlStore
    archive: RawArchive
    token: str
    security: BrokerSecurity | None
    # the embedded broker, told to re-read the revocation list; None: an external one
    broker: Broker | None
    # traces every API request; None: tracing off
    tracer: Tracer | None = None
    commands: CommandService | None = None
    # anomalies, forecasts and decisions; None: `_api_services` builds them for the API
    intelligence: Intelligence | None = None


@dataclass(frozen=True, slots=True)
class _Live:
    """The live stream's parts the API gets: the hub, and the feed HTTP ingest tells."""

    hub: LiveHub
    feed: LiveFeed | None
    # what every committer of the process tells (the window and the feed in `up`)
    on_committed: OnCommitted | None


def _api_services(
    parts: _ApiParts,
    running: contextlib.ExitStack | contextlib.AsyncExitStack,
    collector: Collector | None,
    window: RecentReadings | None,
    live_parts: _Live | None = None,
) -> ApiServices:
    """What the API gets, in `up` (beside a collector) and in `serve` (alone)."""
    settings, store, ingest = parts.settings, parts.store, parts.ingest
    limits = running.enter_context(rate_limits(settings))
    audit_log = SqlAuditStore(store.engine)
    audit = StoreAuditSink(audit_log, parts.registry)
    identity = identity_service(settings, store, audit)
    authority = load_authority(settings)
    publish_crl = crl_publisher(settings, parts.broker)
    parts.registry.register(CertificateExpiry(expiry_sources(settings, store)))
    parts.registry.register(WorkloadMetrics(SqlWorkload(store.engine).counts))
    if authority is not None:
        publish_crl(current_crl(authority, store))
    on_committed = (
        live_parts.on_committed
        if live_parts is not None
        else (window.on_committed if window is not None else None)
    )
    # `serve` replays through a committer of its own; `up` through the collector's.
    committer = (
        collector.committer
        if collector is not None
        else ingest.committer(store, parts.archive, ingest.mqtt, on_committed)
    )
    forget: list[Admission | RecentReadings | LiveFeed] = [ingest.admission(store)]
    if window is not None:
        forget.append(window)
    if live_parts is not None and live_parts.feed is not None:
        forget.append(live_parts.feed)
    intelligence = parts.intelligence or build_intelligence(
        store, settings.data_dir, commands=parts.commands
    )
    return ApiServices(
        store=store,
        admin_token=parts.token,
        registry=parts.registry,
        offline_after_ms=int(settings.offline_after_s * 1000),
        collector_status=collector.status if collector is not None else None,
        replay=committer.replay,
        http_ingest=_http_ingest(settings, ingest, store, parts.archive, on_committed),
        rate_limiter=limits.http_ingest,
        window=window,
        deleted_devices_dir=settings.data_dir / "deleted-devices",
        forget_device=_forgetting(*forget),
        credentials=store,
        broker_accounts=parts.security.accounts if parts.security else None,
        audit=audit,
        audit_log=audit_log,
        api_limits=limits.api,
        cors_origins=tuple(settings.cors_origins),
        authenticator=identity.authenticator,
        identity=identity,
        authority=authority,
        publish_crl=publish_crl,
        pairing=store,
        pairing_throttle=claims_throttle(),
        energy_data=SqlEnergyData(store.engine),
        device_names=SqlDeviceNames(store.engine),
        tokenless_ingest_limiter=limits.tokenless_ingest if settings.tokenless_ingest else None,
        archive=parts.archive,
        tracer=parts.tracer,
        commands=parts.commands,
        live=live_parts.hub if live_parts is not None else None,
        # acknowledgements, clears and comments made through the API reach the live stream
        on_alert_changed=live_parts.feed.on_alert_change
        if live_parts is not None and live_parts.feed is not None
        else None,
        alerts=store.alerts,
        notifications=store.notifications,
        intelligence=intelligence.store,
        anomaly_scanner=intelligence.scanner,
        forecaster=intelligence.forecaster,
        advisor=intelligence.advisor,
        firmware=firmware_service(settings, store, wall_clock_ms),
        schedules=schedule_service(store, wall_clock_ms),
    )


async def run_serve(settings: Settings) -> None:
    """The API alone, against the fleet's database: for scaling the API out.

    Stateless apart from its caches: any number run behind a load balancer,
    beside collectors (`wattline collect`) that do the ingest.
    """
    registry = services.process_registry(settings, "serve")
    ingest = prepare_ingest(settings, registry)
    token, _ = load_admin_token(settings)
    stop = stop_event()
    async with contextlib.AsyncExitStack() as running:
        traced = running.enter_context(tracing(settings, "serve"))
        security = await running.enter_async_context(
            broker_security(settings, None, uplink_filters(ingest))
        )
        store = running.enter_context(services.store(settings))
        archive = await running.enter_async_context(services.archive(settings))
        metrics = live.live_metrics(registry)
        bus = await running.enter_async_context(live.bus(settings, metrics))
        feed = await running.enter_async_context(live.feed(bus, store, metrics))
        hub = LiveHub(bus, metrics)
        commands = command_service(settings, store)
        parts = _ApiParts(
            settings,
            registry,
            ingest,
            store,
            archive,
            token,
            security,
            None,
            tracer=_tracer(traced),
            commands=commands,
        )

        app = create_app(
            _api_services(parts, running, None, None, _Live(hub, feed, feed.on_committed))
        )
        garbage.settle_after_startup()
        api_task = await running.enter_async_context(api_server(app, settings))
        await running.enter_async_context(live.hub_running(hub))
        log.info("serving the API on http://%s:%d", settings.host, settings.http_port)
        await wait_for_stop(stop, None, api_task)


def _tracer(traced: Tracing | None) -> Tracer | None:
    return traced.tracer if traced is not None else None


def _http_ingest(
    settings: Settings,
    ingest: Ingest,
    store: SqlStore,
    archive: RawArchive,
    on_committed: OnCommitted | None,
) -> HttpIngest:
    committer = ingest.committer(store, archive, ingest.http, on_committed)
    return HttpIngest(committer, settings.smartsolar_topic_prefix)


def _commands_endpoint(settings: Settings, security: BrokerSecurity | None) -> MqttEndpoint:
    return with_login(settings.effective_mqtt_url, security.commands if security else None)


def _simulator_endpoint(settings: Settings, security: BrokerSecurity | None) -> MqttEndpoint:
    return with_login(settings.effective_mqtt_url, security.simulator if security else None)


def _forgetting(*holders: Admission | RecentReadings | LiveFeed) -> Callable[[str], None]:
    """What the API calls after deleting a device, so no in-memory state keeps it."""

    def forget(device_id: str) -> None:
        for holder in holders:
            holder.forget(device_id)

    return forget


def _announcement(  # noqa: PLR0913 - every line of the banner
    settings: Settings,
    token: str,
    token_source: str,
    broker: Broker | None,
    port_notes: tuple[str, ...] = (),
    *,
    demo_login: tuple[str, str] | None = None,
) -> Announcement:
    url = api_url(settings)
    return Announcement(
        api_url=url,
        docs_url=f"{url}/docs",
        mqtt_url=settings.effective_mqtt_url,
        broker=broker_name(broker),
        database=describe_store(settings),
        archive=settings.archive_dir,
        admin_token=token,
        token_source=token_source,
        simulated_devices=settings.sim_devices if settings.demo else 0,
        urls_file=settings.data_dir / API_URL_FILE,
        demo_login=demo_login,
        port_notes=port_notes,
    )
