"""Bucket edges for a query, in UTC or a site's time zone, and which tier answers them exactly.

Pure. A bucket plan lists the buckets' nominal starts (labels), chooses the
coarsest rollup tier whose buckets never straddle an edge, and a uniform grid
on which the database groups rows before Python merges grid cells into the
plan's buckets (one cell per bucket whenever the buckets are of equal width).

- Fixed intervals without a time zone align to the epoch, as they always have.
- Days, weeks (Monday first) and calendar months start at local midnight, so a
  local day is 23 h or 25 h long when daylight saving time starts or ends.
- With a time zone, an interval under a day must divide 24 h; its buckets are
  that much elapsed time from each local midnight, the day's last one cut at
  the next midnight (so a 25 h day has 25 hourly buckets, and 6 h buckets
  0, 6, 12, 18 and a last one of 1 h).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from itertools import pairwise
from zoneinfo import ZoneInfo

from wattline.storage.rollups import DAY_MS, HOUR_MS, TIERS, Aggregate, Tier, merge

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(1970, 1, 1)
_FIRST_MONDAY = date(1970, 1, 5)
_MS = timedelta(milliseconds=1)


class Unit(StrEnum):
    FIXED = "fixed"  # a number of milliseconds
    DAY = "d"
    WEEK = "w"
    MONTH = "mo"


@dataclass(frozen=True, slots=True)
class Interval:
    unit: Unit
    count: int  # milliseconds for FIXED, else days, weeks or months

    @property
    def shortest_ms(self) -> int:
        """A lower bound on one bucket's length (a DST day is an hour short)."""
        if self.unit is Unit.FIXED:
            return self.count
        days = {Unit.DAY: 1, Unit.WEEK: 7, Unit.MONTH: 28}[self.unit] * self.count
        return days * DAY_MS - HOUR_MS

    @property
    def longest_ms(self) -> int:
        """An upper bound on one bucket's length (a DST day is an hour long)."""
        if self.unit is Unit.FIXED:
            return self.count
        days = {Unit.DAY: 1, Unit.WEEK: 7, Unit.MONTH: 31}[self.unit] * self.count
        return days * DAY_MS + HOUR_MS


@dataclass(frozen=True, slots=True)
class BucketPlan:
    start_ms: int
    end_ms: int  # exclusive
    # nominal bucket starts: the first may precede start_ms, every later one is inside the range
    starts: tuple[int, ...]
    source: Tier | None  # None: raw samples
    grid_phase_ms: int  # cells start at grid_phase_ms + k * grid_step_ms, phase <= start
    grid_step_ms: int

    def with_source(self, source: Tier | None) -> BucketPlan:
        """The same buckets answered from another tier; ValueError if it cannot answer exactly."""
        if source is not None and not answers_exactly(
            source, self.start_ms, self.end_ms, self.starts
        ):
            raise ValueError(f"the {source} tier cannot answer these buckets exactly")
        return replace(self, source=source)


class TooManyBucketsError(ValueError):
    pass


def plan_buckets(
    start_ms: int, end_ms: int, interval: Interval, tz: ZoneInfo | None, max_buckets: int
) -> BucketPlan:
    if start_ms >= end_ms:
        raise ValueError("start must be before end")
    if (end_ms - start_ms) // interval.shortest_ms > max_buckets:
        raise TooManyBucketsError(f"buckets over this range exceed {max_buckets}")
    starts = bucket_starts(start_ms, end_ms, interval, tz)
    if len(starts) > max_buckets:
        raise TooManyBucketsError(f"buckets over this range exceed {max_buckets}")
    phase_ms, step_ms = _grid(start_ms, end_ms, starts)
    return BucketPlan(
        start_ms=start_ms,
        end_ms=end_ms,
        starts=tuple(starts),
        source=choose_source(start_ms, end_ms, starts),
        grid_phase_ms=phase_ms,
        grid_step_ms=step_ms,
    )


def answers_exactly(
    tier: Tier, start_ms: int, end_ms: int, starts: tuple[int, ...] | list[int]
) -> bool:
    """True when no tier bucket straddles a bucket edge or the range's ends.

    Tier buckets start at multiples of the tier's width (UTC), so this holds
    exactly when every edge is such a multiple: a local day in a zone 5:30
    from UTC starts at :30 past a UTC hour, so only the 1 min tier serves it.
    """
    width_ms = tier.width_ms
    return (
        start_ms % width_ms == 0
        and end_ms % width_ms == 0
        and all(edge % width_ms == 0 for edge in starts[1:])
    )


def choose_source(start_ms: int, end_ms: int, starts: tuple[int, ...] | list[int]) -> Tier | None:
    """The coarsest tier that answers exactly, or None for raw samples."""
    for tier in reversed(TIERS):
        if answers_exactly(tier, start_ms, end_ms, starts):
            return tier
    return None


def bucket_starts(start_ms: int, end_ms: int, interval: Interval, tz: ZoneInfo | None) -> list[int]:
    """Nominal starts of the buckets overlapping [start_ms, end_ms), in order."""
    if interval.unit is Unit.FIXED and tz is None:
        first = start_ms - start_ms % interval.count
        return list(range(first, end_ms, interval.count))
    zone = tz or ZoneInfo("UTC")
    if interval.unit is Unit.FIXED:
        return _sub_day_starts(start_ms, end_ms, interval.count, zone)
    period = _period_of(_local_date(start_ms, zone), interval)
    starts: list[int] = []
    while (edge := local_midnight_ms(period, zone)) < end_ms:
        starts.append(edge)
        period = _next_period(period, interval)
    return starts


def enclosing_bucket(ts_ms: int, interval: Interval, tz: ZoneInfo | None) -> tuple[int, int]:
    """[start, end) of the bucket holding ``ts_ms``: default ranges snap to it for the tiers."""
    longest_ms = 2 * interval.shortest_ms + 2 * DAY_MS  # past the bucket's end, whatever its kind
    first, following = bucket_starts(ts_ms, ts_ms + longest_ms, interval, tz)[:2]
    return first, following


def local_midnight_ms(day: date, zone: ZoneInfo) -> int:
    """The first instant of ``day`` in ``zone``: where midnight does not exist, the DST jump."""
    return (datetime.combine(day, time(), tzinfo=zone) - _EPOCH) // _MS


def _local_date(ts_ms: int, zone: ZoneInfo) -> date:
    return (_EPOCH + ts_ms * _MS).astimezone(zone).date()


def _period_of(day: date, interval: Interval) -> date:
    """The first day of the day/week/month bucket holding ``day``."""
    n = interval.count
    if interval.unit is Unit.DAY:
        index = (day - _EPOCH_DAY).days
        return _EPOCH_DAY + timedelta(days=index - index % n)
    if interval.unit is Unit.WEEK:
        week = (day - _FIRST_MONDAY).days // 7
        return _FIRST_MONDAY + timedelta(weeks=week - week % n)
    month = day.year * 12 + day.month - 1
    month -= month % n
    return date(month // 12, month % 12 + 1, 1)


def _next_period(day: date, interval: Interval) -> date:
    if interval.unit is Unit.DAY:
        return day + timedelta(days=interval.count)
    if interval.unit is Unit.WEEK:
        return day + timedelta(weeks=interval.count)
    month = day.year * 12 + day.month - 1 + interval.count
    return date(month // 12, month % 12 + 1, 1)


def _sub_day_starts(start_ms: int, end_ms: int, interval_ms: int, zone: ZoneInfo) -> list[int]:
    """Buckets of elapsed time from each local midnight, so a 23 h day has 23 hourly buckets."""
    if interval_ms > DAY_MS or DAY_MS % interval_ms:
        raise ValueError("with tz, an interval under a day must divide 24h (e.g. 15m, 1h, 6h)")
    day = _local_date(start_ms, zone)
    starts: list[int] = []
    while (midnight := local_midnight_ms(day, zone)) < end_ms:
        day += timedelta(days=1)
        starts.extend(range(midnight, min(local_midnight_ms(day, zone), end_ms), interval_ms))
    # from the bucket holding start_ms on; the local midnight before it is <= start_ms
    return starts[bisect_right(starts, start_ms) - 1 :]


def _grid(start_ms: int, end_ms: int, starts: list[int]) -> tuple[int, int]:
    """A uniform grid with every bucket edge inside the range on it.

    The range's own ends need not be on it: raw rows are clipped by the query's
    WHERE, and a tier is only chosen when the ends are on its bucket edges.
    """
    interior = starts[1:]
    if len(interior) >= 2:
        step_ms = 0
        for a, b in pairwise(interior):
            step_ms = math.gcd(step_ms, b - a)
        anchor_ms = interior[0]
    elif interior:
        anchor_ms = interior[0]
        step_ms = max(anchor_ms - start_ms, end_ms - anchor_ms)
    else:
        anchor_ms, step_ms = start_ms, end_ms - start_ms
    # phase <= start_ms keeps every grid offset in the queries non-negative
    phase_ms = anchor_ms - -(-(anchor_ms - start_ms) // step_ms) * step_ms
    return phase_ms, step_ms


@dataclass(frozen=True, slots=True)
class Cell:
    """One grid cell's aggregate, as the database grouped it."""

    device_id: str
    metric: str
    start_ms: int
    aggregate: Aggregate


@dataclass(frozen=True, slots=True)
class SeriesBucket:
    start_ms: int  # the nominal start: the first bucket's may precede the query's start
    metrics: dict[str, Aggregate]


def assemble(cells: Iterable[Cell], starts: tuple[int, ...]) -> dict[str, list[SeriesBucket]]:
    """Grid cells merged into the plan's buckets, per device, buckets without data left out."""
    merged: dict[str, dict[int, dict[str, Aggregate]]] = {}
    for cell in cells:
        # A cell before the first edge belongs to the first bucket: the query clipped it.
        index = max(bisect_right(starts, cell.start_ms) - 1, 0)
        metrics = merged.setdefault(cell.device_id, {}).setdefault(index, {})
        current = metrics.get(cell.metric)
        metrics[cell.metric] = cell.aggregate if current is None else merge(current, cell.aggregate)
    return {
        device_id: [SeriesBucket(starts[i], by_bucket[i]) for i in sorted(by_bucket)]
        for device_id, by_bucket in merged.items()
    }
