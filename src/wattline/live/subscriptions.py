"""Which events a client receives: who it is (``Audience``) and what it asked for.

Pure. An ``Audience`` is the REST API's visibility rule (api/tenancy.py) as a
filter: the caller's tenant's devices, plus the devices shared with the
calling user. A ``Subscription`` narrows that: by device, type, tag (any of
each listed; a dimension left empty does not narrow), by metric (readings
carrying one of them, shown with only those), and by kind of event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from wattline.live.events import EventKind, LiveEvent

DEFAULT_KINDS = frozenset({EventKind.READING, EventKind.STATUS})
# A metric selection that selects every metric of a reading
ALL_METRICS: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Audience:
    tenant_id: str
    # devices of other tenants shared with the calling user
    shared: frozenset[str] = frozenset()

    def may_see(self, event: LiveEvent) -> bool:
        if event.tenant_id == self.tenant_id:
            return True
        return event.device_id is not None and event.device_id in self.shared


@dataclass(frozen=True, slots=True)
class Subscription:
    devices: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    metrics: frozenset[str] = frozenset()
    kinds: frozenset[EventKind] = DEFAULT_KINDS

    def matches(self, event: LiveEvent) -> bool:
        """Whether the event is one this subscription asked for (visibility aside)."""
        if event.kind not in self.kinds:
            return False
        if event.device_id is None:
            # a tenant-wide alert: only for subscriptions not narrowed to devices
            return not (self.devices or self.types or self.tags)
        if (
            (self.devices and event.device_id not in self.devices)
            or (self.types and event.device_type not in self.types)
            or (self.tags and self.tags.isdisjoint(event.tags))
        ):
            return False
        if self.metrics and event.kind is EventKind.READING:
            return not self.metrics.isdisjoint(_metrics(event))
        return True


def wanted_metrics(
    subscriptions: Iterable[Subscription], event: LiveEvent
) -> frozenset[str] | None:
    """For a client's subscriptions and one event: None when none matches; empty when
    the event goes out whole; else the metrics of a reading to send (the union of
    the matching subscriptions' metric filters)."""
    metrics: set[str] = set()
    matched = False
    for subscription in subscriptions:
        if not subscription.matches(event):
            continue
        if not subscription.metrics or event.kind is not EventKind.READING:
            return ALL_METRICS
        matched = True
        metrics |= subscription.metrics
    return frozenset(metrics) if matched else None


def _metrics(event: LiveEvent) -> Mapping[str, float]:
    metrics: Mapping[str, float] = event.payload.get("metrics", {})
    return metrics
