"""What a reconnecting client missed since a timestamp, read from the store (bounded).

Served before the live messages of the same subscription. Readings by their
timestamp: after ``since_ms`` up to now (plus the future skew a device may
have), oldest first per device, at most ``MAX_DEVICES`` devices and
``MAX_READINGS`` readings; ``truncated`` says the client should page the rest
from the REST API (``GET /api/v1/devices/{id}/telemetry``).

``since_ms`` is one instant for every device, or one per device (a client
resuming from the last reading it has of each, without a hole before it):
then only the devices it names are caught up.

Alert changes (for a subscription with the ``alert`` kind) by the time of each
alert's latest change: one event per alert changed after ``since_ms``, in its
current state, at most ``MAX_ALERT_CHANGES``; ``alerts_truncated`` says the
client should reload the alert list (``GET /api/v1/alerts``). Both are merged
oldest first (``merged``).

A live message that a catch-up already covered is not sent again (``Served``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from wattline.live.events import EventKind, LiveEvent, alert_event
from wattline.live.hub import Outgoing
from wattline.live.subscriptions import Subscription
from wattline.model.alerts import Alert, AlertChange, ChangeKind
from wattline.model.devices import Device
from wattline.storage.ports import IngestStore, PointReader

MAX_DEVICES = 100
MAX_READINGS = 10_000
# Live messages a client's buffer may hold beyond its bound while a catch-up is
# sent to it (``BoundedBuffer.headroom``): sending 10,000 readings takes a
# second or two, during which a whole-fleet subscription keeps receiving.
CATCH_UP_HEADROOM = MAX_READINGS
MAX_ALERT_CHANGES = 1_000
# Before a catch-up reads, staged readings are folded: at most this many folds
# of this many devices each (a collector folds them within a second anyway).
_FOLDS_BEFORE_CATCH_UP = 10
_DEVICES_PER_FOLD = 1_000
# Readings may carry timestamps this far ahead of the server's clock (the
# ingest's WATTLINE_MAX_FUTURE_SKEW_S default); a catch-up covers them too.
FUTURE_SKEW_MS = 300_000


@dataclass(frozen=True, slots=True)
class Missed:
    events: list[LiveEvent]
    truncated: bool
    alerts_truncated: bool = False

    def count(self, kind: EventKind) -> int:
        return sum(1 for event in self.events if event.kind is kind)


class AlertChanges(Protocol):
    """The store's alerts by their latest change (``SqlAlerts.changed_since``)."""

    def changed_since(
        self,
        *,
        tenant_id: str,
        since_ms: int,
        until_ms: int,
        device_ids: Sequence[str] | None,
        limit: int,
    ) -> list[Alert]: ...


def fold_staged(store: IngestStore) -> None:
    """Fold the readings a collector has committed staged and not yet folded (ADR 0033),
    so that the store answers for every reading the live stream has sent."""
    for _ in range(_FOLDS_BEFORE_CATCH_UP):
        if store.fold(_DEVICES_PER_FOLD) is None:
            return


def wants_alerts(subscription: Subscription) -> bool:
    """Whether a subscription receives alert changes at all (as ``Subscription.matches``
    decides live: alert events carry no device type or tags)."""
    return EventKind.ALERT in subscription.kinds and not (subscription.types or subscription.tags)


def change_event(alert: Alert) -> LiveEvent:
    """An alert's latest change as the live event that announced it."""
    kind = ChangeKind(alert.last_change or ChangeKind.RAISED.value)
    ts_ms = alert.changed_ms if alert.changed_ms is not None else alert.last_seen_ms
    return alert_event(AlertChange.of(kind, alert, ts_ms))


def missed_alerts(  # noqa: PLR0913 - the source, the range and its filter
    source: AlertChanges,
    *,
    tenant_id: str,
    subscription: Subscription,
    since_ms: int,
    now_ms: int,
    limit: int = MAX_ALERT_CHANGES,
) -> Missed:
    """The subscription's alerts that changed after ``since_ms``, oldest change first."""
    if not wants_alerts(subscription):
        return Missed([], truncated=False)
    alerts = source.changed_since(
        tenant_id=tenant_id,
        since_ms=since_ms,
        until_ms=now_ms + FUTURE_SKEW_MS,
        device_ids=sorted(subscription.devices) if subscription.devices else None,
        limit=limit + 1,
    )
    events = [e for e in map(change_event, alerts[:limit]) if subscription.matches(e)]
    return Missed(events, truncated=False, alerts_truncated=len(alerts) > limit)


def merged(readings: Sequence[LiveEvent], alerts: Sequence[LiveEvent]) -> list[LiveEvent]:
    """One catch-up, oldest first; at one instant a reading before the alert it raised.

    Stable: the readings of one device and the changes of one alert keep their order."""
    return sorted([*readings, *alerts], key=lambda e: (e.ts_ms, e.kind is EventKind.ALERT))


@dataclass(frozen=True, slots=True)
class Served:
    """What a catch-up sent: live messages it covers are skipped for a while.

    A reading is covered when the same (device, timestamp) was sent; an alert
    change when the catch-up sent that alert as of the same time or later (the
    catch-up carries each alert's current state, so an older change still on
    its way would step the client back)."""

    readings: frozenset[tuple[str | None, int]] = frozenset()
    alerts: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, messages: Iterable[Outgoing]) -> Served:
        readings: set[tuple[str | None, int]] = set()
        alerts: dict[str, int] = {}
        for m in messages:
            if m.kind == EventKind.READING.value:
                readings.add((m.device_id, m.ts_ms))
            elif m.kind == EventKind.ALERT.value and m.ref is not None:
                alerts[m.ref] = max(m.ts_ms, alerts.get(m.ref, m.ts_ms))
        return cls(frozenset(readings), alerts)

    def __bool__(self) -> bool:
        return bool(self.readings or self.alerts)

    def covers(self, message: Outgoing) -> bool:
        if message.kind == EventKind.READING.value:
            return (message.device_id, message.ts_ms) in self.readings
        if message.kind == EventKind.ALERT.value and message.ref is not None:
            served = self.alerts.get(message.ref)
            return served is not None and message.ts_ms <= served
        return False


def catch_up_devices(
    subscription: Subscription, visible: Sequence[Device]
) -> tuple[list[str], bool]:
    """The visible devices the subscription covers (at most MAX_DEVICES), and whether cut."""
    chosen = [
        device.device_id
        for device in visible
        if (not subscription.devices or device.device_id in subscription.devices)
        and (not subscription.types or device.device_type in subscription.types)
        and (not subscription.tags or not subscription.tags.isdisjoint(device.tags))
    ]
    return chosen[:MAX_DEVICES], len(chosen) > MAX_DEVICES


def missed_readings(  # noqa: PLR0913 - the reader, the range and its filter
    reader: PointReader,
    *,
    tenant_id: str,
    device_ids: Sequence[str],
    subscription: Subscription,
    since_ms: int | Mapping[str, int],
    now_ms: int,
) -> Missed:
    fields = sorted(subscription.metrics) or None
    events: list[LiveEvent] = []
    truncated = False
    for device_id in device_ids:
        room = MAX_READINGS - len(events)
        if room <= 0:
            truncated = True
            break
        after = since_ms if isinstance(since_ms, int) else since_ms.get(device_id)
        if after is None:
            continue
        points = reader.raw_points(device_id, after + 1, now_ms + FUTURE_SKEW_MS, fields, room + 1)
        if len(points) > room:
            truncated = True
            points = points[:room]
        events.extend(
            LiveEvent(
                EventKind.READING,
                tenant_id,
                device_id,
                point.ts_ms,
                {"metrics": point.metrics, "seq": point.seq},
            )
            for point in points
        )
    return Missed(events, truncated)
