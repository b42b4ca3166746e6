"""Alert rules, alerts and their changes: the data the evaluator, the store, the
API, the notifiers and the live stream share. Pure.

A rule is data: its kind says which condition applies (``alerts/conditions.py``),
its params hold that condition's numbers. An alert is one (rule, device) pair's
trouble: at most one is open per pair, so a condition that holds for hours is
one alert with a growing occurrence count, never a storm.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Severity(StrEnum):
    """From the most to the least urgent (ThingsBoard's alarm severities)."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for critical ... 4 for info: lower is more urgent."""
        return _SEVERITY_RANKS[self]


_SEVERITY_RANKS = {s: i for i, s in enumerate(Severity)}


class RuleKind(StrEnum):
    THRESHOLD = "threshold"  # above/below a limit, with hysteresis and a minimum duration
    RANGE = "range"  # outside [low, high]
    RATE = "rate"  # changes faster than a limit per minute
    STUCK = "stuck"  # the same value for N minutes
    ABSENCE = "absence"  # no telemetry for N minutes
    OFFLINE = "offline"  # the device said offline (status, MQTT last will)
    SEQ_GAP = "seq_gap"  # sequence numbers skipped: readings lost
    COUNTER_RESET = "counter_reset"  # a cumulative counter went backwards
    ENERGY_JUMP = "energy_jump"  # a counter rose faster than the device could draw
    QUARANTINE_SPIKE = "quarantine_spike"  # many of a device's messages quarantined
    ENERGY_BUDGET = "energy_budget"  # kWh per local day above a limit


class ScopeKind(StrEnum):
    DEVICE = "device"
    TYPE = "type"
    TAG = "tag"
    TENANT = "tenant"


@dataclass(frozen=True, slots=True)
class Rule:
    rule_id: str
    tenant_id: str
    name: str
    kind: RuleKind
    severity: Severity
    scope: ScopeKind
    # the device id, device type or tag the scope names; None for the whole tenant
    scope_value: str | None
    # the metric the condition reads; None for kinds that read none (absence, offline)
    metric: str | None
    params: Mapping[str, Any]
    enabled: bool = True
    version: int = 1
    created_ms: int = 0
    updated_ms: int = 0

    def applies_to(self, device_id: str, device_type: str | None, tags: tuple[str, ...]) -> bool:
        if not self.enabled:
            return False
        if self.scope is ScopeKind.DEVICE:
            return device_id == self.scope_value
        if self.scope is ScopeKind.TYPE:
            return device_type == self.scope_value
        if self.scope is ScopeKind.TAG:
            return self.scope_value in tags
        return True


class AlertOrigin(Protocol):
    """What raises an alert: a rule, or a detector that is not a rule (anomaly findings,
    ``intelligence/finding_alerts.py``). The store needs only these."""

    @property
    def rule_id(self) -> str: ...

    @property
    def tenant_id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def severity(self) -> Severity: ...


class AlertStatus(StrEnum):
    ACTIVE = "active"
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: str
    tenant_id: str
    rule_id: str
    rule_name: str
    device_id: str
    severity: Severity
    status: AlertStatus
    # the value that raised it (or the last one seen while it stays active)
    value: float | None
    message: str
    first_seen_ms: int
    last_seen_ms: int
    occurrences: int = 1
    acknowledged_by: str | None = None
    acknowledged_ms: int | None = None
    cleared_ms: int | None = None
    cleared_by: str | None = None  # None: cleared by the evaluator
    # the latest change and its time (None for an alert stored before they were kept)
    last_change: str | None = None
    changed_ms: int | None = None

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_ms is not None

    @property
    def open(self) -> bool:
        """Only an active alert is open: a cleared one is history, and the next
        breach of its rule on its device opens a new one."""
        return self.status is AlertStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class AlertComment:
    alert_id: str
    author: str
    text: str
    ts_ms: int


class ChangeKind(StrEnum):
    RAISED = "raised"
    REPEATED = "repeated"  # an open alert seen again (its count grew)
    CLEARED = "cleared"
    ACKNOWLEDGED = "acknowledged"
    COMMENTED = "commented"


@dataclass(frozen=True, slots=True)
class AlertChange:
    """One thing that happened to an alert, as the live stream and notifiers see it."""

    change: ChangeKind
    tenant_id: str
    alert_id: str
    rule_id: str
    rule_name: str
    device_id: str
    severity: Severity
    status: AlertStatus
    acknowledged: bool
    value: float | None
    message: str
    ts_ms: int
    occurrences: int = 1
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, change: ChangeKind, alert: Alert, ts_ms: int) -> AlertChange:
        return cls(
            change=change,
            tenant_id=alert.tenant_id,
            alert_id=alert.alert_id,
            rule_id=alert.rule_id,
            rule_name=alert.rule_name,
            device_id=alert.device_id,
            severity=alert.severity,
            status=alert.status,
            acknowledged=alert.acknowledged,
            value=alert.value,
            message=alert.message,
            ts_ms=ts_ms,
            occurrences=alert.occurrences,
        )
