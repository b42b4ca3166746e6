"""The device registry's view of one device."""

from __future__ import annotations

from dataclasses import dataclass

from wattline.model.messages import ConnectionState


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    device_type: str | None
    firmware_version: str | None
    capabilities: tuple[str, ...]
    registered_ms: int
    last_seen_ms: int | None
    state: ConnectionState
    state_ms: int | None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LatestValue:
    metric: str
    ts_ms: int
    value: float
