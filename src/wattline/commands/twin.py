"""The configuration twin: desired and reported configuration per device. Pure.

An owner writes the desired configuration (validated against its device
type's schema); Wattline sends the delta (what desired has that reported has
not) on every change and again when the device reconnects; the device reports
what it applied with the version it applied.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Field:
    kind: type  # int, float, bool or str
    low: float | None = None
    high: float | None = None
    max_chars: int = 64

    def check(self, name: str, value: Any) -> None:
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ConfigError(name, "must be true or false")
            return
        if self.kind is str:
            if not isinstance(value, str) or len(value) > self.max_chars:
                raise ConfigError(name, f"must be text of at most {self.max_chars} characters")
            return
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if not numeric or (self.kind is int and not isinstance(value, int)):
            raise ConfigError(name, f"must be {'an integer' if self.kind is int else 'a number'}")
        if not math.isfinite(value):
            raise ConfigError(name, "must be finite")
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            raise ConfigError(name, f"must be within {self.low:g}..{self.high:g}")


# Every device reports on an interval; a second is the fastest a meter is read,
# an hour the slowest that still shows a day's shape.
_INTERVAL = Field(int, 1, 3600)
SCHEMAS: Mapping[str, Mapping[str, Field]] = {
    "smart_plug": {
        "report_interval_s": _INTERVAL,
        "relay_default_on": Field(bool),  # the relay's state after a power cut
        "max_power_w": Field(float, 0, 4000),  # a 16 A socket at 250 V
    },
    "dc_meter": {
        "report_interval_s": _INTERVAL,
        "undervoltage_alarm_v": Field(float, 0, 1500),  # 750 V and 1500 V rail systems
        "overcurrent_alarm_a": Field(float, 0, 10_000),
    },
    "ac_meter": {
        "report_interval_s": _INTERVAL,
        "ct_ratio": Field(int, 1, 10_000),
    },
}
# Types without a schema of their own take only the reporting interval.
DEFAULT_SCHEMA: Mapping[str, Field] = {"report_interval_s": _INTERVAL}


class ConfigError(ValueError):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"desired.{field} {problem}")
        self.field = field


def validate(device_type: str | None, desired: Mapping[str, Any]) -> None:
    """ConfigError naming the first field that the type's schema refuses."""
    schema = SCHEMAS.get(device_type or "", DEFAULT_SCHEMA)
    for name, value in desired.items():
        field = schema.get(name)
        if field is None:
            known = ", ".join(sorted(schema))
            raise ConfigError(name, f"is not a setting of {device_type or 'this device'} ({known})")
        field.check(name, value)


def delta(desired: Mapping[str, Any], reported: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the device still has to apply."""
    reported = reported or {}
    return {k: v for k, v in desired.items() if k not in reported or reported[k] != v}


@dataclass(frozen=True, slots=True)
class Twin:
    device_id: str
    tenant_id: str
    desired: Mapping[str, Any]
    desired_version: int
    desired_ms: int
    reported: Mapping[str, Any] | None = None
    reported_version: int | None = None
    reported_ms: int | None = None
    sent_version: int | None = None
    sent_ms: int | None = None

    @property
    def delta(self) -> dict[str, Any]:
        return delta(self.desired, self.reported)

    @property
    def in_sync(self) -> bool:
        return self.reported_version == self.desired_version

    def document(self) -> dict[str, Any]:
        """What is published to the device."""
        return {"version": self.desired_version, "desired": dict(self.desired), "delta": self.delta}
