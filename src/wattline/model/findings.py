"""What the anomaly detectors report about one device: a finding, in words and numbers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AnomalyKind(StrEnum):
    SPIKE = "spike"  # a short excursion far above anything the device normally shows
    STUCK = "stuck"  # the same non-zero value repeated for hours by a device that varies
    DRIFT = "drift"  # the whole profile scaled up or down, growing day by day
    NIGHT_USE = "night_use"  # consumption at night in hours that are normally idle
    ALWAYS_ON = "always_on"  # a new constant load: the day's minimum rose by the extra load
    PROFILE_CHANGE = "profile_change"  # the daily shape moved (hours of use), not its level


@dataclass(frozen=True, slots=True)
class Finding:
    """One anomaly of one device over ``[start_ms, end_ms)``.

    ``observed`` is the figure that broke the expected range ``[expected_low,
    expected_high]`` (in ``unit``); ``score`` is how far outside, in robust
    standard deviations of the reference period (larger is more certain).
    """

    device_id: str
    kind: AnomalyKind
    start_ms: int
    end_ms: int
    score: float
    observed: float
    expected_low: float
    expected_high: float
    unit: str
    explanation: str
    metric: str
    detector_version: str


@dataclass(frozen=True, slots=True)
class StoredFinding:
    """A finding as stored: its id, its tenant and when it was (last) found."""

    id: int
    tenant_id: str
    found_ms: int
    finding: Finding
