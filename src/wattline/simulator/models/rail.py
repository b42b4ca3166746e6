"""A DC power meter on a train: traction, braking and regeneration by phase."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar

from wattline.simulator.models.base import (
    EnergyCounter,
    MeanReverting,
    check_dt,
)

if TYPE_CHECKING:
    import random
    from collections.abc import Mapping
    from datetime import datetime


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
        check_dt(dt_s)
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
