"""Where alerts are sent, and the record of every attempt. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from wattline.model.alerts import Severity


class ChannelKind(StrEnum):
    WEBHOOK = "webhook"  # an HTTPS POST signed per Standard Webhooks
    EMAIL = "email"  # over the configured SMTP server
    MQTT = "mqtt"  # a message on a topic of the broker


@dataclass(frozen=True, slots=True)
class Routing:
    """Which alerts a channel hears of, and when (Alertmanager's route, per channel)."""

    # the least urgent severity sent: WARNING sends critical ... warning, not info
    min_severity: Severity = Severity.INFO
    # only these rules' alerts; empty: every rule of the tenant
    rule_ids: tuple[str, ...] = ()
    # alerts raised within this many seconds of the first go out as one message
    group_window_s: float = 0.0
    # an open, unacknowledged alert is sent again after this long; 0: never
    repeat_interval_s: float = 0.0
    # "22:00".."07:00" in the recipient's time zone: only critical alerts go out
    quiet_start: str | None = None
    quiet_end: str | None = None
    timezone: str = "UTC"
    # also tell the channel when an alert clears
    send_cleared: bool = True


@dataclass(frozen=True, slots=True)
class Channel:
    channel_id: str
    tenant_id: str
    name: str
    kind: ChannelKind
    # webhook: the URL; email: the recipients, comma-separated; mqtt: the topic
    target: str
    routing: Routing = field(default_factory=Routing)
    # the webhook's signing secret ("whsec_" + base64)
    secret: str | None = None
    # an admin allowed this webhook to reach loopback or private addresses
    allow_private: bool = False
    enabled: bool = True
    created_ms: int = 0


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # not yet delivered; retried at next_attempt_ms
    DELIVERED = "delivered"
    DEAD = "dead"  # every retry failed: in the dead-letter list, redelivered by hand


@dataclass(frozen=True, slots=True)
class Delivery:
    delivery_id: str
    tenant_id: str
    channel_id: str
    alert_ids: Sequence[str]
    payload: str  # the JSON body, exactly as signed and sent
    status: DeliveryStatus
    attempts: int
    next_attempt_ms: int
    last_error: str | None
    created_ms: int
    updated_ms: int


@dataclass(frozen=True, slots=True)
class Attempt:
    delivery_id: str
    attempt: int
    ts_ms: int
    ok: bool
    detail: str
