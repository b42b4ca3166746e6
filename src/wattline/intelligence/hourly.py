"""A device's power as one row per hour: the input of the detectors and the forecasts.

Hours without readings are NaN, so every array has one slot per hour from
``start_ms``. From storage the rows come from the 1 h rollup tier (count, sum,
min, max per hour), never from raw samples, so a month of one device is 720 rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from wattline.storage.bucketing import SeriesBucket, per_tier_bucket
from wattline.storage.ports import SeriesReader
from wattline.storage.rollups import Tier

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
# Power series tried in this order; the energy endpoint prefers the same ones.
POWER_METRICS = ("power_w", "ac_power_w")

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class HourlySeries:
    start_ms: int  # the first hour, on an hour edge (UTC)
    mean_w: Floats
    min_w: Floats
    max_w: Floats
    count: npt.NDArray[np.int64]

    def __post_init__(self) -> None:
        if self.start_ms % HOUR_MS:
            raise ValueError("an hourly series starts on an hour edge")
        sizes = {len(self.mean_w), len(self.min_w), len(self.max_w), len(self.count)}
        if len(sizes) != 1:
            raise ValueError("every hourly array has the same length")

    def __len__(self) -> int:
        return len(self.mean_w)

    @property
    def end_ms(self) -> int:
        return self.start_ms + len(self) * HOUR_MS

    def hour_ms(self, index: int) -> int:
        return self.start_ms + index * HOUR_MS

    def kwh(self) -> Floats:
        """Energy per hour from mean power (NaN where the hour has no readings)."""
        return self.mean_w / 1000.0

    def tail(self, start_ms: int) -> HourlySeries:
        """The hours from ``start_ms`` (an hour edge) on."""
        skip = max(0, (start_ms - self.start_ms) // HOUR_MS)
        return HourlySeries(
            self.start_ms + skip * HOUR_MS,
            self.mean_w[skip:],
            self.min_w[skip:],
            self.max_w[skip:],
            self.count[skip:],
        )


def empty(start_ms: int, hours: int) -> HourlySeries:
    nan = np.full(hours, np.nan)
    return HourlySeries(start_ms, nan.copy(), nan.copy(), nan.copy(), np.zeros(hours, np.int64))


def from_points(points: Iterable[tuple[int, float]], start_ms: int, end_ms: int) -> HourlySeries:
    """Readings (ts_ms, watts) folded into hours: what the 1 h rollup holds."""
    hours = (end_ms - start_ms) // HOUR_MS
    total = np.zeros(hours)
    series = empty(start_ms, hours)
    for ts_ms, value in points:
        index = (ts_ms - start_ms) // HOUR_MS
        if not 0 <= index < hours:
            continue
        if series.count[index] == 0:
            series.min_w[index] = series.max_w[index] = value
        else:
            series.min_w[index] = min(series.min_w[index], value)
            series.max_w[index] = max(series.max_w[index], value)
        series.count[index] += 1
        total[index] += value
    seen = series.count > 0
    series.mean_w[seen] = total[seen] / series.count[seen]
    return series


def from_buckets(
    buckets: Sequence[SeriesBucket], metric: str, start_ms: int, end_ms: int
) -> HourlySeries:
    series = empty(start_ms, (end_ms - start_ms) // HOUR_MS)
    for bucket in buckets:
        aggregate = bucket.metrics.get(metric)
        index = (bucket.start_ms - start_ms) // HOUR_MS
        if aggregate is None or not 0 <= index < len(series) or aggregate.count == 0:
            continue
        series.mean_w[index] = aggregate.sum / aggregate.count
        series.min_w[index] = aggregate.min
        series.max_w[index] = aggregate.max
        series.count[index] = aggregate.count
    return series


def power_metric(store: SeriesReader, device_id: str) -> str | None:
    """The device's power series, or None when it reports none."""
    metrics = {v.metric for v in store.latest_values([device_id]).get(device_id, [])}
    return next((m for m in POWER_METRICS if m in metrics), None)


def read_hourly(
    store: SeriesReader, device_id: str, metric: str, start_ms: int, end_ms: int
) -> HourlySeries:
    """One device's hours in ``[start_ms, end_ms)`` (hour edges) from the 1 h rollup tier."""
    plan = per_tier_bucket(start_ms, end_ms, Tier.H1)
    buckets = store.series([device_id], plan, [metric]).get(device_id, [])
    return from_buckets(buckets, metric, start_ms, end_ms)


@dataclass(frozen=True)
class LocalHours:
    """Where each hour of a series falls in a time zone's calendar."""

    hour_of_day: npt.NDArray[np.int64]
    iso_weekday: npt.NDArray[np.int64]  # 1 = Monday ... 7 = Sunday (ISO 8601)
    day: npt.NDArray[np.int64]  # local date as a proleptic ordinal

    @property
    def weekend(self) -> npt.NDArray[np.bool_]:
        return self.iso_weekday >= 6


def local_hours(start_ms: int, hours: int, tz: ZoneInfo) -> LocalHours:
    moments = [
        datetime.fromtimestamp((start_ms + i * HOUR_MS) / 1000, tz=UTC).astimezone(tz)
        for i in range(hours)
    ]
    return LocalHours(
        np.array([m.hour for m in moments], np.int64),
        np.array([m.isoweekday() for m in moments], np.int64),
        np.array([m.toordinal() for m in moments], np.int64),
    )


def hour_floor(ts_ms: int) -> int:
    return ts_ms - ts_ms % HOUR_MS
