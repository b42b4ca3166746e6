"""Request and response bodies of the alert routes: rules, alerts, channels.

A rule's body is one model per kind (discriminated on ``kind``), so a wrong
parameter is a 422 naming it: ``["body", "threshold", "params", "limit"]``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from wattline.alerts.routing import parse_clock
from wattline.model.alerts import Alert, AlertComment, Rule, ScopeKind, Severity
from wattline.model.notifications import Attempt, Channel, Delivery
from wattline.model.times import iso_ms
from wattline.protocols.validation import METRIC_NAME_RE

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)
# Durations up to a week: longer is a report, not an alert.
MAX_DURATION_S = 7 * 86_400
MAX_MINUTES = 7 * 1440
MAX_RULES_PER_TENANT = 1_000
# pydantic searches a pattern: anchored, it must match the whole name
_METRIC_PATTERN = f"^{METRIC_NAME_RE.pattern}$"


class _Params(BaseModel):
    model_config = _STRICT


class ThresholdParams(_Params):
    op: Literal["above", "below"]
    limit: float
    hysteresis: float = Field(
        default=0.0, ge=0, description="how far back past the limit it clears"
    )
    duration_s: float = Field(
        default=0.0, ge=0, le=MAX_DURATION_S, description="held this long first"
    )


class RangeParams(_Params):
    low: float
    high: float
    hysteresis: float = Field(default=0.0, ge=0)
    duration_s: float = Field(default=0.0, ge=0, le=MAX_DURATION_S)

    @model_validator(mode="after")
    def _ordered(self) -> RangeParams:
        if self.low >= self.high:
            raise ValueError("low must be below high")
        return self


class RateParams(_Params):
    max_per_min: float = Field(gt=0)
    hysteresis: float = Field(default=0.0, ge=0)
    duration_s: float = Field(default=0.0, ge=0, le=MAX_DURATION_S)


class StuckParams(_Params):
    minutes: float = Field(gt=0, le=MAX_MINUTES)
    tolerance: float = Field(default=0.0, ge=0)


class AbsenceParams(_Params):
    minutes: float = Field(gt=0, le=MAX_MINUTES)


class OfflineParams(_Params):
    duration_s: float = Field(default=0.0, ge=0, le=MAX_DURATION_S)


class _EventParams(_Params):
    clear_after_s: float = Field(default=3600.0, gt=0, le=MAX_DURATION_S)


class SeqGapParams(_EventParams):
    min_missing: int = Field(default=1, ge=1, le=1_000_000)


class CounterResetParams(_EventParams):
    tolerance: float = Field(default=0.0, ge=0)


class EnergyJumpParams(_EventParams):
    max_power_w: float = Field(gt=0)


class QuarantineSpikeParams(_Params):
    count: int = Field(ge=1, le=10_000)
    window_s: float = Field(gt=0, le=86_400)


class EnergyBudgetParams(_Params):
    limit_kwh: float = Field(gt=0)
    timezone: str = Field(default="UTC", max_length=64)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value[:64]!r} is not an IANA time zone name") from None
        return value


class _RuleBase(BaseModel):
    model_config = _STRICT

    name: str = Field(min_length=1, max_length=200)
    severity: Severity = Severity.WARNING
    scope: ScopeKind = ScopeKind.TENANT
    scope_value: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="the device id, type or tag of the scope",
    )
    metric: str | None = Field(default=None, pattern=_METRIC_PATTERN, max_length=64)
    enabled: bool = True

    @model_validator(mode="after")
    def _scoped(self) -> _RuleBase:
        if self.scope is ScopeKind.TENANT and self.scope_value is not None:
            raise ValueError("scope_value must be omitted for scope 'tenant'")
        if self.scope is not ScopeKind.TENANT and self.scope_value is None:
            raise ValueError(f"scope {self.scope.value!r} needs a scope_value")
        return self


class _MetricRule(_RuleBase):
    metric: str = Field(pattern=_METRIC_PATTERN, max_length=64)


class ThresholdRule(_MetricRule):
    kind: Literal["threshold"]
    params: ThresholdParams


class RangeRule(_MetricRule):
    kind: Literal["range"]
    params: RangeParams


class RateRule(_MetricRule):
    kind: Literal["rate"]
    params: RateParams


class StuckRule(_MetricRule):
    kind: Literal["stuck"]
    params: StuckParams


class AbsenceRule(_RuleBase):
    kind: Literal["absence"]
    params: AbsenceParams


class OfflineRule(_RuleBase):
    kind: Literal["offline"]
    params: OfflineParams = Field(default_factory=OfflineParams)


class SeqGapRule(_RuleBase):
    kind: Literal["seq_gap"]
    params: SeqGapParams = Field(default_factory=SeqGapParams)


class CounterResetRule(_MetricRule):
    kind: Literal["counter_reset"]
    params: CounterResetParams = Field(default_factory=CounterResetParams)


class EnergyJumpRule(_MetricRule):
    kind: Literal["energy_jump"]
    params: EnergyJumpParams


class QuarantineSpikeRule(_RuleBase):
    kind: Literal["quarantine_spike"]
    params: QuarantineSpikeParams


class EnergyBudgetRule(_MetricRule):
    kind: Literal["energy_budget"]
    params: EnergyBudgetParams


RuleIn = Annotated[
    ThresholdRule
    | RangeRule
    | RateRule
    | StuckRule
    | AbsenceRule
    | OfflineRule
    | SeqGapRule
    | CounterResetRule
    | EnergyJumpRule
    | QuarantineSpikeRule
    | EnergyBudgetRule,
    Field(discriminator="kind"),
]


class RuleOut(BaseModel):
    rule_id: str
    name: str
    kind: str
    severity: str
    scope: str
    scope_value: str | None
    metric: str | None
    params: dict[str, Any]
    enabled: bool
    version: int
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, rule: Rule) -> RuleOut:
        return cls(
            rule_id=rule.rule_id,
            name=rule.name,
            kind=rule.kind.value,
            severity=rule.severity.value,
            scope=rule.scope.value,
            scope_value=rule.scope_value,
            metric=rule.metric,
            params=dict(rule.params),
            enabled=rule.enabled,
            version=rule.version,
            created_at=iso_ms(rule.created_ms),
            updated_at=iso_ms(rule.updated_ms),
        )


class RuleList(BaseModel):
    rules: list[RuleOut]


class RuleVersionOut(BaseModel):
    version: int
    saved_by: str
    saved_at: str
    definition: dict[str, Any]


class RuleVersions(BaseModel):
    versions: list[RuleVersionOut]


class CommentOut(BaseModel):
    author: str
    text: str
    at: str

    @classmethod
    def of(cls, comment: AlertComment) -> CommentOut:
        return cls(author=comment.author, text=comment.text, at=iso_ms(comment.ts_ms))


class AlertOut(BaseModel):
    alert_id: str
    rule_id: str
    rule_name: str
    device_id: str
    severity: str
    status: str
    acknowledged: bool
    value: float | None
    message: str
    first_seen: str
    last_seen: str
    occurrences: int
    acknowledged_by: str | None
    acknowledged_at: str | None
    cleared_at: str | None
    cleared_by: str | None
    comments: list[CommentOut] | None = None

    @classmethod
    def of(cls, alert: Alert, comments: list[AlertComment] | None = None) -> AlertOut:
        return cls(
            alert_id=alert.alert_id,
            rule_id=alert.rule_id,
            rule_name=alert.rule_name,
            device_id=alert.device_id,
            severity=alert.severity.value,
            status=alert.status.value,
            acknowledged=alert.acknowledged,
            value=alert.value,
            message=alert.message,
            first_seen=iso_ms(alert.first_seen_ms),
            last_seen=iso_ms(alert.last_seen_ms),
            occurrences=alert.occurrences,
            acknowledged_by=alert.acknowledged_by,
            acknowledged_at=iso_ms(alert.acknowledged_ms) if alert.acknowledged_ms else None,
            cleared_at=iso_ms(alert.cleared_ms) if alert.cleared_ms else None,
            cleared_by=alert.cleared_by,
            comments=[CommentOut.of(c) for c in comments] if comments is not None else None,
        )


class AlertPage(BaseModel):
    alerts: list[AlertOut]
    next_cursor: str | None = None


class AlertSummary(BaseModel):
    active: dict[str, int] = Field(description="active alerts by severity")
    unacknowledged: dict[str, int] = Field(description="of those, not yet acknowledged")
    total_active: int


class CommentIn(BaseModel):
    model_config = _STRICT
    text: str = Field(min_length=1, max_length=4000)


class RoutingIn(BaseModel):
    model_config = _STRICT

    min_severity: Severity = Severity.INFO
    rule_ids: list[str] = Field(default_factory=list, max_length=100)
    group_window_s: float = Field(default=0.0, ge=0, le=3600)
    repeat_interval_s: float = Field(default=0.0, ge=0, le=MAX_DURATION_S)
    quiet_start: str | None = Field(default=None, max_length=5, description="e.g. 22:00")
    quiet_end: str | None = Field(default=None, max_length=5, description="e.g. 07:00")
    timezone: str = Field(default="UTC", max_length=64, description="the recipient's time zone")
    send_cleared: bool = True

    @field_validator("quiet_start", "quiet_end")
    @classmethod
    def _clock(cls, value: str | None) -> str | None:
        if value is not None:
            parse_clock(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return EnergyBudgetParams._zone(value)  # noqa: SLF001 - one check of a zone name

    @model_validator(mode="after")
    def _both(self) -> RoutingIn:
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise ValueError("quiet hours need both quiet_start and quiet_end")
        return self


class ChannelIn(BaseModel):
    model_config = _STRICT

    name: str = Field(min_length=1, max_length=200)
    kind: Literal["webhook", "email", "mqtt"]
    target: str = Field(
        min_length=1,
        max_length=2000,
        description="webhook: the URL; email: recipients, comma-separated; mqtt: the topic",
    )
    routing: RoutingIn = Field(default_factory=RoutingIn)
    allow_private: bool = Field(
        default=False,
        description="let a webhook reach loopback or private addresses (platform admins)",
    )
    enabled: bool = True

    @model_validator(mode="after")
    def _target(self) -> ChannelIn:
        if self.kind == "webhook" and not self.target.startswith(("http://", "https://")):
            raise ValueError("a webhook target must be an http:// or https:// URL")
        if self.kind == "email" and any("@" not in r for r in self.target.split(",")):
            raise ValueError("an email target is addresses separated by commas")
        if self.kind == "mqtt" and any(c in self.target for c in "+#\0"):
            raise ValueError("an mqtt target is a topic without wildcards")
        return self


class ChannelOut(BaseModel):
    channel_id: str
    name: str
    kind: str
    target: str
    routing: dict[str, Any]
    allow_private: bool
    enabled: bool
    # shown once, when the channel is created: verify webhook signatures with it
    secret: str | None = None

    @classmethod
    def of(cls, channel: Channel, *, with_secret: bool = False) -> ChannelOut:
        routing = channel.routing
        return cls(
            channel_id=channel.channel_id,
            name=channel.name,
            kind=channel.kind.value,
            target=channel.target,
            routing={
                "min_severity": routing.min_severity.value,
                "rule_ids": list(routing.rule_ids),
                "group_window_s": routing.group_window_s,
                "repeat_interval_s": routing.repeat_interval_s,
                "quiet_start": routing.quiet_start,
                "quiet_end": routing.quiet_end,
                "timezone": routing.timezone,
                "send_cleared": routing.send_cleared,
            },
            allow_private=channel.allow_private,
            enabled=channel.enabled,
            secret=channel.secret if with_secret else None,
        )


class ChannelList(BaseModel):
    channels: list[ChannelOut]


class AttemptOut(BaseModel):
    attempt: int
    at: str
    ok: bool
    detail: str

    @classmethod
    def of(cls, attempt: Attempt) -> AttemptOut:
        return cls(
            attempt=attempt.attempt, at=iso_ms(attempt.ts_ms), ok=attempt.ok, detail=attempt.detail
        )


class DeliveryOut(BaseModel):
    delivery_id: str
    channel_id: str
    alert_ids: list[str]
    status: str
    attempts: int
    next_attempt_at: str
    last_error: str | None
    created_at: str
    attempt_log: list[AttemptOut] | None = None

    @classmethod
    def of(cls, delivery: Delivery, attempts: list[Attempt] | None = None) -> DeliveryOut:
        return cls(
            delivery_id=delivery.delivery_id,
            channel_id=delivery.channel_id,
            alert_ids=list(delivery.alert_ids),
            status=delivery.status.value,
            attempts=delivery.attempts,
            next_attempt_at=iso_ms(delivery.next_attempt_ms),
            last_error=delivery.last_error,
            created_at=iso_ms(delivery.created_ms),
            attempt_log=[AttemptOut.of(a) for a in attempts] if attempts is not None else None,
        )


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]
