"""Tasmota: ``tele/{topic}/SENSOR`` energy telemetry and the ``tele/{topic}/LWT`` last will.

Tasmota's ``Time`` carries no UTC offset unless the device runs ``SetOption52 1``;
an offset-less time is read as UTC (see docs/protocols.md).
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
from wattline.protocols.validation import Limits, parse_value

# ENERGY field -> metric, for fields already in the metric's unit. Today,
# Yesterday and Period are derived counters Wattline computes itself.
FIELDS = {
    "Power": "power_w",
    "Voltage": "voltage_v",
    "Current": "current_a",
    "Factor": "power_factor",
    "ApparentPower": "apparent_power_va",
    "ReactivePower": "reactive_power_var",
}
WH_PER_KWH = 1000
KINDS = ("SENSOR", "LWT")


@dataclass(frozen=True, slots=True)
class TasmotaAdapter(PrefixedAdapter):
    name: ClassVar[str] = "tasmota"
    prefix: str = "tele"

    def subscriptions(self) -> list[str]:
        return self.per_device_filters(KINDS)

    def parse(
        self, topic: str, payload: Payload, received_ms: int, limits: Limits
    ) -> Interpreted | None:
        found = self.device_and_kind(topic, KINDS)
        if found is None:
            return None
        device_id, kind = found
        if kind == "LWT":
            body = payload.word_or_decode(STATE_WORDS)
            return connection_status(device_id, body, received_ms)
        return _sensor(device_id, payload, received_ms, limits)


def _sensor(device_id: str, payload: Payload, received_ms: int, limits: Limits) -> Interpreted:
    body = require_object(payload.decode(), "SENSOR")
    if "Time" not in body:
        raise ProtocolError(RejectReason.BAD_TIMESTAMP, "Time is missing")
    if "ENERGY" not in body:
        # Other sensors (DS18B20, BME280, ...) are not mapped yet; quarantining
        # them keeps them visible instead of silently dropping them.
        raise ProtocolError(RejectReason.BAD_SHAPE, "SENSOR has no ENERGY object")
    energy = require_object(body["ENERGY"], "ENERGY")
    metrics = mapped_metrics(energy, FIELDS)
    if "Total" in energy:
        total_kwh = parse_value("Total", energy["Total"])
        # Tasmota reports kWh with at most 5 decimals; rounding drops the binary
        # noise of the multiplication (1.001 * 1000 is 1000.9999999999999).
        metrics["energy_wh"] = parse_value("Total", round(total_kwh * WH_PER_KWH, 6))
    reading = Reading(device_id, parse_device_timestamp_ms(body["Time"]), metrics)
    return telemetry(reading, received_ms, limits, expected="ENERGY with Total, Power, ...")
