"""A solar inverter under a clear-sky sun with passing clouds."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

from wattline.simulator.models.base import (
    EnergyCounter,
    MeanReverting,
    check_dt,
    clamp,
)
from wattline.simulator.sun import solar_elevation_deg

if TYPE_CHECKING:
    import random
    from datetime import datetime


def clear_sky_irradiance_w_m2(elevation_deg: float) -> float:
    """Haurwitz clear-sky global horizontal irradiance; zero with the sun below the horizon."""
    if elevation_deg <= 0:
        return 0.0
    sin_elevation = math.sin(math.radians(elevation_deg))
    return 1098.0 * sin_elevation * math.exp(-0.057 / sin_elevation)


# PVWatts' default DC losses (soiling, mismatch, wiring, ...): the same figure
# grid/solar.py gives pvlib for the demo inverter, so its performance ratio is
# a real one (about 0.9 on a clear day), not 1.
DEMO_SYSTEM_LOSSES = 0.14


def clear_sky() -> MeanReverting:
    """A sky without clouds, for a clear day on demand (tests, demos)."""
    return MeanReverting(mean=1.0, stddev=0.0, tau_s=600.0, low=1.0, high=1.0)


def cloud_cover() -> MeanReverting:
    # Transmittance of the cloud layer: 1.0 is a clear sky, passing clouds last minutes.
    return MeanReverting(mean=0.75, stddev=0.2, tau_s=600.0, low=0.15, high=1.0)


class SolarInverter:
    """Grid-tied PV inverter whose output follows the sun through passing clouds."""

    metric_names: ClassVar[tuple[str, ...]] = (
        "pv_power_w",
        "dc_voltage_v",
        "dc_current_a",
        "ac_power_w",
        "irradiance_w_m2",
        "energy_wh",
    )

    def __init__(  # noqa: PLR0913 - plant parameters are independent knobs
        self,
        rng: random.Random,
        *,
        latitude_deg: float,
        longitude_deg: float,
        capacity_w: float = 5000.0,
        efficiency: float = 0.96,
        mppt_voltage_v: float = 380.0,
        system_losses: float = DEMO_SYSTEM_LOSSES,
        clouds: MeanReverting | None = None,
    ) -> None:
        self._rng = rng
        self._latitude_deg = latitude_deg
        self._longitude_deg = longitude_deg
        self._capacity_w = capacity_w
        self.efficiency = efficiency
        self._mppt_voltage_v = mppt_voltage_v
        self._dc_derate = 1.0 - system_losses
        self._clouds = clouds or cloud_cover()
        self._energy = EnergyCounter()

    def step(self, now: datetime, dt_s: float) -> dict[str, float]:
        check_dt(dt_s)
        # Clouds drift at night too, so dawn does not always start from the same sky.
        transmittance = self._clouds.advance(self._rng, dt_s)
        elevation_deg = solar_elevation_deg(now, self._latitude_deg, self._longitude_deg)
        irradiance = round(clear_sky_irradiance_w_m2(elevation_deg) * transmittance, 1)

        if irradiance <= 0:
            # No light, no string voltage: report zeros rather than divide by them.
            return {
                "pv_power_w": 0.0,
                "dc_voltage_v": 0.0,
                "dc_current_a": 0.0,
                "ac_power_w": 0.0,
                "irradiance_w_m2": 0.0,
                "energy_wh": self._energy.wh,
            }

        # Array rated at STC (1000 W/m2), less its DC losses; the inverter clips
        # anything above its rating.
        dc_w = self._capacity_w * irradiance / 1000.0 * self._dc_derate
        pv_power_w = round(min(self._capacity_w, dc_w), 1)
        # Cell voltage grows roughly logarithmically with irradiance.
        relative_v = clamp(1.0 + 0.06 * math.log(irradiance / 1000.0), 0.6, 1.05)
        dc_voltage_v = round(self._mppt_voltage_v * relative_v + self._rng.gauss(0.0, 1.0), 1)
        ac_power_w = pv_power_w * self.efficiency
        return {
            "pv_power_w": pv_power_w,
            "dc_voltage_v": dc_voltage_v,
            "dc_current_a": pv_power_w / dc_voltage_v,
            "ac_power_w": ac_power_w,
            "irradiance_w_m2": irradiance,
            "energy_wh": self._energy.add(ac_power_w, dt_s),
        }
