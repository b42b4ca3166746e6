"""Small injected faults that the detectors must find, and clean data where they find none."""

from __future__ import annotations

import math
from collections.abc import Callable
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from wattline.intelligence.anomalies import detect
from wattline.intelligence.hourly import DAY_MS, HOUR_MS, HourlySeries, from_points
from wattline.model.findings import AnomalyKind

UTC = ZoneInfo("UTC")
START_MS = 1_788_220_800_000  # 2026-09-01T00:00Z, a Tuesday
DAYS, REFERENCE = 21, 14
WINDOW_MS = START_MS + REFERENCE * DAY_MS


def _shape(hour: float) -> float:
    """Morning and evening peaks, as the simulator's building meter."""

    def bump(centre: float, width: float) -> float:
        distance = min(abs(hour - centre), 24 - abs(hour - centre))
        return math.exp(-0.5 * (distance / width) ** 2)

    return 0.5 * bump(8, 1.5) + bump(19, 2)


def household(seed: int = 0, shift_from_day: int | None = None) -> HourlySeries:
    rng = np.random.default_rng(seed)
    hours = np.arange(DAYS * 24)
    shifted = (hours // 24 >= shift_from_day) * 7 if shift_from_day is not None else 0
    mean = np.array(
        [
            400 + 3000 * _shape((h - s) % 24)
            for h, s in zip(hours % 24, np.broadcast_to(shifted, hours.shape), strict=True)
        ]
    )
    mean *= np.repeat(rng.uniform(0.97, 1.03, DAYS), 24) * rng.normal(1, 0.03, len(hours))
    return HourlySeries(START_MS, mean, mean * 0.8, mean * 1.3, np.full(len(hours), 60))


def appliance(seed: int = 0) -> HourlySeries:
    """An office plug: weekdays 08:00-18:00 on and off, idle (2 W) otherwise."""
    rng = np.random.default_rng(seed)
    hours = np.arange(DAYS * 24)
    weekday = ((START_MS // DAY_MS + hours // 24 + 3) % 7) < 5
    working = weekday & (hours % 24 >= 8) & (hours % 24 < 18)
    mean = np.where(working, 1000 * rng.uniform(0.2, 0.5, len(hours)), 2.0)
    low = np.where(working, 2.0, 1.8)
    high = np.where(working, 1050.0, 2.2)
    return HourlySeries(START_MS, mean, low, high, np.full(len(hours), 60))


def at(day: int, hour: int) -> int:
    return day * 24 + hour


def spike(s: HourlySeries) -> tuple[int, int]:
    s.max_w[at(17, 14)] = 9 * s.max_w.max()
    return at(17, 14), at(17, 15)


def stuck(s: HourlySeries) -> tuple[int, int]:
    rows = slice(at(16, 10), at(16, 14))
    s.mean_w[rows] = s.min_w[rows] = s.max_w[rows] = 612.5
    return at(16, 10), at(16, 14)


def night_use(s: HourlySeries) -> tuple[int, int]:
    rows = slice(at(16, 1), at(16, 5))
    s.mean_w[rows] += 150
    s.min_w[rows] += 140
    s.max_w[rows] += 160
    return at(16, 1), at(16, 5)


def always_on(s: HourlySeries) -> tuple[int, int]:
    for values in (s.mean_w, s.min_w, s.max_w):
        values[at(15, 12) :] += 300
    return at(15, 12), DAYS * 24


def drift(s: HourlySeries) -> tuple[int, int]:
    first = at(14, 0)
    ramp = 1 + 0.5 * np.clip((np.arange(len(s)) - first) / (len(s) - first), 0, None)
    for values in (s.mean_w, s.min_w, s.max_w):
        values[:] = values * ramp
    return first, DAYS * 24


CASES: list[
    tuple[AnomalyKind, Callable[[], HourlySeries], Callable[[HourlySeries], tuple[int, int]]]
] = [
    (AnomalyKind.SPIKE, household, spike),
    (AnomalyKind.STUCK, household, stuck),
    (AnomalyKind.NIGHT_USE, appliance, night_use),
    (AnomalyKind.ALWAYS_ON, household, always_on),
    (AnomalyKind.DRIFT, household, drift),
]


@pytest.mark.parametrize(("kind", "make", "inject"), CASES, ids=[c[0].value for c in CASES])
def test_an_injected_fault_is_found_and_nothing_else(kind, make, inject) -> None:
    series = make()
    first, last = inject(series)
    findings = detect(series, WINDOW_MS, UTC, device_id="dev")
    assert [f.kind for f in findings] == [kind]
    found = findings[0]
    assert found.start_ms < START_MS + last * HOUR_MS + DAY_MS
    assert START_MS + first * HOUR_MS < found.end_ms
    assert found.explanation
    assert found.score > 0
    assert (
        not found.expected_low <= found.observed <= found.expected_high or kind is AnomalyKind.STUCK
    )


def test_a_moved_daily_profile_is_a_profile_change() -> None:
    findings = detect(household(shift_from_day=15), WINDOW_MS, UTC, device_id="dev")
    assert [f.kind for f in findings] == [AnomalyKind.PROFILE_CHANGE]
    assert findings[0].start_ms == START_MS + 15 * DAY_MS
    assert "busiest hour" in findings[0].explanation


@pytest.mark.parametrize("make", [household, appliance])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_clean_devices_have_no_findings(make, seed) -> None:
    assert detect(make(seed), WINDOW_MS, UTC, device_id="dev") == []


def test_too_little_reference_reports_nothing() -> None:
    full = household()
    spike(full)
    series = full.tail(WINDOW_MS - 5 * DAY_MS)
    assert detect(series, WINDOW_MS, UTC, device_id="dev") == []


def test_the_hourly_fold_matches_the_rollup() -> None:
    points = [(START_MS + i * 600_000, float(i)) for i in range(12)]
    series = from_points(points, START_MS, START_MS + 3 * HOUR_MS)
    assert series.count.tolist() == [6, 6, 0]
    assert series.mean_w[:2].tolist() == [2.5, 8.5]
    assert series.min_w[:2].tolist() == [0.0, 6.0]
    assert series.max_w[:2].tolist() == [5.0, 11.0]
    assert math.isnan(series.mean_w[2])
