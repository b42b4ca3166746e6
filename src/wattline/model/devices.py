"""The device registry's view of one device."""

from __future__ import annotations

import math
from dataclasses import dataclass

from wattline.model.messages import ConnectionState


@dataclass(frozen=True, slots=True)
class Location:
    """A device's place on the globe, in WGS 84 degrees (north and east positive)."""

    latitude_deg: float
    longitude_deg: float

    def problem(self) -> str | None:
        """Why this is not a place (for a 422), or None."""
        return location_problem(self.latitude_deg, self.longitude_deg)


def location_problem(latitude_deg: float, longitude_deg: float) -> str | None:
    if not math.isfinite(latitude_deg) or not -90 <= latitude_deg <= 90:
        return "latitude_deg is a finite number from -90 to 90"
    if not math.isfinite(longitude_deg) or not -180 <= longitude_deg <= 180:
        return "longitude_deg is a finite number from -180 to 180"
    return None


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
    # where the device is (WGS 84 degrees), for sunrise/sunset schedules; None: not set
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class LatestValue:
    metric: str
    ts_ms: int
    value: float
