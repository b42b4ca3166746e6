"""Shelly relays: Gen1 (``shellies/{id}/relay/0/power|energy``) and Gen2 (``{id}/status/switch:0``).

Neither carries a measurement time, so readings are stamped with the arrival
time truncated to the second (see docs/protocols.md for what that means for
redeliveries).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from wattline.model.messages import Interpreted, Reading
from wattline.protocols.adapters.base import (
    Payload,
    PrefixedAdapter,
    mapped_metrics,
    require_object,
    telemetry,
)
from wattline.protocols.timestamps import arrival_second_ms
from wattline.protocols.topics import levels_under, topic_filter
from wattline.protocols.validation import Limits, check_device_id, parse_switch, parse_value

# Gen1 reports energy in watt-minutes.
WATT_MINUTES_PER_WH = 60
GEN1_METRICS = {"power": "power_w", "energy": "energy_wh"}
# Gen2 switch status field -> metric; aenergy.total is already in Wh.
GEN2_FIELDS = {"apower": "power_w", "voltage": "voltage_v", "current": "current_a"}
GEN2_COMPONENT = "switch:0"


@dataclass(frozen=True, slots=True)
class ShellyGen1Adapter(PrefixedAdapter):
    name: ClassVar[str] = "shelly_gen1"
    prefix: str = "shellies"

    def subscriptions(self) -> list[str]:
        return [topic_filter(self.prefix, "+", "relay", "0", kind) for kind in GEN1_METRICS]

    def parse(
        self, topic: str, payload: Payload, received_ms: int, limits: Limits
    ) -> Interpreted | None:
        levels = levels_under(topic, self.prefix)
        if levels is None or len(levels) != 4 or levels[1:3] != ["relay", "0"]:
            return None
        metric = GEN1_METRICS.get(levels[3])
        if metric is None:
            return None
        device_id = check_device_id(levels[0])
        value = parse_value(levels[3], payload.decode())
        if metric == "energy_wh":
            value = parse_value("energy", value / WATT_MINUTES_PER_WH)
        reading = Reading(device_id, arrival_second_ms(received_ms), {metric: value})
        return telemetry(reading, received_ms, limits, expected=metric)


@dataclass(frozen=True, slots=True)
class ShellyGen2Adapter(PrefixedAdapter):
    """Gen2 topics start with the device's own MQTT prefix, which is its id by default.

    `prefix` is an optional parent level ('' by default): with ``home`` the
    topic is ``home/{id}/status/switch:0``.
    """

    name: ClassVar[str] = "shelly_gen2"
    prefix: str = ""

    def subscriptions(self) -> list[str]:
        return [topic_filter(self.prefix, "+", "status", GEN2_COMPONENT)]

    def parse(
        self, topic: str, payload: Payload, received_ms: int, limits: Limits
    ) -> Interpreted | None:
        levels = levels_under(topic, self.prefix)
        if levels is None or len(levels) != 3 or levels[1:] != ["status", GEN2_COMPONENT]:
            return None
        device_id = check_device_id(levels[0])
        body = require_object(payload.decode(), GEN2_COMPONENT)
        metrics = mapped_metrics(body, GEN2_FIELDS)
        if "aenergy" in body:
            aenergy = require_object(body["aenergy"], "aenergy")
            if "total" in aenergy:
                metrics["energy_wh"] = parse_value("aenergy.total", aenergy["total"])
        if "output" in body:
            metrics["relay_state"] = parse_switch("output", body["output"])
        reading = Reading(device_id, arrival_second_ms(received_ms), metrics)
        return telemetry(
            reading, received_ms, limits, expected="apower, voltage, current, aenergy or output"
        )
