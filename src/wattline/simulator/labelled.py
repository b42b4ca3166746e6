"""Labelled consumption for the anomaly benchmark and tests: faults injected at known times.

Two realistic daily profiles, one reading a minute:

- ``household``: a building's supply meter, the ``AcMeter`` load shape (morning
  and evening peaks) over a base load, later mornings at weekends, day-to-day
  variation and kettle-sized appliance bursts;
- ``appliance``: an office appliance on a smart plug, duty-cycling on weekdays
  08:00-18:00 and in standby otherwise.

On top, one fault of a kind the detectors know (``wattline.model.findings.AnomalyKind``)
at a time drawn from the device's own random generator, recorded as a ``Fault``
with the range a detector is expected to report. Standard library only; the
same seed gives the same data.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from wattline.model.findings import AnomalyKind
from wattline.simulator.models.base import MeanReverting
from wattline.simulator.models.grid import _daily_load_shape

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000


class Profile(StrEnum):
    HOUSEHOLD = "household"
    APPLIANCE = "appliance"


@dataclass(frozen=True, slots=True)
class Fault:
    kind: AnomalyKind
    start_ms: int
    end_ms: int


@dataclass(frozen=True, slots=True)
class LabelledDevice:
    device_id: str
    profile: Profile
    points: list[tuple[int, float]]  # (ts_ms, power_w), one a minute
    faults: tuple[Fault, ...]


@dataclass(frozen=True, slots=True)
class Span:
    """Which days are simulated and where faults may start (days from ``start_ms``)."""

    start_ms: int  # a UTC midnight
    days: int
    faults_from_day: int


def household(rng: random.Random, span: Span, shift_from_ms: int | None = None) -> list[float]:
    """Watts per minute; from ``shift_from_ms`` on the day's shape moves by 5-9 hours."""
    base_w, peak_w = rng.uniform(300, 900), rng.uniform(2500, 5000)
    shift_h = rng.uniform(5, 9)
    noise = MeanReverting(mean=1.0, stddev=0.1, tau_s=120.0, low=0.5, high=1.5)
    values: list[float] = []
    burst_left, burst_w, day_factor = 0, 0.0, 1.0
    for minute in range(span.days * 1440):
        ts_ms = span.start_ms + minute * MINUTE_MS
        if minute % 1440 == 0:
            day_factor = rng.uniform(0.92, 1.08)
        hour = (minute % 1440) / 60
        weekend = (ts_ms // DAY_MS + 3) % 7 >= 5  # 1970-01-01 was a Thursday
        hour -= 1.5 if weekend else 0.0
        if shift_from_ms is not None and ts_ms >= shift_from_ms:
            hour -= shift_h
        shape = _daily_load_shape(hour % 24)
        power_w = (base_w + (peak_w - base_w) * shape) * day_factor * noise.advance(rng, 60.0)
        # a kettle or an oven ring: 2-3 kW for a few minutes, about three times a day
        if burst_left == 0 and rng.random() < 3 / 1440:
            burst_left, burst_w = rng.randint(2, 5), rng.uniform(2000, 3000)
        if burst_left:
            burst_left -= 1
            power_w += burst_w
        values.append(power_w)
    return values


def appliance(rng: random.Random, span: Span, shift_from_ms: int | None = None) -> list[float]:
    """Watts per minute; from ``shift_from_ms`` on the working hours move to 12:00-21:00."""
    rated_w, standby_w = rng.uniform(500, 2000), rng.uniform(0.5, 3.0)
    noise = MeanReverting(mean=1.0, stddev=0.05, tau_s=30.0, low=0.7, high=1.2)
    values: list[float] = []
    on, toggle_in = False, 0.0
    for minute in range(span.days * 1440):
        ts_ms = span.start_ms + minute * MINUTE_MS
        hour = (minute % 1440) / 60
        weekday = (ts_ms // DAY_MS + 3) % 7 < 5
        first, last = (12, 21) if shift_from_ms is not None and ts_ms >= shift_from_ms else (8, 18)
        working = weekday and first <= hour < last
        toggle_in -= 1
        if toggle_in <= 0:
            on = not on
            toggle_in = rng.expovariate(1 / (10 if on else 20))
        level = noise.advance(rng, 60.0)
        values.append(rated_w * level if working and on else standby_w * (0.9 + 0.2 * rng.random()))
    return values


def _level_w(values: list[float]) -> float:
    """The device's typical high power: its 95th percentile."""
    ordered = sorted(values)
    return ordered[int(0.95 * (len(ordered) - 1))]


def _fault_start(rng: random.Random, span: Span, latest_day: int) -> int:
    day = rng.randint(span.faults_from_day, latest_day)
    return span.start_ms + day * DAY_MS


def inject(  # noqa: C901, PLR0913 - one branch per fault kind; the device and its data
    kind: AnomalyKind,
    *,
    rng: random.Random,
    span: Span,
    values: list[float],
    profile: Profile,
    regenerate: Callable[[int], list[float]],
) -> list[Fault]:
    """Change ``values`` in place with one fault of ``kind`` (two spikes); the faults."""
    end_ms = span.start_ms + span.days * DAY_MS
    last_day = span.days - 1

    def index(ts_ms: int) -> int:
        return (ts_ms - span.start_ms) // MINUTE_MS

    if kind is AnomalyKind.SPIKE:
        faults = []
        level = _level_w(values)
        for _ in range(2):
            at = _fault_start(rng, span, last_day) + rng.randrange(1440) * MINUTE_MS
            minutes = rng.randint(1, 2)
            for i in range(index(at), index(at) + minutes):
                values[i] = level * rng.uniform(5, 10)  # a glitch of the CT clamp or ADC
            faults.append(Fault(kind, at, at + minutes * MINUTE_MS))
        return faults
    if kind is AnomalyKind.STUCK:
        at = _fault_start(rng, span, last_day - 1) + rng.randint(9, 13) * HOUR_MS
        i, length = index(at), rng.randint(3, 6) * 60
        # from a moment of use: the value it repeats is not the idle one
        while values[i - 1] < 50 and i + length < len(values):
            i += 30
        values[i : i + length] = [values[i - 1]] * length
        start = span.start_ms + i * MINUTE_MS
        return [Fault(kind, start, start + length * MINUTE_MS)]
    onset_ms = _fault_start(rng, span, span.faults_from_day + 4) + rng.randrange(24) * HOUR_MS
    if kind is AnomalyKind.DRIFT:
        growth = rng.uniform(0.3, 0.6)
        first, last = index(onset_ms), len(values)
        for i in range(first, last):
            values[i] *= 1 + growth * (i - first) / (last - first)
    elif kind is AnomalyKind.ALWAYS_ON:
        extra_w = rng.uniform(200, 500) if profile is Profile.HOUSEHOLD else rng.uniform(40, 150)
        for i in range(index(onset_ms), len(values)):
            values[i] += extra_w
    elif kind is AnomalyKind.PROFILE_CHANGE:
        onset_ms -= onset_ms % DAY_MS
        values[index(onset_ms) :] = regenerate(onset_ms)[index(onset_ms) :]
    elif kind is AnomalyKind.NIGHT_USE:
        start = onset_ms - onset_ms % DAY_MS + rng.randint(0, 2) * HOUR_MS
        length_h, extra_w = rng.randint(3, 5), rng.uniform(100, 400)  # a heater left on
        for i in range(index(start), index(start + length_h * HOUR_MS)):
            values[i] += extra_w
        return [Fault(kind, start, start + length_h * HOUR_MS)]
    return [Fault(kind, onset_ms, end_ms)]


# Which profile each fault is realistic on: night use needs idle nights, and a
# household's daily total varies too little for an appliance's drift to be told
# from its duty cycle.
PROFILES_OF: dict[AnomalyKind, tuple[Profile, ...]] = {
    AnomalyKind.SPIKE: (Profile.HOUSEHOLD, Profile.APPLIANCE),
    AnomalyKind.STUCK: (Profile.HOUSEHOLD, Profile.APPLIANCE),
    AnomalyKind.DRIFT: (Profile.HOUSEHOLD,),
    AnomalyKind.NIGHT_USE: (Profile.APPLIANCE,),
    AnomalyKind.ALWAYS_ON: (Profile.HOUSEHOLD, Profile.APPLIANCE),
    AnomalyKind.PROFILE_CHANGE: (Profile.HOUSEHOLD, Profile.APPLIANCE),
}


def simulate(
    device_id: str, profile: Profile, kind: AnomalyKind | None, span: Span, seed: int
) -> LabelledDevice:
    """One device's minutes with one fault of ``kind`` (None: a clean device)."""
    rng = random.Random(f"{seed}:{device_id}")  # noqa: S311 - reproducible data, not secrets
    generate = household if profile is Profile.HOUSEHOLD else appliance
    state = rng.getstate()
    values = generate(rng, span)
    faults: list[Fault] = []
    if kind is not None:

        def regenerate(shift_from_ms: int) -> list[float]:
            again = random.Random()  # noqa: S311 - reproducible data, not secrets
            again.setstate(state)  # the same device, its hours moved from shift_from_ms
            return generate(again, span, shift_from_ms)

        faults = inject(
            kind, rng=rng, span=span, values=values, profile=profile, regenerate=regenerate
        )
    points = [(span.start_ms + i * MINUTE_MS, v) for i, v in enumerate(values)]
    return LabelledDevice(device_id, profile, points, tuple(faults))


def fleet(span: Span, per_kind: int, clean: int, seed: int) -> list[LabelledDevice]:
    """``per_kind`` faulty devices of every kind (profiles alternating) and ``clean`` clean ones."""
    devices: list[LabelledDevice] = []
    for kind in AnomalyKind:
        profiles = PROFILES_OF[kind]
        for n in range(per_kind):
            profile = profiles[n % len(profiles)]
            devices.append(simulate(f"{kind.value}-{n}", profile, kind, span, seed))
    for n in range(clean):
        profile = (Profile.HOUSEHOLD, Profile.APPLIANCE)[n % 2]
        devices.append(simulate(f"clean-{n}", profile, None, span, seed))
    return devices
