"""An AC meter on a building's supply: a daily load shape on mains voltage."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

from wattline.simulator.models.base import (
    EnergyCounter,
    MeanReverting,
    check_dt,
    mains_voltage,
)
from wattline.simulator.sun import local_solar_hour

if TYPE_CHECKING:
    import random
    from datetime import datetime


def _daily_load_shape(hour: float) -> float:
    """0..~1 household/office demand shape with morning and evening peaks."""

    def bump(centre_h: float, width_h: float) -> float:
        distance = min(abs(hour - centre_h), 24.0 - abs(hour - centre_h))
        return math.exp(-0.5 * (distance / width_h) ** 2)

    return 0.5 * bump(8.0, 1.5) + 1.0 * bump(19.0, 2.0)


class AcMeter:
    """Single-phase 230 V / 50 Hz meter for a building or a rail auxiliary supply."""

    metric_names: ClassVar[tuple[str, ...]] = (
        "voltage_v",
        "current_a",
        "power_factor",
        "frequency_hz",
        "power_w",
        "apparent_power_va",
        "energy_wh",
    )

    def __init__(  # noqa: PLR0913 - independent load and grid parameters
        self,
        rng: random.Random,
        *,
        base_load_w: float = 800.0,
        peak_load_w: float = 4000.0,
        nominal_voltage_v: float = 230.0,
        nominal_frequency_hz: float = 50.0,
        longitude_deg: float = 0.0,
    ) -> None:
        self._rng = rng
        self._base_load_w = base_load_w
        self._peak_load_w = peak_load_w
        self._longitude_deg = longitude_deg
        self._voltage = mains_voltage(nominal_voltage_v)
        # Grid frequency is held within +-0.2 Hz in normal operation.
        self._frequency = MeanReverting(
            mean=nominal_frequency_hz,
            stddev=0.03,
            tau_s=30.0,
            low=nominal_frequency_hz - 0.2,
            high=nominal_frequency_hz + 0.2,
        )
        self._power_factor = MeanReverting(mean=0.93, stddev=0.03, tau_s=300.0, low=0.8, high=1.0)
        self._load_noise = MeanReverting(mean=1.0, stddev=0.1, tau_s=120.0, low=0.5, high=1.5)
        self._energy = EnergyCounter()
        self._sag_v: float | None = None

    def sag(self, voltage_v: float | None) -> None:
        """Hold the supply at ``voltage_v`` (a brown-out), or None to let it recover."""
        self._sag_v = voltage_v

    def step(self, now: datetime, dt_s: float) -> dict[str, float]:
        check_dt(dt_s)
        shape = _daily_load_shape(local_solar_hour(now, self._longitude_deg))
        demand_w = (
            self._base_load_w + (self._peak_load_w - self._base_load_w) * shape
        ) * self._load_noise.advance(self._rng, dt_s)

        voltage_v = round(self._voltage.advance(self._rng, dt_s), 1)
        if self._sag_v is not None:
            voltage_v = self._sag_v
        power_factor = round(self._power_factor.advance(self._rng, dt_s), 3)
        frequency_hz = round(self._frequency.advance(self._rng, dt_s), 3)
        current_a = round(demand_w / (voltage_v * power_factor), 3)
        power_w = voltage_v * current_a * power_factor
        return {
            "voltage_v": voltage_v,
            "current_a": current_a,
            "power_factor": power_factor,
            "frequency_hz": frequency_hz,
            "power_w": power_w,
            "apparent_power_va": voltage_v * current_a,
            "energy_wh": self._energy.add(power_w, dt_s),
        }
