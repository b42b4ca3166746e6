"""The home-sensor format: ``HyperVolt/sensors/{location}/{sensor_type}``.

The payload is a bare number, or ``{"value": n, "timestamp": ...}``. Without a
timestamp the reading is stamped with its arrival time truncated to the second.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from wattline.model.messages import Interpreted, Reading, RejectReason
from wattline.protocols.adapters.base import Payload, PrefixedAdapter, telemetry
from wattline.protocols.errors import ProtocolError
from wattline.protocols.timestamps import arrival_second_ms, parse_device_timestamp_ms
from wattline.protocols.topics import levels_under, topic_filter
from wattline.protocols.validation import Limits, check_device_id, parse_value

# sensor_type (compared in lower case) -> metric; values are taken as sent.
METRICS = {
    "ldr": "light_ldr",  # raw light-dependent-resistor reading, no physical unit
    "current": "current_a",
    "temperature": "temperature_c",
    "humidity": "humidity_pct",
}
_NOT_IN_DEVICE_ID = re.compile(r"[^A-Za-z0-9_-]")


def location_device_id(location: str) -> str:
    """The device id for a location: every character outside [A-Za-z0-9_-] becomes '_'.

    "living room" and "living_room" therefore name the same device.
    """
    return check_device_id(_NOT_IN_DEVICE_ID.sub("_", location))


@dataclass(frozen=True, slots=True)
class HyperVoltAdapter(PrefixedAdapter):
    name: ClassVar[str] = "hypervolt"
    prefix: str = "HyperVolt/sensors"

    def subscriptions(self) -> list[str]:
        return [topic_filter(self.prefix, "+", "+")]

    def parse(
        self, topic: str, payload: Payload, received_ms: int, limits: Limits
    ) -> Interpreted | None:
        levels = levels_under(topic, self.prefix)
        if levels is None or len(levels) != 2 or levels[1].lower() not in METRICS:
            return None
        device_id = location_device_id(levels[0])
        metric = METRICS[levels[1].lower()]
        body = payload.decode()
        ts_ms = arrival_second_ms(received_ms)
        if isinstance(body, dict):
            if "value" not in body:
                raise ProtocolError(RejectReason.BAD_VALUE, "value is missing")
            if "timestamp" in body:
                ts_ms = parse_device_timestamp_ms(body["timestamp"])
            body = body["value"]
        elif isinstance(body, list):
            raise ProtocolError(
                RejectReason.BAD_SHAPE, 'payload must be a number or {"value": n, "timestamp": t}'
            )
        reading = Reading(device_id, ts_ms, {metric: parse_value(levels[1], body)})
        return telemetry(reading, received_ms, limits, expected=metric)
