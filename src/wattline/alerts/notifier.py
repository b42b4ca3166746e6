"""From alert changes to deliveries, and deliveries to their channels, with retries.

``on_alert_changed`` (the evaluator's listener) only queues the change. The
notifier's thread routes each change to the tenant's channels (``routing.py``),
holds changes of a channel for its group window so alerts raised together go out
as one message, stores each message as a delivery, and sends due deliveries:
every attempt is recorded with its outcome; a failure is retried with
exponential backoff, and after the last attempt the delivery is dead until
someone redelivers it (the API). Deliveries live in the database, so a restart
or another process taking over the lead picks up what is still pending.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import orjson

from wattline.alerts import routing
from wattline.model.alerts import AlertChange, AlertStatus, ChangeKind
from wattline.model.notifications import (
    Attempt,
    Channel,
    ChannelKind,
    Delivery,
    DeliveryStatus,
)
from wattline.model.times import iso_ms
from wattline.storage.base import StoreUnavailableError
from wattline.storage.sql.alerts import AlertFilter, SqlAlerts
from wattline.storage.sql.notifications import SqlNotifications

log = logging.getLogger("wattline.alerts")


class Sender(Protocol):
    def send(self, channel: Channel, delivery: Delivery) -> tuple[bool, str]: ...


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def change_json(change: AlertChange) -> dict[str, object]:
    return {
        "change": change.change.value,
        "alert_id": change.alert_id,
        "rule_id": change.rule_id,
        "rule_name": change.rule_name,
        "device_id": change.device_id,
        "severity": change.severity.value,
        "status": change.status.value,
        "acknowledged": change.acknowledged,
        "value": change.value,
        "message": change.message,
        "occurrences": change.occurrences,
        "at": iso_ms(change.ts_ms),
    }


def payload_of(tenant_id: str, changes: list[AlertChange], now_ms: int) -> str:
    document = {
        "type": "wattline.alerts",
        "tenant_id": tenant_id,
        "sent_at": iso_ms(now_ms),
        "alerts": [change_json(c) for c in changes],
    }
    return orjson.dumps(document).decode()


@dataclass(slots=True)
class _Group:
    flush_ms: int
    changes: list[AlertChange] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class NotifierTiming:
    # how often due deliveries and repeats are looked for
    poll_s: float = 1.0
    # channels of a tenant are re-read this often
    channels_ttl_s: float = 5.0
    retry: routing.RetryPolicy = field(default_factory=routing.RetryPolicy)


class Notifier:
    def __init__(
        self,
        store: SqlNotifications,
        alerts: SqlAlerts,
        senders: Mapping[ChannelKind, Sender],
        *,
        clock_ms: Callable[[], int] = _now_ms,
        timing: NotifierTiming | None = None,
    ) -> None:
        self._store = store
        self._alerts = alerts
        self._senders = senders
        self._clock_ms = clock_ms
        self._timing = timing or NotifierTiming()
        self._changes: queue.Queue[AlertChange] = queue.Queue(10_000)
        self._groups: dict[str, _Group] = {}
        self._channels: dict[str, tuple[int, list[Channel]]] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        # only the process leading the alert evaluation sends (None: always)
        self.leading: Callable[[], bool] = lambda: True

    def on_alert_changed(self, change: AlertChange) -> None:
        try:
            self._changes.put_nowait(change)
        except queue.Full:
            log.warning("notification queue full: alert %s not notified", change.alert_id)
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="wattline-notifier", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(15)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.leading():
                    self.run_once()
            except StoreUnavailableError as exc:
                # an outage is expected and retried: one line, not a traceback each pass
                log.warning("notifications: store unavailable, will retry: %s", exc)
            except Exception:
                log.exception("notification failed; continuing")
            self._wake.wait(self._timing.poll_s)
            self._wake.clear()

    def run_once(self) -> None:
        """Route queued changes, flush due groups, queue repeats, send due deliveries."""
        now_ms = self._clock_ms()
        while True:
            try:
                change = self._changes.get_nowait()
            except queue.Empty:
                break
            self._route(change, now_ms)
        self._flush_groups(now_ms)
        self._repeat(now_ms)
        self.send_due(now_ms)

    def _tenant_channels(self, tenant_id: str, now_ms: int) -> list[Channel]:
        cached = self._channels.get(tenant_id)
        if cached is None or now_ms - cached[0] > self._timing.channels_ttl_s * 1000:
            found = [c for c in self._store.channels(tenant_id=tenant_id) if c.enabled]
            cached = (now_ms, found)
            self._channels[tenant_id] = cached
        return cached[1]

    def _route(self, change: AlertChange, now_ms: int) -> None:
        for channel in self._tenant_channels(change.tenant_id, now_ms):
            if not routing.wants(channel.routing, change, now_ms):
                continue
            window_ms = int(channel.routing.group_window_s * 1000)
            group = self._groups.setdefault(channel.channel_id, _Group(now_ms + window_ms))
            group.changes.append(change)

    def _flush_groups(self, now_ms: int) -> None:
        for channel_id, group in list(self._groups.items()):
            if group.flush_ms > now_ms:
                continue
            del self._groups[channel_id]
            tenant_id = group.changes[0].tenant_id
            self._queue(channel_id, tenant_id, group.changes, now_ms)

    def _queue(
        self, channel_id: str, tenant_id: str, changes: list[AlertChange], now_ms: int
    ) -> None:
        delivery = Delivery(
            delivery_id="msg_" + uuid.uuid4().hex,
            tenant_id=tenant_id,
            channel_id=channel_id,
            alert_ids=tuple(dict.fromkeys(c.alert_id for c in changes)),
            payload=payload_of(tenant_id, changes, now_ms),
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_ms=now_ms,
            last_error=None,
            created_ms=now_ms,
            updated_ms=now_ms,
        )
        self._store.add_delivery(delivery, notified_ms=now_ms)

    def _repeat(self, now_ms: int) -> None:
        for tenant_id, (_, channels) in list(self._channels.items()):
            repeating = [c for c in channels if c.routing.repeat_interval_s > 0]
            if not repeating:
                continue
            open_alerts = self._alerts.alert_page(
                tenant_id=tenant_id,
                where=AlertFilter(status=AlertStatus.ACTIVE, acknowledged=False),
                after=None,
                limit=500,
            )
            for channel in repeating:
                due = [
                    AlertChange.of(ChangeKind.REPEATED, alert, now_ms)
                    for alert in open_alerts
                    if routing.repeat_due(
                        channel.routing,
                        alert,
                        self._store.last_notified(channel.channel_id, alert.alert_id),
                        now_ms,
                    )
                ]
                if due:
                    self._queue(channel.channel_id, tenant_id, due, now_ms)

    def send_due(self, now_ms: int) -> int:
        """Attempt every due delivery once; how many were attempted."""
        due = self._store.due_deliveries(now_ms)
        for delivery in due:
            self._attempt(delivery, now_ms)
        return len(due)

    def _attempt(self, delivery: Delivery, now_ms: int) -> None:
        channel = self._store.get_channel(delivery.channel_id, tenant_id=delivery.tenant_id)
        attempt_no = delivery.attempts + 1
        if channel is None:
            ok, detail = False, "the channel was deleted"
        else:
            sender = self._senders.get(channel.kind)
            if sender is None:
                ok, detail = False, f"no {channel.kind.value} sender is configured"
            else:
                ok, detail = sender.send(channel, delivery)
        attempt = Attempt(delivery.delivery_id, attempt_no, self._clock_ms(), ok, detail)
        if ok:
            status, next_ms = DeliveryStatus.DELIVERED, now_ms
        else:
            delay = self._timing.retry.delay_ms(attempt_no) if channel is not None else None
            status = DeliveryStatus.PENDING if delay is not None else DeliveryStatus.DEAD
            next_ms = now_ms + (delay or 0)
            log.warning(
                "delivery %s attempt %d failed: %s%s",
                delivery.delivery_id,
                attempt_no,
                detail,
                "" if delay is not None else " (dead letter)",
            )
        self._store.record_attempt(delivery, attempt, status, next_ms)
