from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattline.simulator.sun import local_solar_hour, solar_elevation_deg


def test_equator_equinox_solar_noon_is_overhead() -> None:
    # The equation of time puts solar noon at ~12:07 UTC on the March equinox.
    elevation = solar_elevation_deg(datetime(2024, 3, 20, 12, 7, tzinfo=UTC), 0.0, 0.0)
    assert elevation > 89.0


def test_midnight_is_below_horizon() -> None:
    assert solar_elevation_deg(datetime(2024, 3, 20, 0, 0, tzinfo=UTC), 0.0, 0.0) < 0
    assert solar_elevation_deg(datetime(2024, 6, 21, 0, 0, tzinfo=UTC), 51.5, -0.1) < 0


def test_london_midsummer_noon() -> None:
    # 90 - 51.5 + 23.44 (declination at the solstice) = 61.94.
    elevation = solar_elevation_deg(datetime(2024, 6, 21, 12, 0, tzinfo=UTC), 51.5, -0.1)
    assert elevation == pytest.approx(62.0, abs=0.5)


def test_london_midwinter_noon_is_low() -> None:
    elevation = solar_elevation_deg(datetime(2024, 12, 21, 12, 0, tzinfo=UTC), 51.5, -0.1)
    assert elevation == pytest.approx(15.1, abs=0.5)


def test_naive_datetime_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        solar_elevation_deg(datetime(2024, 6, 21, 12, 0), 51.5, -0.1)  # noqa: DTZ001


def test_other_timezones_mean_the_same_instant() -> None:
    utc = datetime(2024, 6, 21, 12, 0, tzinfo=UTC)
    cest = utc.astimezone(timezone(timedelta(hours=2)))
    assert solar_elevation_deg(cest, 48.0, 11.0) == solar_elevation_deg(utc, 48.0, 11.0)


def test_local_solar_hour_follows_longitude() -> None:
    noon_utc = datetime(2024, 6, 21, 12, 0, tzinfo=UTC)
    assert local_solar_hour(noon_utc, 0.0) == pytest.approx(12.0)
    assert local_solar_hour(noon_utc, 90.0) == pytest.approx(18.0)
    assert local_solar_hour(noon_utc, -180.0) == pytest.approx(0.0)


@given(
    when=st.datetimes(
        min_value=datetime(1990, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=datetime(2100, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    latitude=st.floats(-90, 90),
    longitude=st.floats(-180, 180),
)
def test_elevation_is_an_angle(when: datetime, latitude: float, longitude: float) -> None:
    assert -90.0 <= solar_elevation_deg(when, latitude, longitude) <= 90.0
