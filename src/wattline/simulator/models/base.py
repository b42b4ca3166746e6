"""What every simulated device is made of: the model protocol, counters and noise."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    import random
    from datetime import datetime

SECONDS_PER_HOUR = 3600.0


class DeviceModel(Protocol):
    """What the fleet publisher needs from a model."""

    metric_names: ClassVar[tuple[str, ...]]

    def step(self, now: datetime, dt_s: float) -> dict[str, float]: ...


def check_dt(dt_s: float) -> None:
    # A negative step would run energy counters backwards; refuse it loudly.
    if not math.isfinite(dt_s) or dt_s < 0:
        raise ValueError(f"dt_s must be a finite, non-negative number, got {dt_s!r}")


def clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


@dataclass(slots=True)
class EnergyCounter:
    """Cumulative register: like a real meter it only ever counts up."""

    wh: float = 0.0

    def add(self, power_w: float, dt_s: float) -> float:
        if power_w > 0:
            self.wh += power_w * dt_s / SECONDS_PER_HOUR
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
        self.value = clamp(raw, self.low, self.high)
        return self.value


def mains_voltage(nominal_v: float) -> MeanReverting:
    # EN 50160 allows +-10 %; real feeders wander a couple of volts around nominal.
    return MeanReverting(
        mean=nominal_v,
        stddev=0.01 * nominal_v,
        tau_s=60.0,
        low=0.9 * nominal_v,
        high=1.1 * nominal_v,
    )


# ---------------------------------------------------------------------------- DC rail
