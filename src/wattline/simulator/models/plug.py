"""A smart plug with a relay, switching an appliance on and off."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from wattline.simulator.models.base import (
    EnergyCounter,
    MeanReverting,
    check_dt,
    mains_voltage,
)

if TYPE_CHECKING:
    import random
    from datetime import datetime


class SmartPlug:
    """Relay-switched appliance; the relay toggles on a random duty cycle."""

    metric_names: ClassVar[tuple[str, ...]] = (
        "voltage_v",
        "current_a",
        "power_w",
        "relay_state",
        "energy_wh",
    )

    def __init__(  # noqa: PLR0913 - independent appliance parameters
        self,
        rng: random.Random,
        *,
        rated_power_w: float = 1000.0,
        power_factor: float = 0.95,
        mean_on_s: float = 600.0,
        mean_off_s: float = 1200.0,
        nominal_voltage_v: float = 230.0,
    ) -> None:
        self._rng = rng
        self._rated_power_w = rated_power_w
        self.power_factor = power_factor
        self._mean_on_s = mean_on_s
        self._mean_off_s = mean_off_s
        self._voltage = mains_voltage(nominal_voltage_v)
        self._load_noise = MeanReverting(mean=1.0, stddev=0.05, tau_s=30.0, low=0.7, high=1.2)
        self._energy = EnergyCounter()
        self.set_relay(rng.random() < mean_on_s / (mean_on_s + mean_off_s))

    @property
    def relay_on(self) -> bool:
        return self._relay_on

    def set_relay(self, on: bool) -> None:
        """Switch the relay (as a remote command would) and restart its duty timer."""
        self._relay_on = on
        self._toggle_in_s = self._rng.expovariate(
            1.0 / (self._mean_on_s if on else self._mean_off_s)
        )

    def step(self, now: datetime, dt_s: float) -> dict[str, float]:  # noqa: ARG002 - duty cycle, not clock
        check_dt(dt_s)
        self._toggle_in_s -= dt_s
        if self._toggle_in_s <= 0:
            self.set_relay(not self._relay_on)

        voltage_v = round(self._voltage.advance(self._rng, dt_s), 1)
        load_factor = self._load_noise.advance(self._rng, dt_s)
        current_a = 0.0
        if self._relay_on:
            demand_w = self._rated_power_w * load_factor
            current_a = round(demand_w / (voltage_v * self.power_factor), 3)
        power_w = voltage_v * current_a * self.power_factor
        return {
            "voltage_v": voltage_v,
            "current_a": current_a,
            "power_w": power_w,
            "relay_state": 1.0 if self._relay_on else 0.0,
            "energy_wh": self._energy.add(power_w, dt_s),
        }


# ---------------------------------------------------------------------------- sun-driven
