"""What a store holds for some devices, read through its ports (not its tables), so a
rebuilt store can be compared with the one it replaces whatever the storage layout."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from wattline.storage.bucketing import per_tier_bucket
from wattline.storage.rollups import TIERS

DAY_MS = 86_400_000
PAGE = 5_000


class Sum(float):
    """A bucket's sum, equal to another within float rounding: a store folds the same
    samples in whatever batches they came in, and (a + b) + c need not be a + (b + c)
    in the last bits (rounding to 6 places still split 57919.1503485 once)."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, float):
            return NotImplemented
        return math.isclose(self, other, rel_tol=1e-12, abs_tol=1e-9)

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = float.__hash__


@dataclass
class DeviceFingerprint:
    # metric -> (count, sum) of the raw samples
    totals: dict[str, tuple[int, float]] = field(default_factory=dict)
    # every raw reading: (ts, seq, metrics)
    points: list[tuple[int, int | None, tuple[tuple[str, float], ...]]] = field(
        default_factory=list
    )
    # tier -> bucket start -> metric -> (count, sum, min, max, first, last)
    tiers: dict[str, dict[int, dict[str, tuple[Any, ...]]]] = field(default_factory=dict)
    latest: dict[str, tuple[int, float]] = field(default_factory=dict)
    # sequence state without the wall-clock time a gap was noticed at, and the
    # duplicate counter, which counts every repeat the store was offered
    sequence: tuple[Any, ...] | None = None
    duplicates: int | None = None


def fingerprint(
    store: Any, devices: Sequence[str], start_ms: int, end_ms: int
) -> dict[str, DeviceFingerprint]:
    """start_ms and end_ms on whole UTC days, around every reading."""
    start_ms -= start_ms % DAY_MS
    end_ms += -end_ms % DAY_MS
    found = {device: DeviceFingerprint() for device in devices}
    for device, print_ in found.items():
        _raw(store, device, start_ms, end_ms, print_)
        state = store.sequence_state(device)
        if state is not None:
            gaps = tuple((g.boot, g.first_seq, g.last_seq) for g in state.gaps)
            print_.sequence = (
                state.boot,
                state.next_seq,
                state.boot_first_ts_ms,
                state.last_ts_ms,
                gaps,
                state.resets,
                state.forgotten_through,
            )
            print_.duplicates = state.duplicates
    for tier in TIERS:
        series = store.series(list(devices), per_tier_bucket(start_ms, end_ms, tier), None)
        for device, buckets in series.items():
            found[device].tiers[tier.value] = {
                bucket.start_ms: {
                    metric: (
                        a.count,
                        Sum(a.sum),
                        a.min,
                        a.max,
                        (a.first_ts_ms, a.first_value),
                        (a.last_ts_ms, a.last_value),
                    )
                    for metric, a in bucket.metrics.items()
                }
                for bucket in buckets
            }
    for device, values in store.latest_values(list(devices)).items():
        found[device].latest = {v.metric: (v.ts_ms, v.value) for v in values}
    return found


def _raw(store: Any, device: str, start_ms: int, end_ms: int, into: DeviceFingerprint) -> None:
    after: int | None = None
    while True:
        page = store.raw_points(device, start_ms, end_ms, None, PAGE, after_ms=after)
        for point in page:
            into.points.append((point.ts_ms, point.seq, tuple(sorted(point.metrics.items()))))
            for metric, value in point.metrics.items():
                count, total = into.totals.get(metric, (0, 0.0))
                into.totals[metric] = (count + 1, total + value)
        if len(page) < PAGE:
            return
        after = page[-1].ts_ms
