"""The alert evaluator and the notifier of one process, built from the settings.

Both run in every process that ingests (`up`, `collect`); the "alerts" lease
makes one of them lead, and the notifier sends only while its evaluator leads.
``Alerting.on_committed`` goes into the committers' listener fan-out;
``on_alert_changed`` is where alert changes go besides the notifier (the live
stream connects there).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from wattline.alerts.evaluator import Evaluator, EvaluatorTiming, fan_out_changes
from wattline.alerts.mail import EmailSender, SmtpServer
from wattline.alerts.mqtt_channel import MqttSender, MqttTarget
from wattline.alerts.notifier import Notifier, Sender
from wattline.alerts.webhook import WebhookSender
from wattline.config import Settings
from wattline.ingest.sources.base import MqttEndpoint
from wattline.model.alerts import AlertChange, Rule, RuleKind, ScopeKind, Severity
from wattline.model.events import Committed, OnCommitted
from wattline.model.notifications import ChannelKind
from wattline.observability.workload_metrics import EvaluatorFigures
from wattline.storage.sql import SqlStore
from wattline.storage.sql.leases import SqlLeases, holder_name
from wattline.storage.tenancy import DEFAULT_TENANT

log = logging.getLogger("wattline.alerts")

# The smart-solar seed's rule (`telemetry.value < 10` on voltage), as data.
DEMO_RULE_ID = "demo-low-voltage"


@dataclass(slots=True)
class Alerting:
    evaluator: Evaluator
    notifier: Notifier

    def on_committed(self, event: Committed) -> None:
        self.evaluator.on_committed(event)

    def figures(self) -> EvaluatorFigures:
        evaluator = self.evaluator
        return EvaluatorFigures(
            batches=evaluator.evaluated_batches,
            readings=evaluator.evaluated_readings,
            seconds=evaluator.evaluation_seconds,
            dropped_batches=evaluator.dropped_batches,
        )


def senders(settings: Settings, mqtt: MqttEndpoint) -> dict[ChannelKind, Sender]:
    found: dict[ChannelKind, Sender] = {
        ChannelKind.WEBHOOK: WebhookSender(),
        ChannelKind.MQTT: MqttSender(
            MqttTarget(mqtt.host, mqtt.port, mqtt.username, mqtt.password)
        ),
    }
    if settings.smtp_host is not None:
        found[ChannelKind.EMAIL] = EmailSender(
            SmtpServer(
                host=settings.smtp_host,
                port=settings.smtp_port,
                sender=settings.smtp_from,
                username=settings.smtp_username,
                password=(
                    settings.smtp_password.get_secret_value() if settings.smtp_password else None
                ),
                starttls=settings.smtp_starttls,
            )
        )
    return found


def ensure_demo_rule(store: SqlStore, now_ms: int) -> None:
    """The demo's low-voltage rule, made once (an edited or retired one is left alone)."""
    alerts = store.alerts
    if alerts.rule_versions(DEMO_RULE_ID, tenant_id=DEFAULT_TENANT):
        return
    rule = Rule(
        rule_id=DEMO_RULE_ID,
        tenant_id=DEFAULT_TENANT,
        name="Low voltage",
        kind=RuleKind.THRESHOLD,
        severity=Severity.CRITICAL,
        scope=ScopeKind.TENANT,
        scope_value=None,
        metric="voltage_v",
        params={"op": "below", "limit": 10.0, "hysteresis": 1.0, "duration_s": 0.0},
        created_ms=now_ms,
        updated_ms=now_ms,
    )
    alerts.save_rule(rule, saved_by="wattline up --demo")


@contextlib.asynccontextmanager
async def alerting(
    settings: Settings,
    store: SqlStore,
    mqtt: MqttEndpoint,
    on_alert_changed: Callable[[AlertChange], None] | None = None,
) -> AsyncIterator[Alerting | None]:
    """The evaluator and notifier threads; None with WATTLINE_ALERTS=false."""
    if not settings.alerts:
        yield None
        return
    notifier = Notifier(store.notifications, store.alerts, senders(settings, mqtt))
    evaluator = Evaluator(
        store.alerts,
        on_change=fan_out_changes(notifier.on_alert_changed, on_alert_changed),
        leases=SqlLeases(store.engine),
        timing=EvaluatorTiming(tick_s=settings.alert_tick_s),
    )
    notifier.leading = lambda: evaluator.leading
    evaluator.start()
    notifier.start()
    try:
        yield Alerting(evaluator, notifier)
    finally:
        await asyncio.to_thread(evaluator.stop)
        await asyncio.to_thread(notifier.stop)


@contextlib.asynccontextmanager
async def alert_relay(
    settings: Settings, alerts: Alerting | None
) -> AsyncIterator[OnCommitted | None]:
    """With Redis and alerts on: this process's committed batches go to whichever
    evaluator leads, and other processes' batches come to this one's evaluator
    (which evaluates them when it leads). Yields ingest's listener for it (None
    without Redis or alerts: the local evaluator then sees everything there is)."""
    if settings.redis_url is None or alerts is None:
        yield None
        return
    from wattline.live.alert_relay import AlertRelay  # noqa: PLC0415 - redis, when configured

    relay = AlertRelay(
        settings.redis_url,
        holder_name(),
        alerts.evaluator.on_committed,
        asyncio.get_running_loop(),
        channel=f"{settings.live_redis_channel}:alerts",
    )
    task = asyncio.create_task(relay.run(), name="wattline-alert-relay")
    try:
        yield relay.on_committed
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
