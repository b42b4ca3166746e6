"""The smart-plug format: ``smartplug/{id}/telemetry`` and ``smartplug/{id}/status``.

Telemetry: ``{"voltage": V, "current": A, "power": W, "relay_state": on/off,
"timestamp": epoch s|ms or ISO 8601}``. Status: a connection word or
``{"status": ...}``, or the plug's answer to a command, ``{"relay_state": bool,
"power": W}``, which is stored as a reading (and completes the command). The
``control`` and ``config`` topics flow platform -> device and are not ingested.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from wattline.model.messages import Interpreted, Reading, RejectReason
from wattline.protocols.adapters.base import (
    STATE_WORDS,
    Payload,
    PrefixedAdapter,
    connection_status,
    mapped_metrics,
    require_object,
    telemetry,
)
from wattline.protocols.errors import ProtocolError
from wattline.protocols.timestamps import parse_device_timestamp_ms
from wattline.protocols.validation import Limits, parse_switch

# device field -> Wattline metric; values are taken as sent, in these units.
FIELDS = {"voltage": "voltage_v", "current": "current_a", "power": "power_w"}
KINDS = ("telemetry", "status")


@dataclass(frozen=True, slots=True)
class SmartPlugAdapter(PrefixedAdapter):
    name: ClassVar[str] = "smartplug"
    prefix: str = "smartplug"

    def subscriptions(self) -> list[str]:
        return self.per_device_filters(KINDS)

    def parse(
        self, topic: str, payload: Payload, received_ms: int, limits: Limits
    ) -> Interpreted | None:
        found = self.device_and_kind(topic, KINDS)
        if found is None:
            return None
        device_id, kind = found
        if kind == "status":
            body = payload.word_or_decode(STATE_WORDS)
            if isinstance(body, dict) and "relay_state" in body:
                return _relay_status(device_id, body, received_ms, limits)
            if isinstance(body, dict):
                body = body.get("status", body.get("state"))
            return connection_status(device_id, body, received_ms)
        return _telemetry(device_id, payload, received_ms, limits)


def _telemetry(device_id: str, payload: Payload, received_ms: int, limits: Limits) -> Interpreted:
    body = require_object(payload.decode(), "smart-plug telemetry")
    if "timestamp" not in body:
        raise ProtocolError(RejectReason.BAD_TIMESTAMP, "timestamp is missing")
    metrics = mapped_metrics(body, FIELDS)
    if "relay_state" in body:
        metrics["relay_state"] = parse_switch("relay_state", body["relay_state"])
    reading = Reading(device_id, parse_device_timestamp_ms(body["timestamp"]), metrics)
    return telemetry(
        reading, received_ms, limits, expected="voltage, current, power or relay_state"
    )


def _relay_status(
    device_id: str, body: dict[str, object], received_ms: int, limits: Limits
) -> Interpreted:
    """The status update a plug sends after a command: its relay, and its power."""
    metrics = mapped_metrics(body, FIELDS)
    metrics["relay_state"] = parse_switch("relay_state", body["relay_state"])
    ts_ms = parse_device_timestamp_ms(body["timestamp"]) if "timestamp" in body else received_ms
    return telemetry(
        Reading(device_id, ts_ms, metrics), received_ms, limits, expected="relay_state"
    )
