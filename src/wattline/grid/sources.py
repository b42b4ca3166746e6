"""Grid values with their source: the provider's when it answers, else the fallback.

``fetch_carbon`` and ``fetch_weather`` ask a provider and mark its values
``live``; hours it did not cover, or every hour when it is down, come from the
bundled carbon table or pvlib's clear sky, marked ``fallback``.
``CarbonLookup`` and ``WeatherLookup`` read what the fetcher stored: a stored
live value is ``cached`` (fetched earlier, read back), and an hour with nothing
stored is computed from the fallback on the spot.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from wattline.analytics.carbon import FALLBACK_PROVIDER, fallback_table
from wattline.grid.providers import (
    CARBON,
    GHI,
    HOUR_MS,
    WEATHER_SERIES,
    CarbonProvider,
    HourValue,
    ProviderError,
    WeatherProvider,
)
from wattline.grid.weather import clear_sky_ghi
from wattline.storage.energy_data import GridStore, GridValue, ValueSource

log = logging.getLogger(__name__)
Site = tuple[float, float]  # latitude, longitude in degrees
CLEAR_SKY_PROVIDER = "pvlib-clearsky-ineichen"


def hour_starts(start_ms: int, end_ms: int) -> list[int]:
    """The UTC hours overlapping [start_ms, end_ms)."""
    return list(range(start_ms - start_ms % HOUR_MS, end_ms, HOUR_MS))


def carbon_fallback(zone: str, hours: Sequence[int], now_ms: int) -> list[GridValue]:
    """The bundled table's intensity per hour; empty for a zone the table lacks."""
    table = fallback_table()
    if zone not in table.zones:
        return []
    return [
        GridValue(
            CARBON,
            h,
            table.intensity(zone, h + HOUR_MS // 2),
            ValueSource.FALLBACK,
            FALLBACK_PROVIDER,
            now_ms,
        )
        for h in hours
    ]


def _live(series: str, values: Sequence[HourValue], provider: str, now_ms: int) -> list[GridValue]:
    return [GridValue(series, v.ts_ms, v.value, ValueSource.LIVE, provider, now_ms) for v in values]


def _fill(found: list[GridValue], fallback: list[GridValue]) -> list[GridValue]:
    have = {v.ts_ms for v in found}
    return sorted([*found, *(v for v in fallback if v.ts_ms not in have)], key=lambda v: v.ts_ms)


def fetch_carbon(
    providers: Sequence[CarbonProvider], zone: str, start_ms: int, end_ms: int, now_ms: int
) -> list[GridValue]:
    """Hourly intensity from the first provider serving the zone that answers; gaps fall back."""
    hours = hour_starts(start_ms, end_ms)
    live: list[GridValue] = []
    for provider in providers:
        served = provider.zones()
        if served is not None and zone not in served:
            continue
        try:
            values = provider.hourly_intensity(zone, hours[0], end_ms) if hours else []
        except ProviderError as exc:
            log.warning("carbon provider %s failed for %s: %s", provider.name, zone, exc)
            continue
        live = _live(CARBON, values, provider.name, now_ms)
        break
    return _fill(live, carbon_fallback(zone, hours, now_ms))


def fetch_weather(
    provider: WeatherProvider | None, site: Site, start_ms: int, end_ms: int, now_ms: int
) -> list[GridValue]:
    """Hourly weather from the provider; irradiance falls back to pvlib's clear sky."""
    hours = hour_starts(start_ms, end_ms)
    latitude_deg, longitude_deg = site
    live: list[GridValue] = []
    if provider is not None and hours:
        try:
            answer = provider.hourly_weather(latitude_deg, longitude_deg, hours[0], end_ms)
            live = [
                v
                for series, values in answer.items()
                for v in _live(series, values, provider.name, now_ms)
            ]
        except ProviderError as exc:
            log.warning("weather provider %s failed: %s", provider.name, exc)
    clear = [
        GridValue(GHI, v.ts_ms, v.value, ValueSource.FALLBACK, CLEAR_SKY_PROVIDER, now_ms)
        for v in (clear_sky_ghi(latitude_deg, longitude_deg, hours[0], end_ms) if hours else [])
    ]
    ghi = _fill([v for v in live if v.series == GHI], clear)
    return [*ghi, *(v for v in live if v.series != GHI)]


def as_read_back(value: GridValue) -> GridValue:
    """A stored provider value, as a reader sees it: cached (fetched at ``fetched_ms``)."""
    if value.source is ValueSource.LIVE:
        return GridValue(
            value.series,
            value.ts_ms,
            value.value,
            ValueSource.CACHED,
            value.provider,
            value.fetched_ms,
        )
    return value


@dataclass(frozen=True, slots=True)
class CarbonLookup:
    """Hourly carbon intensity of a tenant's zone: stored values, else the fallback table.

    The look-up for every consumer (emissions, forecasts, recommendations).
    """

    store: GridStore

    def hourly(
        self, tenant_id: str, zone: str, start_ms: int, end_ms: int, now_ms: int
    ) -> list[GridValue]:
        hours = hour_starts(start_ms, end_ms)
        if not hours:
            return []
        stored = [
            as_read_back(v) for v in self.store.grid_values(tenant_id, CARBON, hours[0], end_ms)
        ]
        return _fill(stored, carbon_fallback(zone, hours, now_ms))

    def intensity_at(self, tenant_id: str, zone: str, ts_ms: int, now_ms: int) -> GridValue | None:
        """The intensity of the hour holding ``ts_ms``; None for a zone nobody knows."""
        found = self.hourly(tenant_id, zone, ts_ms, ts_ms + 1, now_ms)
        return found[0] if found else None


@dataclass(frozen=True, slots=True)
class WeatherLookup:
    """Hourly weather at a tenant's location: stored values, irradiance else clear sky."""

    store: GridStore

    def hourly(
        self, tenant_id: str, site: Site, start_ms: int, end_ms: int, now_ms: int
    ) -> dict[str, list[GridValue]]:
        latitude_deg, longitude_deg = site
        hours = hour_starts(start_ms, end_ms)
        if not hours:
            return {}
        found: dict[str, list[GridValue]] = {}
        for series in WEATHER_SERIES:
            found[series] = [
                as_read_back(v) for v in self.store.grid_values(tenant_id, series, hours[0], end_ms)
            ]
        clear = [
            GridValue(GHI, v.ts_ms, v.value, ValueSource.FALLBACK, CLEAR_SKY_PROVIDER, now_ms)
            for v in clear_sky_ghi(latitude_deg, longitude_deg, hours[0], end_ms)
        ]
        found[GHI] = _fill(found[GHI], clear)
        return found
