"""The smart-solar format: ``devices/{id}/telemetry`` carrying ``data_type``/``value`` items.

One item is ``{"data_type": "power", "value": 5120.0, "timestamp": ...}``; a
message holds one item or a list of them. Items sharing a timestamp become one
reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from wattline.model.messages import Interpreted, Reading, RejectReason
from wattline.protocols.adapters.base import Payload, PrefixedAdapter, require_object
from wattline.protocols.errors import ProtocolError
from wattline.protocols.timestamps import parse_device_timestamp_ms
from wattline.protocols.validation import (
    Limits,
    check_metric_name,
    check_not_future,
    parse_value,
)

# data_type (compared in lower case) -> metric. Values are stored as sent, so
# the unit in each name is the unit the format uses. Other data types keep
# their own name, which must pass the metric-name rule.
METRICS = {
    "power": "power_w",
    "energy": "energy_wh",
    "voltage": "voltage_v",
    "current": "current_a",
    "frequency": "frequency_hz",
    "temperature": "temperature_c",
    "irradiance": "irradiance_w_m2",
}


@dataclass(frozen=True, slots=True)
class SmartSolarAdapter(PrefixedAdapter):
    name: ClassVar[str] = "smartsolar"
    prefix: str = "devices"

    def subscriptions(self) -> list[str]:
        return self.per_device_filters(["telemetry"])

    def parse(
        self, topic: str, payload: Payload, received_ms: int, limits: Limits
    ) -> Interpreted | None:
        found = self.device_and_kind(topic, ["telemetry"])
        if found is None:
            return None
        device_id, _ = found
        body = payload.decode()
        items = body if isinstance(body, list) else [body]
        if not items or len(items) > limits.max_readings_per_message:
            raise ProtocolError(
                RejectReason.BAD_SHAPE,
                f"a message holds 1..{limits.max_readings_per_message} items, not {len(items)}",
            )
        by_ts: dict[int, dict[str, float]] = {}
        for index, item in enumerate(items):
            ts_ms, metric, value = _parse_item(item, f"item {index}: ", received_ms, limits)
            metrics = by_ts.setdefault(ts_ms, {})
            if metric in metrics:
                raise ProtocolError(
                    RejectReason.BAD_SHAPE, f"item {index}: {metric} repeats at the same timestamp"
                )
            if len(metrics) == limits.max_metrics_per_reading:
                raise ProtocolError(
                    RejectReason.BAD_SHAPE,
                    f"item {index}: more than {limits.max_metrics_per_reading} "
                    "metrics at one timestamp",
                )
            metrics[metric] = value
        readings = tuple(Reading(device_id, ts_ms, m) for ts_ms, m in sorted(by_ts.items()))
        return Interpreted(device_id, readings=readings, kind="telemetry")


def _parse_item(item: Any, where: str, received_ms: int, limits: Limits) -> tuple[int, str, float]:
    body = require_object(item, f"{where}an item")
    data_type = body.get("data_type")
    if not isinstance(data_type, str):
        raise ProtocolError(RejectReason.BAD_SHAPE, f"{where}data_type must be a string")
    metric = check_metric_name(METRICS.get(data_type.lower(), data_type), where)
    if "value" not in body:
        raise ProtocolError(RejectReason.BAD_VALUE, f"{where}value is missing")
    value = parse_value(metric, body["value"], where)
    if "timestamp" not in body:
        raise ProtocolError(RejectReason.BAD_TIMESTAMP, f"{where}timestamp is missing")
    try:
        ts_ms = parse_device_timestamp_ms(body["timestamp"])
    except ProtocolError as exc:
        raise ProtocolError(exc.reason, where + exc.detail) from None
    return check_not_future(ts_ms, received_ms, limits, where), metric, value
