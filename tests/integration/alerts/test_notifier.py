"""Notifications to real receivers: a signed webhook retried past three 500s, email
through aiosmtpd, grouping, dead letters and redelivery, the SSRF guard, MQTT."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpcore
import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from tests.integration.alerts.receivers import (
    HookLog,
    Mailbox,
    smtp_server,
    sqlite_store,
    webhook_receiver,
)

from wattline.alerts.mail import EmailSender, SmtpServer
from wattline.alerts.mqtt_channel import MqttSender, MqttTarget
from wattline.alerts.notifier import Notifier, NotifierTiming
from wattline.alerts.routing import RetryPolicy
from wattline.alerts.webhook import WebhookSender, new_secret
from wattline.model.alerts import Alert, AlertChange, AlertStatus, ChangeKind, Severity
from wattline.model.notifications import (
    Channel,
    ChannelKind,
    Delivery,
    DeliveryStatus,
    Routing,
)
from wattline.storage.sql import SqlStore

T0 = 1_764_057_600_000
FAST = NotifierTiming(retry=RetryPolicy(first_delay_s=1, factor=2, max_delay_s=60, max_attempts=5))


class Clock:
    def __init__(self) -> None:
        self.now_ms = T0

    def __call__(self) -> int:
        return self.now_ms


def change(
    alert_id: str = "a1", device: str = "ac-meter-1", severity: Severity = Severity.CRITICAL
) -> AlertChange:
    alert = Alert(
        alert_id=alert_id,
        tenant_id="default",
        rule_id="low",
        rule_name="Low voltage",
        device_id=device,
        severity=severity,
        status=AlertStatus.ACTIVE,
        value=8.5,
        message="Low voltage: voltage_v 8.5 below 10",
        first_seen_ms=T0,
        last_seen_ms=T0,
    )
    return AlertChange.of(ChangeKind.RAISED, alert, T0)


def channel(kind: ChannelKind, target: str, **routing: object) -> Channel:
    return Channel(
        channel_id=uuid.uuid4().hex,
        tenant_id="default",
        name=kind.value,
        kind=kind,
        target=target,
        routing=Routing(**routing),  # type: ignore[arg-type]
        secret=new_secret() if kind is ChannelKind.WEBHOOK else None,
        allow_private=True,
    )


@pytest.fixture
def one_store(tmp_path: Path) -> Iterator[SqlStore]:
    """The tests below exercise channels, not the backend: SQLite alone."""
    with sqlite_store(tmp_path) as opened:
        yield opened


@pytest.fixture
def webhook_sender() -> Iterator[WebhookSender]:
    sender = WebhookSender()
    yield sender
    sender.close()


def test_a_webhook_answering_500_three_times_gets_it_on_the_fourth_try(
    store: SqlStore, webhook_sender: WebhookSender
) -> None:
    log = HookLog(fail_first=3)
    clock = Clock()
    with webhook_receiver(log) as url:
        hook = channel(ChannelKind.WEBHOOK, url)
        log.secret = hook.secret
        store.notifications.save_channel(hook)
        notifier = Notifier(
            store.notifications,
            store.alerts,
            {ChannelKind.WEBHOOK: webhook_sender},
            clock_ms=clock,
            timing=FAST,
        )
        notifier.on_alert_changed(change())
        for _ in range(4):
            notifier.run_once()
            clock.now_ms += 10_000  # past every backoff of FAST
        assert log.wait_for(1)
    assert len(log.requests) == 4
    # the same id on every retry: the receiver can drop a duplicate
    assert len({headers["webhook-id"] for headers, _ in log.requests}) == 1
    body = log.verified[0]
    assert body["alerts"][0]["device_id"] == "ac-meter-1"
    assert body["alerts"][0]["severity"] == "critical"
    (delivery,) = store.notifications.deliveries(tenant_id="default", status=None, limit=10)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 4)
    attempts = store.notifications.attempts(delivery.delivery_id, tenant_id="default")
    assert [(a.ok, a.detail) for a in attempts] == [(False, "HTTP 500")] * 3 + [(True, "HTTP 200")]


def test_dead_letters_and_manual_redelivery(
    one_store: SqlStore, webhook_sender: WebhookSender
) -> None:
    log = HookLog(fail_first=10)
    clock = Clock()
    with webhook_receiver(log) as url:
        hook = channel(ChannelKind.WEBHOOK, url)
        log.secret = hook.secret
        one_store.notifications.save_channel(hook)
        notifier = Notifier(
            one_store.notifications,
            one_store.alerts,
            {ChannelKind.WEBHOOK: webhook_sender},
            clock_ms=clock,
            timing=FAST,
        )
        notifier.on_alert_changed(change())
        for _ in range(8):
            notifier.run_once()
            clock.now_ms += 60_000
        (dead,) = one_store.notifications.deliveries(
            tenant_id="default", status=DeliveryStatus.DEAD, limit=10
        )
        assert dead.attempts == 5
        assert (
            one_store.notifications.redeliver(dead.delivery_id, tenant_id="t2", now_ms=clock.now_ms)
            is None
        )
        log.fail_first = 0
        one_store.notifications.redeliver(
            dead.delivery_id, tenant_id="default", now_ms=clock.now_ms
        )
        notifier.run_once()
        assert log.wait_for(1)
    again = one_store.notifications.get_delivery(dead.delivery_id, tenant_id="default")
    assert again is not None
    assert (again.status, again.attempts) == (DeliveryStatus.DELIVERED, 6)


def test_private_targets_need_an_allowance(
    one_store: SqlStore, webhook_sender: WebhookSender
) -> None:
    log = HookLog()
    with webhook_receiver(log) as url:
        hook = channel(ChannelKind.WEBHOOK, url)
        one_store.notifications.save_channel(Channel(**{**_fields(hook), "allow_private": False}))
        notifier = Notifier(
            one_store.notifications,
            one_store.alerts,
            {ChannelKind.WEBHOOK: webhook_sender},
            timing=FAST,
        )
        notifier.on_alert_changed(change())
        notifier.run_once()
    assert log.requests == []
    (delivery,) = one_store.notifications.deliveries(tenant_id="default", status=None, limit=10)
    (attempt,) = one_store.notifications.attempts(delivery.delivery_id, tenant_id="default")
    assert attempt.detail.startswith("blocked:")
    assert "127.0.0.1" in attempt.detail


def test_email_grouped_and_filtered_by_severity(one_store: SqlStore) -> None:
    mailbox = Mailbox()
    clock = Clock()
    with smtp_server(mailbox) as port:
        mail = channel(
            ChannelKind.EMAIL,
            "ops@example.org, ana@example.org",
            group_window_s=30,
            min_severity=Severity.MAJOR,
        )
        one_store.notifications.save_channel(mail)
        sender = EmailSender(SmtpServer("127.0.0.1", port))
        notifier = Notifier(
            one_store.notifications,
            one_store.alerts,
            {ChannelKind.EMAIL: sender},
            clock_ms=clock,
            timing=FAST,
        )
        notifier.on_alert_changed(change("a1", "ac-meter-1"))
        notifier.on_alert_changed(change("a2", "ac-meter-2", Severity.MAJOR))
        notifier.on_alert_changed(change("a3", "ac-meter-3", Severity.INFO))  # below the channel's
        notifier.run_once()
        assert mailbox.messages == []  # held for the group window
        clock.now_ms += 30_000
        notifier.run_once()
        assert mailbox.wait_for(1)
    (message,) = mailbox.messages
    assert message["Subject"] == "[Wattline] raised critical: Low voltage on ac-meter-1 (+1 more)"
    text = message.get_payload()
    assert isinstance(text, str)
    assert "ac-meter-2" in text
    assert "ac-meter-3" not in text


def test_mqtt_channel_publishes_on_its_topic(one_store: SqlStore) -> None:
    topic = f"test/{uuid.uuid4().hex}/alerts"
    got: list[bytes] = []
    arrived = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda _c, _u, m: (got.append(m.payload), arrived.set())
    subscribed = threading.Event()
    client.on_subscribe = lambda *_args: subscribed.set()
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    try:
        client.subscribe(topic, qos=1)
        assert subscribed.wait(5)
        one_store.notifications.save_channel(channel(ChannelKind.MQTT, topic))
        sender = MqttSender(MqttTarget("127.0.0.1", 1883))
        notifier = Notifier(
            one_store.notifications, one_store.alerts, {ChannelKind.MQTT: sender}, timing=FAST
        )
        notifier.on_alert_changed(change())
        notifier.run_once()
        assert arrived.wait(5)
    finally:
        client.disconnect()
        client.loop_stop()
    assert orjson.loads(got[0])["alerts"][0]["alert_id"] == "a1"


def _fields(value: object) -> dict[str, object]:
    return {name: getattr(value, name) for name in value.__slots__}  # type: ignore[attr-defined]


class LocalInternet(httpcore.NetworkBackend):
    """The TCP layer under the webhook sender: every public address it is asked for is
    this machine's receiver (a stand-in for the internet), and it notes what it was asked."""

    def __init__(self, port: int) -> None:
        self.asked: list[tuple[str, int]] = []
        self._port = port
        self._tcp = httpcore.SyncBackend()

    def connect_tcp(
        self, host: str, port: int, *args: Any, **kwargs: Any
    ) -> httpcore.NetworkStream:
        self.asked.append((host, port))
        return self._tcp.connect_tcp("127.0.0.1", self._port, *args, **kwargs)


def test_the_webhook_connects_to_the_checked_address_not_a_second_lookup() -> None:
    """DNS rebinding: the name answers a public address to the check and 127.0.0.1
    to any later lookup. The request goes to the checked address, with the name in
    the Host header, and the name is resolved once."""
    lookups: list[str] = []

    def rebinding(host: str, _port: int) -> list[str]:
        lookups.append(host)
        return ["93.184.216.34"] if len(lookups) == 1 else ["127.0.0.1"]

    log = HookLog()
    with webhook_receiver(log) as url:
        port = int(url.split(":")[2].split("/")[0])
        internet = LocalInternet(port)
        sender = WebhookSender(resolve=rebinding, tcp=internet)
        hook = channel(ChannelKind.WEBHOOK, "http://hooks.rebind.example:8080/hook")
        log.secret = hook.secret
        ok, detail = sender.send(
            Channel(**{**_fields(hook), "allow_private": False}),
            Delivery(
                "d1",
                "default",
                hook.channel_id,
                [],
                '{"alerts": []}',
                DeliveryStatus.PENDING,
                0,
                T0,
                None,
                T0,
                T0,
            ),
        )
        sender.close()
    assert (ok, detail) == (True, "HTTP 200")
    assert internet.asked == [("93.184.216.34", 8080)]
    assert lookups == ["hooks.rebind.example"]
    ((headers, _body),) = log.requests
    assert headers["host"] == "hooks.rebind.example:8080"
    assert log.verified == [{"alerts": []}]
