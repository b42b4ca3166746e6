"""The interfaces of carbon-intensity and weather providers, and what they return.

A provider answers hourly values for a range, or raises ``ProviderError``
(unreachable, refused, a body it cannot read); the caller then falls back
(``grid/sources.py``). Clients take an ``httpx.Client``, so tests hand them a
``MockTransport`` serving recorded responses instead of the network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import httpx

HOUR_MS = 3_600_000
# A provider that has not answered in this time is treated as down for this run.
TIMEOUT_S = 10.0

CARBON = "carbon_g_per_kwh"
GHI = "ghi_w_m2"  # global horizontal irradiance, the hour's mean
TEMPERATURE = "temperature_c"
CLOUD_COVER = "cloud_cover_pct"
WEATHER_SERIES = (GHI, TEMPERATURE, CLOUD_COVER)


class ProviderError(Exception):
    """The provider gave no usable answer; the message says why."""


@dataclass(frozen=True, slots=True)
class HourValue:
    ts_ms: int  # the hour's start, UTC
    value: float


class CarbonProvider(Protocol):
    name: str

    def zones(self) -> frozenset[str] | None:
        """The zones it serves; None: any zone code."""
        ...

    def hourly_intensity(self, zone: str, start_ms: int, end_ms: int) -> list[HourValue]:
        """gCO2eq/kWh per hour starting in [start_ms, end_ms)."""
        ...


class WeatherProvider(Protocol):
    name: str

    def hourly_weather(
        self, latitude_deg: float, longitude_deg: float, start_ms: int, end_ms: int
    ) -> dict[str, list[HourValue]]:
        """Per series (``WEATHER_SERIES``), values per hour starting in [start_ms, end_ms)."""
        ...


def get_json(client: httpx.Client, url: str, **kwargs: object) -> object:
    """GET and decode, every failure a ``ProviderError``."""
    try:
        response = client.get(url, timeout=TIMEOUT_S, **kwargs)  # type: ignore[arg-type]
        response.raise_for_status()
        return response.json()
    except httpx.HTTPStatusError as exc:
        raise ProviderError(f"{url}: HTTP {exc.response.status_code}") from exc
    except httpx.HTTPError as exc:
        raise ProviderError(f"{url}: {exc.__class__.__name__}: {exc}") from exc
    except ValueError as exc:
        raise ProviderError(f"{url}: not JSON") from exc


def parse_utc_ms(text: str) -> int:
    """``2026-06-10T12:00Z``, ``...:00.000Z`` or with an offset, as epoch ms."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def utc_text(ts_ms: int, fmt: str = "%Y-%m-%dT%H:%MZ") -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime(fmt)


def hourly_means(points: list[HourValue], start_ms: int, end_ms: int) -> list[HourValue]:
    """Values (half-hourly, hourly) averaged per hour starting in [start_ms, end_ms)."""
    sums: dict[int, list[float]] = {}
    for point in points:
        hour = point.ts_ms - point.ts_ms % HOUR_MS
        if start_ms <= hour < end_ms:
            sums.setdefault(hour, []).append(point.value)
    return [HourValue(hour, sum(v) / len(v)) for hour, v in sorted(sums.items())]


Parse = Callable[[object], list[HourValue]]
