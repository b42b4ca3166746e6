"""Weather: the Open-Meteo client, and pvlib's clear sky when it cannot be reached.

Open-Meteo (no key): ``GET /v1/forecast?latitude=&longitude=&hourly=
shortwave_radiation,temperature_2m,cloud_cover&timeformat=unixtime&start_date=
&end_date=`` gives ``{"hourly": {"time": [unix s], "shortwave_radiation": [W/m2],
...}}``. Its radiation is the mean over the hour *before* each time, so a value
stamped 13:00 is the hour starting 12:00; temperature and cloud cover are
instants, kept at the hour they name.

The fallback is pvlib's Ineichen clear-sky model (Linke turbidity from pvlib's
bundled climatology) at the middle of each hour: an upper bound on sunshine,
marked ``fallback``; it has no temperature or cloud cover.
"""

from __future__ import annotations

from typing import Any

import httpx

from wattline.grid.providers import (
    CLOUD_COVER,
    GHI,
    HOUR_MS,
    TEMPERATURE,
    HourValue,
    ProviderError,
    get_json,
    utc_text,
)

_FIELDS = {"shortwave_radiation": GHI, "temperature_2m": TEMPERATURE, "cloud_cover": CLOUD_COVER}


class OpenMeteo:
    name = "open-meteo.com"

    def __init__(self, client: httpx.Client, base_url: str = "https://api.open-meteo.com") -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")

    def hourly_weather(
        self, latitude_deg: float, longitude_deg: float, start_ms: int, end_ms: int
    ) -> dict[str, list[HourValue]]:
        body = get_json(
            self._client,
            f"{self._base_url}/v1/forecast",
            params={
                "latitude": latitude_deg,
                "longitude": longitude_deg,
                "hourly": ",".join(_FIELDS),
                "timeformat": "unixtime",
                "timezone": "GMT",
                "start_date": utc_text(start_ms, "%Y-%m-%d"),
                "end_date": utc_text(end_ms - 1, "%Y-%m-%d"),
            },
        )
        return {
            series: [v for v in values if start_ms <= v.ts_ms < end_ms]
            for series, values in parse_open_meteo(body).items()
        }


def parse_open_meteo(body: object) -> dict[str, list[HourValue]]:
    try:
        hourly: dict[str, Any] = body["hourly"]  # type: ignore[index]
        times = [int(t) * 1000 for t in hourly["time"]]
        found: dict[str, list[HourValue]] = {}
        for field, series in _FIELDS.items():
            # radiation is the preceding hour's mean: stamp it at that hour's start
            shift = HOUR_MS if field == "shortwave_radiation" else 0
            found[series] = [
                HourValue(ts - shift, float(value))
                for ts, value in zip(times, hourly.get(field, []), strict=False)
                if value is not None
            ]
    except (KeyError, TypeError, ValueError) as exc:
        raise ProviderError(f"unexpected open-meteo.com answer: {exc!r}") from exc
    return found


def clear_sky_ghi(
    latitude_deg: float, longitude_deg: float, start_ms: int, end_ms: int
) -> list[HourValue]:
    """pvlib's Ineichen clear-sky GHI at the middle of each hour starting in the range."""
    # Imported on first use: pvlib and pandas take seconds to import, and most
    # processes (the collector, the CLI) never need them.
    import pandas as pd  # noqa: PLC0415
    import pvlib  # noqa: PLC0415

    first = start_ms - start_ms % HOUR_MS + (HOUR_MS if start_ms % HOUR_MS else 0)
    hours = list(range(first, end_ms, HOUR_MS))
    if not hours:
        return []
    middles = pd.DatetimeIndex(
        pd.to_datetime([h + HOUR_MS // 2 for h in hours], unit="ms", utc=True)
    )
    location = pvlib.location.Location(latitude_deg, longitude_deg)
    ghi = location.get_clearsky(middles, model="ineichen")["ghi"]
    return [HourValue(h, max(0.0, float(g))) for h, g in zip(hours, ghi, strict=True)]
