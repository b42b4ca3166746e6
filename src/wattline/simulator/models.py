"""Physics models behind the simulated devices.

Every model is deterministic given its `random.Random`, and every reading it returns is
self-consistent (P = V*I*PF computed from the values actually reported), so downstream
validation code can be tested against the simulator without tolerance hacks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar, Protocol

from wattline.simulator.sun import local_solar_hour, solar_elevation_deg

if TYPE_CHECKING:
    import random
    from collections.abc import Mapping
    from datetime import datetime

_SECONDS_PER_HOUR = 3600.0


class DeviceModel(Protocol):
    """What the fleet publisher needs from a model."""

    metric_names: ClassVar[tuple[str, ...]]

    def step(self, now: datetime, dt_s: float) -> dict[str, float]: ...


def _check_dt(dt_s: float) -> None:
    # A negative step would run energy counters backwards; refuse it loudly.
    if not math.isfinite(dt_s) or dt_s < 0:
        raise ValueError(f"dt_s must be a finite, non-negative number, got {dt_s!r}")


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


@dataclass(slots=True)
class EnergyCounter:
    """Cumulative register: like a real meter it only ever counts up."""

    wh: float = 0.0

    def add(self, power_w: float, dt_s: float) -> float:
        if power_w > 0:
            self.wh += power_w * dt_s / _SECONDS_PER_HOUR
        return self.wh


@dataclass(slots=True)
class MeanReverting:
    """Ornstein-Uhlenbeck process sampled exactly, so any dt (even huge) stays stable."""

    mean: float
    stddev: float
    tau_s: float
    low: float
    high: float
    value: float = field(default=math.nan)

    def __post_init__(self) -> None:
        if math.isnan(self.value):
            self.value = self.mean

    def advance(self, rng: random.Random, dt_s: float) -> float:
        decay = math.exp(-dt_s / self.tau_s)
        spread = self.stddev * math.sqrt(1.0 - decay * decay)
        raw = self.mean + (self.value - self.mean) * decay + spread * rng.gauss(0.0, 1.0)
        self.value = _clamp(raw, self.low, self.high)
        return self.value


def _mains_voltage(nominal_v: float) -> MeanReverting:
    # EN 50160 allows +-10 %; real feeders wander a couple of volts around nominal.
    return MeanReverting(
        mean=nominal_v,
        stddev=0.01 * nominal_v,
        tau_s=60.0,
        low=0.9 * nominal_v,
        high=1.1 * nominal_v,
    )


# ---------------------------------------------------------------------------- DC rail


class TrainPhase(StrEnum):
    STATIONARY = "stationary"
    ACCELERATING = "accelerating"
    CRUISING = "cruising"
    COASTING = "coasting"
    BRAKING = "braking"


@dataclass(frozen=True, slots=True)
class _PhaseProfile:
    min_duration_s: float
    max_duration_s: float
    min_current_a: float
    max_current_a: float
    ramp_s: float


# Negative current while braking is regeneration flowing back into the line.
_PHASE_PROFILES: Mapping[TrainPhase, _PhaseProfile] = MappingProxyType(
    {
        TrainPhase.STATIONARY: _PhaseProfile(20.0, 60.0, 30.0, 80.0, 0.0),
        TrainPhase.ACCELERATING: _PhaseProfile(15.0, 35.0, 1500.0, 3000.0, 3.0),
        TrainPhase.CRUISING: _PhaseProfile(30.0, 90.0, 400.0, 900.0, 0.0),
        TrainPhase.COASTING: _PhaseProfile(10.0, 30.0, 30.0, 80.0, 0.0),
        TrainPhase.BRAKING: _PhaseProfile(12.0, 25.0, -1500.0, -500.0, 2.0),
    }
)
_PHASE_ORDER: tuple[TrainPhase, ...] = tuple(TrainPhase)


class DcRailMeter:
    """Traction-substation feeder meter on a ~750 V DC line."""

    metric_names: ClassVar[tuple[str, ...]] = (
        "voltage_v",
        "current_a",
        "power_w",
        "energy_import_wh",
        "energy_export_wh",
    )

    def __init__(
        self,
        rng: random.Random,
        *,
        nominal_voltage_v: float = 750.0,
        source_resistance_ohm: float = 0.03,
    ) -> None:
        self._rng = rng
        self._resistance_ohm = source_resistance_ohm
        # Other trains on the section move the no-load voltage around too.
        self._open_circuit_v = MeanReverting(
            mean=nominal_voltage_v,
            stddev=5.0,
            tau_s=120.0,
            low=0.9 * nominal_voltage_v,
            high=1.1 * nominal_voltage_v,
        )
        self._import = EnergyCounter()
        self._export = EnergyCounter()
        # Start mid-cycle so meters sharing a timetable do not move in lockstep.
        self._phase_index = rng.randrange(len(_PHASE_ORDER))
        self._enter_phase()
        self._phase_elapsed_s = rng.uniform(0.0, self._phase_duration_s)

    @property
    def phase(self) -> TrainPhase:
        return _PHASE_ORDER[self._phase_index]

    def _enter_phase(self) -> None:
        profile = _PHASE_PROFILES[self.phase]
        self._phase_duration_s = self._rng.uniform(profile.min_duration_s, profile.max_duration_s)
        self._phase_current_a = self._rng.uniform(profile.min_current_a, profile.max_current_a)
        self._phase_elapsed_s = 0.0

    def step(self, now: datetime, dt_s: float) -> dict[str, float]:  # noqa: ARG002 - timetable, not clock
        _check_dt(dt_s)
        self._phase_elapsed_s += dt_s
        if self._phase_elapsed_s >= self._phase_duration_s:
            # At most one transition per step: samples are seconds apart while phases last
            # tens of seconds, and it keeps a giant dt from costing a giant loop.
            overflow_s = self._phase_elapsed_s - self._phase_duration_s
            self._phase_index = (self._phase_index + 1) % len(_PHASE_ORDER)
            self._enter_phase()
            self._phase_elapsed_s = min(overflow_s, self._phase_duration_s)

        profile = _PHASE_PROFILES[self.phase]
        ramp = 1.0 if profile.ramp_s == 0 else min(1.0, self._phase_elapsed_s / profile.ramp_s)
        target_a = self._phase_current_a * ramp
        current_a = round(target_a + self._rng.gauss(0.0, 0.02 * abs(target_a) + 2.0), 1)

        open_circuit_v = self._open_circuit_v.advance(self._rng, dt_s)
        voltage_v = round(open_circuit_v - self._resistance_ohm * current_a, 1)
        power_w = voltage_v * current_a
        return {
            "voltage_v": voltage_v,
            "current_a": current_a,
            "power_w": power_w,
            "energy_import_wh": self._import.add(power_w, dt_s),
            "energy_export_wh": self._export.add(-power_w, dt_s),
        }


# ---------------------------------------------------------------------------- AC


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
        self._voltage = _mains_voltage(nominal_voltage_v)
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

    def step(self, now: datetime, dt_s: float) -> dict[str, float]:
        _check_dt(dt_s)
        shape = _daily_load_shape(local_solar_hour(now, self._longitude_deg))
        demand_w = (
            self._base_load_w + (self._peak_load_w - self._base_load_w) * shape
        ) * self._load_noise.advance(self._rng, dt_s)

        voltage_v = round(self._voltage.advance(self._rng, dt_s), 1)
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
        self._voltage = _mains_voltage(nominal_voltage_v)
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
        _check_dt(dt_s)
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


def clear_sky_irradiance_w_m2(elevation_deg: float) -> float:
    """Haurwitz clear-sky global horizontal irradiance; zero with the sun below the horizon."""
    if elevation_deg <= 0:
        return 0.0
    sin_elevation = math.sin(math.radians(elevation_deg))
    return 1098.0 * sin_elevation * math.exp(-0.057 / sin_elevation)


def _cloud_cover() -> MeanReverting:
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
    ) -> None:
        self._rng = rng
        self._latitude_deg = latitude_deg
        self._longitude_deg = longitude_deg
        self._capacity_w = capacity_w
        self.efficiency = efficiency
        self._mppt_voltage_v = mppt_voltage_v
        self._clouds = _cloud_cover()
        self._energy = EnergyCounter()

    def step(self, now: datetime, dt_s: float) -> dict[str, float]:
        _check_dt(dt_s)
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

        # Array rated at STC (1000 W/m2); the inverter clips anything above its rating.
        pv_power_w = round(min(self._capacity_w, self._capacity_w * irradiance / 1000.0), 1)
        # Cell voltage grows roughly logarithmically with irradiance.
        relative_v = _clamp(1.0 + 0.06 * math.log(irradiance / 1000.0), 0.6, 1.05)
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
        self._clouds = _cloud_cover()
        self._circuit_current = MeanReverting(
            mean=1.5, stddev=1.0, tau_s=300.0, low=0.05, high=16.0
        )

    def step(self, now: datetime, dt_s: float) -> dict[str, float]:
        _check_dt(dt_s)
        hour = local_solar_hour(now, self._longitude_deg)
        # Rooms warm through the afternoon and are coolest before dawn.
        temperature_c = (
            self._base_temperature_c
            + 1.5 * math.sin(2 * math.pi * (hour - 9.0) / 24.0)
            + self._temperature_noise.advance(self._rng, dt_s)
        )
        # Same absolute moisture means lower relative humidity in warmer air.
        humidity_pct = _clamp(
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
        light_ldr = float(round(_clamp(light + self._rng.gauss(0.0, 5.0), 0.0, _LDR_MAX)))

        return {
            "temperature_c": round(temperature_c, 2),
            "humidity_pct": round(humidity_pct, 1),
            "light_ldr": light_ldr,
            "current_a": round(self._circuit_current.advance(self._rng, dt_s), 2),
        }
