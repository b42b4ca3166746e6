"""Sunrise and sunset for a day and a place (NOAA's approximation). Pure.

Good to a minute or two at mid latitudes: enough to switch a light at dusk.
The solar declination and equation of time are Spencer's Fourier series, the
ones ``simulator/sun.py`` uses for the sun's elevation; the horizon is the
standard -0.833° (refraction and the sun's radius).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

_ZENITH_DEG = 90.833
_EQT_SCALE_MIN = 229.18


def spencer(gamma: float) -> tuple[float, float]:
    """(equation of time in minutes, declination in radians) at the fractional year
    ``gamma`` (radians; Spencer 1971, as NOAA's solar calculator uses it)."""
    eqtime_min = _EQT_SCALE_MIN * (
        0.000075
        + 0.001868 * math.cos(gamma)
        - 0.032077 * math.sin(gamma)
        - 0.014615 * math.cos(2 * gamma)
        - 0.040849 * math.sin(2 * gamma)
    )
    declination = (
        0.006918
        - 0.399912 * math.cos(gamma)
        + 0.070257 * math.sin(gamma)
        - 0.006758 * math.cos(2 * gamma)
        + 0.000907 * math.sin(2 * gamma)
        - 0.002697 * math.cos(3 * gamma)
        + 0.00148 * math.sin(3 * gamma)
    )
    return eqtime_min, declination


def _spencer(day: date) -> tuple[float, float]:
    """The same at noon UTC of ``day``."""
    days_in_year = 366 if day.year % 4 == 0 and (day.year % 100 or day.year % 400 == 0) else 365
    return spencer(2 * math.pi / days_in_year * (day.timetuple().tm_yday - 1))


def sun_times_ms(day: date, latitude_deg: float, longitude_deg: float) -> tuple[int, int] | None:
    """(sunrise, sunset) as epoch ms for the solar day of ``day`` at the place, or None
    when the sun neither rises nor sets (polar day or night).

    ``day`` is the place's local date: the times are counted from its UTC
    midnight, so far east or west they may fall on the UTC day before or after.
    """
    eqtime_min, declination = _spencer(day)
    lat = math.radians(latitude_deg)
    cos_ha = math.cos(math.radians(_ZENITH_DEG)) / (
        math.cos(lat) * math.cos(declination)
    ) - math.tan(lat) * math.tan(declination)
    if not -1 <= cos_ha <= 1:
        return None
    ha_deg = math.degrees(math.acos(cos_ha))
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    sunrise = midnight + timedelta(minutes=720 - 4 * (longitude_deg + ha_deg) - eqtime_min)
    sunset = midnight + timedelta(minutes=720 - 4 * (longitude_deg - ha_deg) - eqtime_min)
    return int(sunrise.timestamp() * 1000), int(sunset.timestamp() * 1000)
