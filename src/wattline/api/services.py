"""What the API needs from the running system, handed in by the composition root."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from opentelemetry.trace import Tracer
from prometheus_client import CollectorRegistry

from wattline.api.ratelimit import ApiRateLimits, RateLimiter
from wattline.archive.base import RawArchive
from wattline.commands.service import CommandService
from wattline.firmware.service import FirmwareService
from wattline.ingest.collector import CollectorStatus
from wattline.ingest.replay import ReplayReport
from wattline.ingest.sources.http import HttpIngest
from wattline.intelligence.advisor import Advisor
from wattline.intelligence.forecaster import Forecaster
from wattline.intelligence.jobs import AnomalyScanner
from wattline.live.hub import LiveHub
from wattline.live.window import RecentReadings
from wattline.model.alerts import AlertChange
from wattline.schedules.service import ScheduleService
from wattline.security.audit import AuditSink
from wattline.security.authenticator import Authenticator
from wattline.security.ca import Authority
from wattline.security.device_credentials import BrokerAccounts
from wattline.security.service import IdentityService
from wattline.security.throttle import LoginThrottle
from wattline.storage.base import QuarantineRecord
from wattline.storage.energy_data import GridStore, PvSystemStore, TariffStore
from wattline.storage.ports import (
    AuditStore,
    CredentialStore,
    DeviceNames,
    IntelligenceStore,
    PairingStore,
    TelemetryStore,
)
from wattline.storage.sql.alerts import SqlAlerts
from wattline.storage.sql.notifications import SqlNotifications


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class EnergyData(TariffStore, GridStore, PvSystemStore, Protocol):
    """The tariff, grid-data and PV-system ports, one store (``storage/sql/energy.py``)."""


@dataclass(frozen=True, slots=True)
class ApiServices:
    store: TelemetryStore
    admin_token: str
    registry: CollectorRegistry
    offline_after_ms: int
    # None when the API runs without a collector in this process
    collector_status: Callable[[], CollectorStatus] | None = None
    # runs quarantined messages through the pipeline again; None: not offered
    replay: Callable[[Sequence[QuarantineRecord]], ReplayReport] | None = None
    # HTTP ingest and its per-client rate limit; None: not offered
    http_ingest: HttpIngest | None = None
    rate_limiter: RateLimiter | None = None
    # where DELETE /devices/{id}?samples=archive writes; None: archiving not offered
    deleted_devices_dir: Path | None = None
    # tells in-memory state (registry caches, the window) that a device was deleted
    forget_device: Callable[[str], None] | None = None
    # the last readings per device and metric, fed by the committers; None: read from storage
    window: RecentReadings | None = None
    # users' access tokens and API keys; None: only the bootstrap admin token is accepted
    authenticator: Authenticator | None = None
    # devices' credentials (MQTT passwords, HTTP ingest tokens); None: not offered
    credentials: CredentialStore | None = None
    # the broker's accounts, kept in step with MQTT credentials; None: security off
    broker_accounts: BrokerAccounts | None = None
    # where every change is recorded (never raises), and the log GET /audit reads;
    # None: changes are not audited in this process
    audit: AuditSink | None = None
    audit_log: AuditStore | None = None
    # per client address before authentication, per principal after; None: no API limits
    api_limits: ApiRateLimits | None = None
    # origins allowed to call the API from a browser; empty: CORS off
    cors_origins: tuple[str, ...] = ()
    # users, sessions, invitations and API keys (the auth, users and api-keys routes)
    identity: IdentityService | None = None
    # Wattline's CA, which signs devices' CSRs; None: no CA in the data dir
    authority: Authority | None = None
    # writes a new CRL where the broker reads it and makes the broker reload it
    publish_crl: Callable[[bytes], None] | None = None
    # pairing codes and the claim that moves a device into a tenant; None: not offered
    pairing: PairingStore | None = None
    # failed pairing claims per principal
    pairing_throttle: LoginThrottle | None = None
    # now, for what expires (pairing codes); tests inject their own
    clock_ms: Callable[[], int] = wall_clock_ms
    # tariffs, energy settings and fetched grid data; None: the cost and grid routes are 501
    energy_data: EnergyData | None = None
    # devices' display names (the smart-plug seed's apps name devices); None: not offered
    device_names: DeviceNames | None = None
    # HTTP ingest without any credential (smart-solar devices as they were): per client
    # address; None: such requests are refused (docs/compatibility.md)
    tokenless_ingest_limiter: RateLimiter | None = None
    # the raw archive, read per device by the IoT-meter seed's raw-data route; None: not offered
    archive: RawArchive | None = None
    # traces every request (OpenTelemetry); None: tracing off
    tracer: Tracer | None = None
    # commands to devices and their keys; None: not offered in this process
    commands: CommandService | None = None
    # the live stream's hub (WebSockets, SSE); None: this process serves no live stream
    live: LiveHub | None = None
    # alert rules, alerts, notification channels and deliveries; None: not offered
    alerts: SqlAlerts | None = None
    notifications: SqlNotifications | None = None
    # told of acknowledgements, clears and comments made through the API (the live stream)
    on_alert_changed: Callable[[AlertChange], None] | None = None
    # anomaly findings, homes and decisions; None: the intelligence routes answer 501
    intelligence: IntelligenceStore | None = None
    # runs the anomaly detectors over one device on demand
    anomaly_scanner: AnomalyScanner | None = None
    # hourly kWh forecasts; None: not offered
    forecaster: Forecaster | None = None
    # recommendations for homes, stored as decisions; None: not offered
    advisor: Advisor | None = None
    # firmware artifacts, campaigns and device downloads; None: not offered
    firmware: FirmwareService | None = None
    # commands at cron, daily or sun times; None: not offered
    schedules: ScheduleService | None = None
