"""A home sensor node: light, current, temperature and humidity."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

from wattline.simulator.models.base import (
    MeanReverting,
    check_dt,
    clamp,
)
from wattline.simulator.models.solar import cloud_cover
from wattline.simulator.sun import local_solar_hour, solar_elevation_deg

if TYPE_CHECKING:
    import random
    from datetime import datetime

_LDR_MAX = 1023.0


class HomeSensorNode:
    """ESP32-class node: room climate, an LDR by the window and a CT clamp on one circuit."""

    metric_names: ClassVar[tuple[str, ...]] = (
        "temperature_c",
        "humidity_pct",
        "light_ldr",
        "current_a",
    )

    def __init__(
        self,
        rng: random.Random,
        *,
        latitude_deg: float,
        longitude_deg: float,
        base_temperature_c: float = 21.0,
    ) -> None:
        self._rng = rng
        self._latitude_deg = latitude_deg
        self._longitude_deg = longitude_deg
        self._base_temperature_c = base_temperature_c
        self._temperature_noise = MeanReverting(
            mean=0.0, stddev=0.3, tau_s=600.0, low=-2.0, high=2.0
        )
        self._humidity_noise = MeanReverting(
            mean=0.0, stddev=3.0, tau_s=900.0, low=-15.0, high=15.0
        )
        self._clouds = cloud_cover()
        self._circuit_current = MeanReverting(
            mean=1.5, stddev=1.0, tau_s=300.0, low=0.05, high=16.0
        )

    def step(self, now: datetime, dt_s: float) -> dict[str, float]:
        check_dt(dt_s)
        hour = local_solar_hour(now, self._longitude_deg)
        # Rooms warm through the afternoon and are coolest before dawn.
        temperature_c = (
            self._base_temperature_c
            + 1.5 * math.sin(2 * math.pi * (hour - 9.0) / 24.0)
            + self._temperature_noise.advance(self._rng, dt_s)
        )
        # Same absolute moisture means lower relative humidity in warmer air.
        humidity_pct = clamp(
            50.0
            - 2.5 * (temperature_c - self._base_temperature_c)
            + self._humidity_noise.advance(self._rng, dt_s),
            20.0,
            90.0,
        )

        transmittance = self._clouds.advance(self._rng, dt_s)
        elevation_deg = solar_elevation_deg(now, self._latitude_deg, self._longitude_deg)
        if elevation_deg > 0:
            light = 80.0 + 900.0 * math.sin(math.radians(elevation_deg)) * transmittance
        else:
            light = 120.0 if 18.0 <= hour < 23.0 else 5.0  # lamps on in the evening
        light_ldr = float(round(clamp(light + self._rng.gauss(0.0, 5.0), 0.0, _LDR_MAX)))

        return {
            "temperature_c": round(temperature_c, 2),
            "humidity_pct": round(humidity_pct, 1),
            "light_ldr": light_ldr,
            "current_a": round(self._circuit_current.advance(self._rng, dt_s), 2),
        }
