"""Expected PV output from pvlib, per local day, and the plane-of-array irradiation.

The system runs through pvlib's PVWatts model chain (``ModelChain.with_pvwatts``):
Perez transposition onto the modules' plane, the physical incidence-angle
loss, SAPM cell temperature (open rack, glass/polymer; 20 °C air and still air
unless weather says otherwise), PVWatts DC with the module's temperature
coefficient, the system's DC losses, and the PVWatts inverter. Irradiance is
pvlib's Ineichen clear sky, or measured global horizontal irradiance (a weather
provider's hourly means) split into beam and diffuse with the Erbs model.
Power is evaluated every ``STEP_MIN`` minutes and integrated to energy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from wattline.analytics.solar import PvSystem
from wattline.grid.providers import HourValue

STEP_MIN = 5
CLEAR_SKY = "clear_sky"
MEASURED = "weather"


@dataclass(frozen=True, slots=True)
class DayExpectation:
    day: date
    expected_kwh: float
    poa_kwh_per_m2: float  # irradiation on the modules' plane
    irradiance: str  # clear_sky, or weather (the provider's GHI)


def _times(day: date, zone: ZoneInfo, step_min: int) -> Any:
    import pandas as pd  # noqa: PLC0415 - slow to import, see grid/weather.py

    start = datetime.combine(day, time(), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
    # The middle of each step, so the sum of power x step is the midpoint rule.
    first = start + timedelta(minutes=step_min / 2)
    return pd.date_range(first, end, freq=f"{step_min}min", inclusive="left").tz_convert("UTC")


def model_chain(system: PvSystem) -> Any:
    """pvlib's PVWatts chain for the system."""
    import pvlib  # noqa: PLC0415 - slow to import, see grid/weather.py

    location = pvlib.location.Location(system.latitude_deg, system.longitude_deg)
    pdc0 = system.kwp * 1000
    pv = pvlib.pvsystem.PVSystem(
        surface_tilt=system.tilt_deg,
        surface_azimuth=system.azimuth_deg,
        module_parameters={"pdc0": pdc0, "gamma_pdc": system.gamma_pdc_per_c},
        inverter_parameters={"pdc0": pdc0, "eta_inv_nom": system.inverter_efficiency},
        temperature_model_parameters=pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"][
            "open_rack_glass_polymer"
        ],
        losses_parameters=_losses(system.losses_pct),
    )
    return pvlib.modelchain.ModelChain.with_pvwatts(pv, location)


def _losses(losses_pct: float) -> dict[str, float]:
    # pvwatts_losses combines its categories multiplicatively; one category
    # carrying the whole figure (the others zero) makes the total exactly it.
    return {
        "soiling": losses_pct,
        "shading": 0.0,
        "snow": 0.0,
        "mismatch": 0.0,
        "wiring": 0.0,
        "connections": 0.0,
        "lid": 0.0,
        "nameplate_rating": 0.0,
        "age": 0.0,
        "availability": 0.0,
    }


def weather_frame(system: PvSystem, times: Any, ghi: Sequence[HourValue] | None) -> Any:
    """ghi, dni, dhi at ``times``: clear sky, or hourly GHI split by Erbs."""
    import pandas as pd  # noqa: PLC0415
    import pvlib  # noqa: PLC0415

    location = pvlib.location.Location(system.latitude_deg, system.longitude_deg)
    if ghi is None:
        return location.get_clearsky(times, model="ineichen")
    hourly = {v.ts_ms: v.value for v in ghi}
    hour_ms = 3_600_000
    stamps = [int(t.timestamp() * 1000) for t in times]
    series = pd.Series([hourly.get(ms - ms % hour_ms, 0.0) for ms in stamps], index=times)
    zenith = location.get_solarposition(times)["zenith"]
    split = pvlib.irradiance.erbs(series, zenith, times)
    return pd.DataFrame({"ghi": series, "dni": split["dni"], "dhi": split["dhi"]})


def expected_day(
    system: PvSystem,
    day: date,
    zone: ZoneInfo,
    ghi: Sequence[HourValue] | None = None,
    step_min: int = STEP_MIN,
) -> DayExpectation:
    """pvlib's expected AC energy and plane irradiation over the local day."""
    times = _times(day, zone, step_min)
    chain = model_chain(system)
    chain.run_model(weather_frame(system, times, ghi))
    step_h = step_min / 60
    ac_w = chain.results.ac.clip(lower=0).fillna(0)
    poa_w_m2 = chain.results.total_irrad["poa_global"].fillna(0)
    return DayExpectation(
        day,
        float(ac_w.sum()) * step_h / 1000,
        float(poa_w_m2.sum()) * step_h / 1000,
        CLEAR_SKY if ghi is None else MEASURED,
    )


def demo_inverter_system(latitude_deg: float, longitude_deg: float) -> PvSystem:
    """The simulator's inverter as a PV system: 5 kWp flat on a roof, 14 % DC
    losses and a 96 % inverter, as ``simulator/models/solar.py`` models it."""
    return PvSystem(latitude_deg, longitude_deg, tilt_deg=0.0, azimuth_deg=180.0, kwp=5.0)
