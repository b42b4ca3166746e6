"""Expected PV output against pvlib's own functions, and the demo inverter's
performance ratio on clear days."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pvlib
import pytest

from wattline.analytics.solar import PvSystem, performance_ratio
from wattline.grid.solar import demo_inverter_system, expected_day
from wattline.simulator.models.solar import SolarInverter, clear_sky

LONDON = ZoneInfo("Europe/London")
LAT, LON = 51.5, -0.1  # the simulator's default site


def pvlib_reference_kwh(system: PvSystem, day: date, zone: ZoneInfo) -> float:
    """pvlib's functions wired by hand, minute by minute: the independent result."""
    start = datetime.combine(day, time(), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
    times = pd.date_range(start + timedelta(seconds=30), end, freq="1min", inclusive="left")
    location = pvlib.location.Location(system.latitude_deg, system.longitude_deg)
    sun = location.get_solarposition(times)
    sky = location.get_clearsky(times, model="ineichen")
    poa = pvlib.irradiance.get_total_irradiance(
        system.tilt_deg,
        system.azimuth_deg,
        sun["apparent_zenith"],
        sun["azimuth"],
        sky["dni"],
        sky["ghi"],
        sky["dhi"],
        dni_extra=pvlib.irradiance.get_extra_radiation(times),
        airmass=location.get_airmass(solar_position=sun)["airmass_relative"],
        model="perez",
    )
    aoi = pvlib.irradiance.aoi(
        system.tilt_deg, system.azimuth_deg, sun["apparent_zenith"], sun["azimuth"]
    )
    effective = poa["poa_direct"] * pvlib.iam.physical(aoi) + poa["poa_diffuse"]
    params = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]["open_rack_glass_polymer"]
    cell_c = pvlib.temperature.sapm_cell(poa["poa_global"], 20.0, 0.0, **params)
    pdc0 = system.kwp * 1000
    dc = pvlib.pvsystem.pvwatts_dc(effective, cell_c, pdc0, system.gamma_pdc_per_c)
    dc = dc * (1 - system.losses_pct / 100)
    ac = pvlib.inverter.pvwatts(dc, pdc0, eta_inv_nom=system.inverter_efficiency)
    return float(ac.clip(lower=0).fillna(0).sum()) / 60 / 1000


@pytest.mark.parametrize(
    ("system", "day"),
    [
        (PvSystem(LAT, LON, tilt_deg=35, azimuth_deg=180, kwp=4.0), date(2026, 6, 21)),
        (
            PvSystem(LAT, LON, tilt_deg=20, azimuth_deg=135, kwp=6.5, losses_pct=10),
            date(2026, 3, 29),
        ),
        (demo_inverter_system(LAT, LON), date(2026, 12, 21)),
    ],
)
def test_expected_output_equals_pvlibs_own_result(system: PvSystem, day: date) -> None:
    expected = expected_day(system, day, LONDON)
    reference = pvlib_reference_kwh(system, day, LONDON)
    assert reference > 0
    assert expected.expected_kwh == pytest.approx(reference, rel=0.001)
    assert expected.irradiance == "clear_sky"


@pytest.mark.parametrize(
    "day", [date(2026, 3, 20), date(2026, 6, 21), date(2026, 9, 22), date(2026, 12, 21)]
)
def test_the_demo_inverters_performance_ratio_on_a_clear_day(day: date) -> None:
    inverter = SolarInverter(
        random.Random(7), latitude_deg=LAT, longitude_deg=LON, clouds=clear_sky()
    )
    start = datetime.combine(day, time(), tzinfo=LONDON).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=LONDON).astimezone(UTC)
    step_s = 60.0
    reading = {"energy_wh": 0.0}
    now = start
    while now < end:
        now += timedelta(seconds=step_s)
        reading = inverter.step(now, step_s)
    actual_kwh = reading["energy_wh"] / 1000
    expected = expected_day(demo_inverter_system(LAT, LON), day, LONDON)
    ratio = performance_ratio(actual_kwh, 5.0, expected.poa_kwh_per_m2)
    assert ratio is not None
    assert 0.7 <= ratio <= 1.0, (day, ratio, actual_kwh, expected)


def test_no_sunshine_has_no_ratio() -> None:
    assert performance_ratio(0.0, 5.0, 0.0) is None
    assert performance_ratio(10.0, 5.0, 2.5) == pytest.approx(0.8)
