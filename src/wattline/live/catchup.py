"""What a reconnecting client missed since a timestamp, read from the store (bounded).

Served before the live messages of the same subscription. The range is by
reading timestamp: readings after ``since_ms`` up to now (plus the future
skew a device may have), oldest first per device, at most ``MAX_DEVICES``
devices and ``MAX_READINGS`` readings; ``truncated`` says the client should
page the rest from the REST API (``GET /api/v1/devices/{id}/telemetry``).

``since_ms`` is one instant for every device, or one per device (a client
resuming from the last reading it has of each, without a hole before it):
then only the devices it names are caught up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from wattline.live.events import EventKind, LiveEvent
from wattline.live.subscriptions import Subscription
from wattline.model.devices import Device
from wattline.storage.ports import PointReader

MAX_DEVICES = 100
MAX_READINGS = 10_000
# Live messages a client's buffer may hold beyond its bound while a catch-up is
# sent to it (``BoundedBuffer.headroom``): sending 10,000 readings takes a
# second or two, during which a whole-fleet subscription keeps receiving.
CATCH_UP_HEADROOM = MAX_READINGS
# Readings may carry timestamps this far ahead of the server's clock (the
# ingest's WATTLINE_MAX_FUTURE_SKEW_S default); a catch-up covers them too.
FUTURE_SKEW_MS = 300_000


@dataclass(frozen=True, slots=True)
class Missed:
    events: list[LiveEvent]
    truncated: bool


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
