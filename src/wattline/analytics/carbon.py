"""Grid carbon intensity and the emissions of consumed energy. Pure.

Emissions are energy times the intensity of the hour it was used in:
``grams = sum over hours of kWh(hour) x gCO2eq/kWh(hour)``. Intensity comes
from a provider when one was reached (``grid/``), else from the bundled table
``data/carbon_fallback.json``: a zone's annual average shaped by an hourly and
a monthly profile (its sources are cited inside it). Every value says where it
came from, so a figure built on the fallback is never mistaken for a measurement.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

FALLBACK_PROVIDER = "wattline-fallback-table"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class Zone:
    code: str
    name: str
    tz: str
    annual_g_per_kwh: float


@dataclass(frozen=True, slots=True)
class FallbackTable:
    zones: dict[str, Zone]
    hourly: tuple[float, ...]  # 24 factors by local hour, mean 1
    monthly: tuple[float, ...]  # 12 factors by local month, mean 1

    def intensity(self, zone_code: str, ts_ms: int) -> float:
        """gCO2eq/kWh in the zone at ``ts_ms``; KeyError for a zone the table lacks."""
        zone = self.zones[zone_code]
        local = (_EPOCH + ts_ms * _MS).astimezone(ZoneInfo(zone.tz))
        return zone.annual_g_per_kwh * self.hourly[local.hour] * self.monthly[local.month - 1]


@cache
def fallback_table() -> FallbackTable:
    """The bundled table, read once."""
    text = resources.files("wattline.analytics").joinpath("data/carbon_fallback.json").read_text()
    return parse_fallback_table(text)


def parse_fallback_table(text: str) -> FallbackTable:
    data = json.loads(text)
    zones = {
        code: Zone(code, z["name"], z["tz"], float(z["annual_g_per_kwh"]))
        for code, z in data["zones"].items()
    }
    hourly, monthly = tuple(map(float, data["hourly"])), tuple(map(float, data["monthly"]))
    if len(hourly) != 24 or len(monthly) != 12:
        raise ValueError("the fallback table needs 24 hourly and 12 monthly factors")
    return FallbackTable(zones, hourly, monthly)


def emissions_g(energy_wh: Sequence[float], intensity_g_per_kwh: Sequence[float]) -> float:
    """Grams of CO2eq of energy used per hour at each hour's intensity."""
    return sum(wh / 1000 * g for wh, g in zip(energy_wh, intensity_g_per_kwh, strict=True))
