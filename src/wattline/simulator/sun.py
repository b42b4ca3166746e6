"""Solar position, good to a fraction of a degree: plenty for simulating daylight."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from wattline.model.solar import spencer

# The NOAA "General Solar Position Calculations" note (Spencer's Fourier series, in
# model/solar.py); a full ephemeris would be overkill for driving fake PV panels.


def solar_elevation_deg(when: datetime, latitude_deg: float, longitude_deg: float) -> float:
    """Sun elevation above the horizon in degrees (negative at night).

    `when` must be timezone-aware; naive datetimes are rejected rather than guessed at,
    because a silent local/UTC mix-up shifts the whole solar day.
    """
    utc = _as_utc(when)
    day_of_year = utc.timetuple().tm_yday
    days_in_year = 366 if _is_leap(utc.year) else 365
    minutes = utc.hour * 60 + utc.minute + (utc.second + utc.microsecond / 1e6) / 60
    gamma = 2 * math.pi / days_in_year * (day_of_year - 1 + (minutes / 60 - 12) / 24)

    eqtime_min, declination_rad = spencer(gamma)

    # Input is UTC, so the time-zone term of the NOAA formula is zero.
    true_solar_min = minutes + eqtime_min + 4 * longitude_deg
    hour_angle_rad = math.radians(true_solar_min / 4 - 180)

    lat_rad = math.radians(latitude_deg)
    cos_zenith = math.sin(lat_rad) * math.sin(declination_rad) + math.cos(lat_rad) * math.cos(
        declination_rad
    ) * math.cos(hour_angle_rad)
    # Rounding can push the cosine a hair outside [-1, 1] at the poles/zenith.
    cos_zenith = max(-1.0, min(1.0, cos_zenith))
    return 90.0 - math.degrees(math.acos(cos_zenith))


def local_solar_hour(when: datetime, longitude_deg: float) -> float:
    """Mean local solar time in hours [0, 24): drives daily load and comfort profiles."""
    shifted = _as_utc(when) + timedelta(hours=longitude_deg / 15)
    return shifted.hour + shifted.minute / 60 + shifted.second / 3600


def _as_utc(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("when must be timezone-aware (UTC)")
    return when.astimezone(UTC)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
