"""Carbon-intensity clients: the UK Carbon Intensity API and Electricity Maps.

- UK Carbon Intensity API (NESO, no key): ``GET /intensity/{from}/{to}`` gives
  half-hours ``{"from", "to", "intensity": {"forecast", "actual", "index"}}``
  for Great Britain; ``actual`` is null until the half-hour is measured, so the
  forecast stands in. Half-hours are averaged per hour.
- Electricity Maps (``auth-token`` header): ``GET /v3/carbon-intensity/past-range
  ?zone=&start=&end=`` gives ``{"zone", "data": [{"datetime", "carbonIntensity",
  "isEstimated", ...}]}`` hourly (``/history`` names the list ``history``).
"""

from __future__ import annotations

from typing import Any

import httpx

from wattline.grid.providers import (
    HourValue,
    ProviderError,
    get_json,
    hourly_means,
    parse_utc_ms,
    utc_text,
)


class UkCarbonIntensity:
    name = "carbonintensity.org.uk"

    def __init__(
        self, client: httpx.Client, base_url: str = "https://api.carbonintensity.org.uk"
    ) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")

    def zones(self) -> frozenset[str]:
        return frozenset({"GB"})

    def hourly_intensity(self, zone: str, start_ms: int, end_ms: int) -> list[HourValue]:
        if zone != "GB":
            raise ProviderError(f"{self.name} serves Great Britain (GB) only, not {zone!r}")
        url = f"{self._base_url}/intensity/{utc_text(start_ms)}/{utc_text(end_ms)}"
        return hourly_means(parse_uk_intensity(get_json(self._client, url)), start_ms, end_ms)


def parse_uk_intensity(body: object) -> list[HourValue]:
    """Half-hours of a ``/intensity`` answer: the actual value, else the forecast."""
    try:
        rows: list[dict[str, Any]] = body["data"]  # type: ignore[index]
        points = []
        for row in rows:
            intensity = row["intensity"]
            value = intensity.get("actual")
            if value is None:
                value = intensity.get("forecast")
            if value is not None:
                points.append(HourValue(parse_utc_ms(row["from"]), float(value)))
    except (KeyError, TypeError, ValueError) as exc:
        raise ProviderError(f"unexpected carbonintensity.org.uk answer: {exc!r}") from exc
    return points


class ElectricityMaps:
    name = "electricitymaps.com"

    def __init__(
        self,
        client: httpx.Client,
        api_token: str,
        base_url: str = "https://api.electricitymap.org",
    ) -> None:
        self._client = client
        self._token = api_token
        self._base_url = base_url.rstrip("/")

    def zones(self) -> None:
        return None

    def hourly_intensity(self, zone: str, start_ms: int, end_ms: int) -> list[HourValue]:
        body = get_json(
            self._client,
            f"{self._base_url}/v3/carbon-intensity/past-range",
            params={
                "zone": zone,
                "start": utc_text(start_ms, "%Y-%m-%dT%H:%M:%SZ"),
                "end": utc_text(end_ms, "%Y-%m-%dT%H:%M:%SZ"),
            },
            headers={"auth-token": self._token},
        )
        return hourly_means(parse_electricity_maps(body), start_ms, end_ms)


def parse_electricity_maps(body: object) -> list[HourValue]:
    """The points of a ``past-range`` (``data``) or ``history`` answer."""
    rows = body.get("data", body.get("history")) if isinstance(body, dict) else None
    if not isinstance(rows, list):
        raise ProviderError("unexpected electricitymaps.com answer: no data list")
    try:
        return [
            HourValue(parse_utc_ms(row["datetime"]), float(row["carbonIntensity"]))
            for row in rows
            if row.get("carbonIntensity") is not None
        ]
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ProviderError(f"unexpected electricitymaps.com answer: {exc!r}") from exc
