"""Anomalies in one device's power: seasonal robust statistics on hourly figures.

A *reference* period (up to four weeks before the window examined) gives, per
local hour of day and per day type (weekday or weekend), the median and the
robust spread (1.4826 x MAD) of each hour's mean, minimum, maximum and range.
The hours and days of the *window* are then compared with it:

- spike: an hour's maximum far above the reference's highest maximum, while the
  hour's mean barely moved (short);
- stuck: an hour's range exactly zero at a non-idle value for two hours or more,
  in hours that normally vary;
- night_use: night hours (22:00-06:00) that are normally idle, with the hour's
  minimum and mean above the idle level for two hours or more;
- always_on: the day's minimum risen, in proportion, well beyond the day's mean
  (an added constant load), two days running;
- profile_change: the day's shape (share of energy per block of hours) further
  from the reference shape than normal days, two days running;
- drift: the day's energy over the reference's beyond the reference's day-to-day
  spread, not explained by the kinds above, three days running.

Measured on the labelled benchmark (``benchmarks/anomaly_benchmark.py``,
``docs/benchmarks.md``), where it also competes with an isolation forest.
Every threshold below is a named constant; the benchmark is what moves them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from wattline.intelligence.hourly import (
    DAY_MS,
    HOUR_MS,
    Floats,
    HourlySeries,
    LocalHours,
    local_hours,
)
from wattline.model.findings import AnomalyKind, Finding

DETECTOR_VERSION = "robust-seasonal-1"
REFERENCE_DAYS = 28
# Fewer clean days than this and the spread of a day type is noise itself.
MIN_REFERENCE_DAYS = 7
MIN_DAY_TYPE_DAYS = 3
# The robust spread is floored at this share of the device's typical high power,
# so a perfectly flat reference (a standby load) does not make every wobble infinite.
SPREAD_FLOOR_SHARE = 0.02
MAD_TO_SIGMA = 1.4826
# spike: this many spreads above the hour's usual maximum and this much above the
# reference's highest maximum; "short": the mean rose by under this share of the peak's excess
SPIKE_SIGMAS = 8.0
SPIKE_OVER_PEAK = 2.0
SPIKE_MEAN_SHARE = 0.5
# stuck and night use: runs of at least this many hours
MIN_RUN_HOURS = 2
# night: local hours from 22:00 to 06:00; idle: a reference mean below this share of
# the typical high power; used: the hour's minimum above IDLE_FACTOR times that level
NIGHT_HOURS = frozenset((22, 23, 0, 1, 2, 3, 4, 5))
IDLE_SHARE = 0.02
NIGHT_MIN_W = 30.0
# always on: the day's minimum rose by this many spreads of the reference's daily
# minima and by at least this share of the typical power, and in proportion at least
# ADDITIVE_FACTOR times as much as the day's mean did (a constant load lifts the
# minimum most in proportion; a drift scales minimum and mean alike)
ALWAYS_ON_SIGMAS = 6.0
ALWAYS_ON_SHARE = 0.03
ADDITIVE_FACTOR = 1.5
# or, on a flat day (an idle weekend), the minimum rose by most of what the mean did
FLAT_DAY_SHARE = 0.8
# daily minima are steadier than hourly figures: their spread's own floor
DAY_MIN_FLOOR_SHARE = 0.005
# profile: the day's shape distance (0 same, 1 disjoint) this many spreads above normal
PROFILE_SIGMAS = 5.0
PROFILE_MIN_EXCESS = 0.08
SHAPE_BLOCK_HOURS = 3
# drift: the day's energy ratio this many spreads from 1, and at least this far
DRIFT_SIGMAS = 5.0
DRIFT_MIN_RATIO = 0.08
MIN_RUN_DAYS = 2
# day-level runs this close are one finding (a weekend between two flagged weeks)
MERGE_GAP_DAYS = 2
# a drift grows: one or two odd days are the appliance's own variation
MIN_DRIFT_DAYS = 3
# an evaluated day needs this many hours with readings
MIN_DAY_HOURS = 20


@dataclass(frozen=True)
class _Reference:
    """Per day type (0 weekday, 1 weekend) and local hour: medians and spreads."""

    mean: Floats  # shape (2, 24)
    mean_spread: Floats
    max: Floats
    max_spread: Floats
    range: Floats
    peak_w: float  # the highest hourly maximum of the reference (99.5th percentile)
    level_w: float  # typical high power: the 95th percentile of hourly means
    floor_w: float
    day_min: Floats  # per day type: median of daily minima, and its spread
    day_min_spread: Floats
    shape_distance: Floats  # per day type: median, spread of normal days' shape distance
    ratio_spread: Floats  # per day type


@dataclass(frozen=True)
class _Day:
    index: npt.NDArray[np.int64]  # hour indices into the series
    weekend: int
    start_ms: int
    end_ms: int


def _spread(values: Floats, axis: int | None = None) -> Floats:
    median = np.nanmedian(values, axis=axis, keepdims=True)
    mad = np.nanmedian(np.abs(values - median), axis=axis)
    return np.asarray(MAD_TO_SIGMA * mad, np.float64)


def _by_hour(values: Floats, hours: LocalHours, rows: np.ndarray) -> tuple[Floats, Floats]:
    """(2, 24) medians and spreads of ``values`` over the hours ``rows``."""
    median, spread = np.full((2, 24), np.nan), np.full((2, 24), np.nan)
    for weekend in (0, 1):
        typed = rows & (hours.weekend == bool(weekend))
        if len(np.unique(hours.day[typed])) < MIN_DAY_TYPE_DAYS:
            typed = rows  # too few weekends yet: every day stands in
        for hour in range(24):
            chosen = values[typed & (hours.hour_of_day == hour)]
            chosen = chosen[np.isfinite(chosen)]
            if len(chosen):
                median[weekend, hour] = np.median(chosen)
                spread[weekend, hour] = _spread(chosen)
    return median, spread


def _days(series: HourlySeries, hours: LocalHours) -> list[_Day]:
    days = []
    for day in np.unique(hours.day):
        index = np.flatnonzero(hours.day == day)
        days.append(
            _Day(
                index,
                int(hours.weekend[index[0]]),
                series.hour_ms(int(index[0])),
                series.hour_ms(int(index[-1])) + HOUR_MS,
            )
        )
    return days


def _shape(values: Floats) -> Floats:
    total = np.nansum(values)
    return values / total if total > 0 else np.zeros_like(values)


def _day_profile(series: HourlySeries, hours: LocalHours, day: _Day) -> Floats:
    """The day's mean power per local hour (NaN where none; a DST hour averaged)."""
    profile = np.full(24, np.nan)
    for hour in range(24):
        chosen = series.mean_w[day.index[hours.hour_of_day[day.index] == hour]]
        if len(chosen) and np.isfinite(chosen).any():
            profile[hour] = np.nanmean(chosen)
    return profile


def _distance(profile: Floats, expected: Floats) -> float:
    """Share of the day's energy in other hours than expected, on blocks of hours
    (a duty-cycling appliance's single hours are too noisy to compare)."""
    both = np.isfinite(profile) & np.isfinite(expected)
    actual = np.where(both, profile, 0.0).reshape(-1, SHAPE_BLOCK_HOURS).sum(axis=1)
    usual = np.where(both, expected, 0.0).reshape(-1, SHAPE_BLOCK_HOURS).sum(axis=1)
    return float(0.5 * np.abs(_shape(actual) - _shape(usual)).sum())


def _ratio(profile: Floats, expected: Floats) -> float:
    both = np.isfinite(profile) & np.isfinite(expected)
    total = float(expected[both].sum())
    return float(profile[both].sum()) / total if total > 0 else 1.0


def _reference(series: HourlySeries, hours: LocalHours, days: list[_Day]) -> _Reference:
    rows = np.zeros(len(series), bool)
    for day in days:
        rows[day.index] = True
    level = float(np.nanpercentile(series.mean_w[rows], 95))
    floor = max(1.0, SPREAD_FLOOR_SHARE * level)
    mean, mean_spread = _by_hour(series.mean_w, hours, rows)
    maximum, max_spread = _by_hour(series.max_w, hours, rows)
    ranges, _ = _by_hour(series.max_w - series.min_w, hours, rows)
    day_mins = [[], []]  # type: list[list[float]]
    distances, ratios = [[], []], [[], []]  # type: list[list[float]], list[list[float]]
    for day in days:
        day_mins[day.weekend].append(float(np.nanmin(series.min_w[day.index])))
        profile = _day_profile(series, hours, day)
        distances[day.weekend].append(_distance(profile, mean[day.weekend]))
        ratios[day.weekend].append(_ratio(profile, mean[day.weekend]))

    def typed(values: list[list[float]]) -> list[Floats]:
        every = np.array(values[0] + values[1])
        return [np.array(v) if len(v) >= MIN_DAY_TYPE_DAYS else every for v in values]

    day_min = np.array([np.median(m) for m in typed(day_mins)])
    day_min_spread = np.array([_spread(m) for m in typed(day_mins)])
    shape_distance = np.array(
        [(np.median(d), max(float(_spread(d)), 0.01)) for d in typed(distances)]
    )
    ratio_spread = np.array([max(float(_spread(r)), 0.01) for r in typed(ratios)])
    return _Reference(
        mean=mean,
        mean_spread=np.maximum(mean_spread, floor),
        max=maximum,
        max_spread=np.maximum(max_spread, floor),
        range=ranges,
        peak_w=float(np.nanpercentile(series.max_w[rows], 99.5)),
        level_w=level,
        floor_w=floor,
        day_min=day_min,
        day_min_spread=np.maximum(day_min_spread, max(1.0, DAY_MIN_FLOOR_SHARE * level)),
        shape_distance=shape_distance,
        ratio_spread=ratio_spread,
    )


def _runs(flags: list[bool], min_length: int) -> Iterator[tuple[int, int]]:
    """[first, last] positions of runs of True at least ``min_length`` long."""
    start = None
    for position, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = position
        elif not flag and start is not None:
            if position - start >= min_length:
                yield start, position - 1
            start = None


def _merged(runs: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """Runs of days closer than MERGE_GAP_DAYS joined: one fault across a weekend is one finding."""
    current: tuple[int, int] | None = None
    for first, last in runs:
        if current is not None and first - current[1] <= MERGE_GAP_DAYS + 1:
            current = (current[0], last)
            continue
        if current is not None:
            yield current
        current = (first, last)
    if current is not None:
        yield current


@dataclass
class _Context:
    series: HourlySeries
    hours: LocalHours
    reference: _Reference
    window: list[_Day]
    device_id: str
    metric: str

    def finding(  # noqa: PLR0913 - the finding's figures
        self,
        *,
        kind: AnomalyKind,
        start_ms: int,
        end_ms: int,
        score: float,
        observed: float,
        expected: tuple[float, float],
        unit: str,
        explanation: str,
    ) -> Finding:
        return Finding(
            device_id=self.device_id,
            kind=kind,
            start_ms=start_ms,
            end_ms=end_ms,
            score=round(float(score), 2),
            observed=round(float(observed), 3),
            expected_low=round(float(expected[0]), 3),
            expected_high=round(float(expected[1]), 3),
            unit=unit,
            explanation=explanation,
            metric=self.metric,
            detector_version=DETECTOR_VERSION,
        )

    def expected(self, index: int, what: Floats) -> float:
        weekend = int(self.hours.weekend[index])
        return float(what[weekend, self.hours.hour_of_day[index]])

    def window_hours(self) -> np.ndarray:
        return np.concatenate([day.index for day in self.window]).astype(np.int64)


def _spikes(ctx: _Context) -> tuple[list[Finding], set[int]]:
    series, ref = ctx.series, ctx.reference
    findings: list[Finding] = []
    flagged: set[int] = set()
    for i in ctx.window_hours():
        peak, usual = series.max_w[i], ctx.expected(i, ref.max)
        if not (np.isfinite(peak) and np.isfinite(usual)):
            continue
        spread = ctx.expected(i, ref.max_spread)
        excess = peak - usual
        mean_rise = series.mean_w[i] - ctx.expected(i, ref.mean)
        if (
            excess > SPIKE_SIGMAS * spread
            and peak > SPIKE_OVER_PEAK * ref.peak_w
            and mean_rise < SPIKE_MEAN_SHARE * excess
        ):
            flagged.add(int(i))
            start = series.hour_ms(int(i))
            if findings and findings[-1].end_ms == start:  # one spike across an hour's edge
                findings[-1] = replace(findings[-1], end_ms=start + HOUR_MS)
                continue
            findings.append(
                ctx.finding(
                    kind=AnomalyKind.SPIKE,
                    start_ms=start,
                    end_ms=start + HOUR_MS,
                    score=excess / spread,
                    observed=peak,
                    expected=(0.0, ref.peak_w),
                    unit="W",
                    explanation=f"peak of {peak:.0f} W, {peak / ref.peak_w:.1f}x the highest "
                    f"the device reached in the reference weeks ({ref.peak_w:.0f} W), "
                    "while the hour's mean barely moved: a short spike",
                )
            )
    return findings, flagged


def _hour_runs(
    ctx: _Context, is_flagged: Callable[[int], bool]
) -> Iterator[tuple[np.ndarray, int, int]]:
    """Runs of flagged window hours: (their indices, start_ms, end_ms)."""
    indices = ctx.window_hours()
    flags = [is_flagged(int(i)) for i in indices]
    for first, last in _runs(flags, MIN_RUN_HOURS):
        chosen = indices[first : last + 1]
        yield (
            chosen,
            ctx.series.hour_ms(int(chosen[0])),
            ctx.series.hour_ms(int(chosen[-1])) + HOUR_MS,
        )


def _stuck(ctx: _Context) -> tuple[list[Finding], set[int]]:
    series, ref = ctx.series, ctx.reference

    def is_stuck(i: int) -> bool:
        return bool(
            series.count[i] >= 3
            and series.max_w[i] - series.min_w[i] <= 1e-9 * max(abs(series.max_w[i]), 1.0)
            and abs(series.max_w[i]) > ref.floor_w
        )

    def varies(i: int) -> bool:
        return ctx.expected(i, ref.range) > ref.floor_w

    findings: list[Finding] = []
    flagged: set[int] = set()
    for chosen, start, end in _hour_runs(ctx, is_stuck):
        if not any(varies(int(i)) for i in chosen):
            continue  # a constant load in hours that are always flat: not a sensor fault
        flagged.update(int(i) for i in chosen)
        value = float(series.max_w[chosen[0]])
        usual = float(
            np.median([ctx.expected(int(i), ref.range) for i in chosen if varies(int(i))])
        )
        findings.append(
            ctx.finding(
                kind=AnomalyKind.STUCK,
                start_ms=start,
                end_ms=end,
                score=len(chosen) * usual / ref.floor_w / 10,
                observed=0.0,
                expected=(usual / 2, usual * 2),
                unit="W range per hour",
                explanation=f"the reading stayed at exactly {value:.1f} W for {len(chosen)} hours; "
                f"in these hours it normally varies by about {usual:.0f} W: a stuck sensor",
            )
        )
    return findings, flagged


def _night_use(ctx: _Context, skip: set[int]) -> tuple[list[Finding], set[int]]:
    series, ref = ctx.series, ctx.reference
    idle_w = max(IDLE_SHARE * ref.level_w, 5.0)
    used_w = max(3 * idle_w, NIGHT_MIN_W)

    def is_used(i: int) -> bool:
        return bool(
            i not in skip
            and int(ctx.hours.hour_of_day[i]) in NIGHT_HOURS
            and ctx.expected(i, ref.mean) <= idle_w
            and series.min_w[i] > used_w / 2
            and series.mean_w[i] > used_w
        )

    findings: list[Finding] = []
    flagged: set[int] = set()
    for chosen, start, end in _hour_runs(ctx, is_used):
        flagged.update(int(i) for i in chosen)
        mean = float(np.nanmean(series.mean_w[chosen]))
        findings.append(
            ctx.finding(
                kind=AnomalyKind.NIGHT_USE,
                start_ms=start,
                end_ms=end,
                score=mean / idle_w,
                observed=mean,
                expected=(0.0, idle_w),
                unit="W",
                explanation=f"{mean:.0f} W on average for {len(chosen)} night hours "
                f"that are normally idle (under {idle_w:.0f} W): "
                f"about {mean * len(chosen) / 1000:.2f} kWh used",
            )
        )
    return findings, flagged


@dataclass(frozen=True)
class _DayFigures:
    day: _Day
    profile: Floats
    expected: Floats
    min_rise_w: float
    mean_rise_w: float
    distance: float
    ratio: float


def _day_figures(ctx: _Context, day: _Day, skip: set[int]) -> _DayFigures | None:
    series, ref = ctx.series, ctx.reference
    if int(np.isfinite(series.mean_w[day.index]).sum()) < MIN_DAY_HOURS:
        return None
    kept = np.array([i for i in day.index if i not in skip], np.int64)
    masked = HourlySeries(
        series.start_ms, series.mean_w.copy(), series.min_w, series.max_w, series.count
    )
    masked.mean_w[[i for i in day.index if i in skip]] = np.nan
    profile = _day_profile(masked, ctx.hours, day)
    expected = ref.mean[day.weekend].copy()
    expected[~np.isfinite(profile)] = np.nan
    day_min = float(np.nanmin(series.min_w[kept])) if len(kept) else np.nan
    return _DayFigures(
        day=day,
        profile=profile,
        expected=expected,
        min_rise_w=day_min - float(ref.day_min[day.weekend]),
        mean_rise_w=float(np.nanmean(profile) - np.nanmean(expected)),
        distance=_distance(profile, ref.mean[day.weekend]),
        ratio=_ratio(profile, ref.mean[day.weekend]),
    )


def _classify(
    ctx: _Context, figures: _DayFigures, night_days: set[int]
) -> tuple[AnomalyKind, float] | None:
    ref = ctx.reference
    spread = float(ref.day_min_spread[figures.day.weekend])
    rise = figures.min_rise_w
    usual_min = max(float(ref.day_min[figures.day.weekend]), ref.floor_w)
    usual_mean = float(np.nanmean(figures.expected))
    if (
        rise > ALWAYS_ON_SIGMAS * spread
        and rise > ALWAYS_ON_SHARE * ref.level_w
        and (
            rise / usual_min >= ADDITIVE_FACTOR * figures.mean_rise_w / usual_mean
            or rise >= FLAT_DAY_SHARE * figures.mean_rise_w
        )
    ):
        return AnomalyKind.ALWAYS_ON, rise / spread
    if figures.day.start_ms in night_days:
        return None
    median, distance_spread = ref.shape_distance[figures.day.weekend]
    excess = figures.distance - median
    if excess > max(PROFILE_SIGMAS * distance_spread, PROFILE_MIN_EXCESS):
        return AnomalyKind.PROFILE_CHANGE, excess / distance_spread
    off = abs(figures.ratio - 1.0)
    ratio_spread = float(ref.ratio_spread[figures.day.weekend])
    if off > max(DRIFT_SIGMAS * ratio_spread, DRIFT_MIN_RATIO):
        return AnomalyKind.DRIFT, off / ratio_spread
    return None


def _explain_days(
    ctx: _Context, kind: AnomalyKind, run: list[_DayFigures]
) -> tuple[float, tuple[float, float], str, str]:
    ref, last = ctx.reference, run[-1]
    weekend = last.day.weekend
    if kind is AnomalyKind.ALWAYS_ON:
        usual, spread = float(ref.day_min[weekend]), float(ref.day_min_spread[weekend])
        observed = usual + last.min_rise_w
        return (
            observed,
            (usual - 3 * spread, usual + 3 * spread),
            "W",
            (
                f"the lowest power of the day rose from about {usual:.0f} W to {observed:.0f} W "
                f"for {len(run)} days, as much as the average rose: a new load that never "
                f"switches off (about {last.min_rise_w * 24 / 1000:.1f} kWh a day)"
            ),
        )
    if kind is AnomalyKind.PROFILE_CHANGE:
        median, spread = ref.shape_distance[weekend]
        moved = int(np.nanargmax(last.profile)), int(np.nanargmax(last.expected))
        return (
            last.distance,
            (0.0, median + 3 * spread),
            "share of energy moved",
            (
                f"{last.distance:.0%} of the day's energy is in other hours than usual, "
                f"for {len(run)} days (normally {median:.0%}); the busiest hour is now "
                f"{moved[0]:02d}:00, it was {moved[1]:02d}:00"
            ),
        )
    spread = float(ref.ratio_spread[weekend])
    trend = "more" if last.ratio > 1 else "less"
    return (
        last.ratio,
        (1 - 3 * spread, 1 + 3 * spread),
        "ratio to reference",
        (
            f"the device used {abs(last.ratio - 1):.0%} {trend} energy than in the reference "
            f"weeks on its last day, with the same daily shape, after {len(run)} days of "
            "growing difference: a drift (a failing appliance, or a meter losing calibration)"
        ),
    )


def _day_findings(ctx: _Context, skip: set[int], night_days: set[int]) -> list[Finding]:
    figures = [f for day in ctx.window if (f := _day_figures(ctx, day, skip)) is not None]
    kinds = [_classify(ctx, f, night_days) for f in figures]
    findings = []
    for kind in (AnomalyKind.ALWAYS_ON, AnomalyKind.PROFILE_CHANGE, AnomalyKind.DRIFT):
        flags = [k is not None and k[0] is kind for k in kinds]
        needed = MIN_DRIFT_DAYS if kind is AnomalyKind.DRIFT else MIN_RUN_DAYS
        for first, last in _merged(list(_runs(flags, needed))):
            run = figures[first : last + 1]
            score = float(np.median([k[1] for k in kinds[first : last + 1] if k is not None]))
            observed, expected, unit, text = _explain_days(ctx, kind, run)
            findings.append(
                ctx.finding(
                    kind=kind,
                    start_ms=run[0].day.start_ms,
                    end_ms=run[-1].day.end_ms,
                    score=score,
                    observed=observed,
                    expected=expected,
                    unit=unit,
                    explanation=text,
                )
            )
    return findings


def detect(  # noqa: PLR0913 - the series, the window and how to name what is found
    series: HourlySeries,
    window_start_ms: int,
    tz: ZoneInfo,
    *,
    device_id: str,
    metric: str = "power_w",
    reference_days: int = REFERENCE_DAYS,
) -> list[Finding]:
    """Anomalies in the hours from ``window_start_ms`` on, against the days before it.

    Nothing is reported without ``MIN_REFERENCE_DAYS`` days of reference; a window
    day with fewer than ``MIN_DAY_HOURS`` hours of readings is not judged as a day.
    """
    hours = local_hours(series.start_ms, len(series), tz)
    days = _days(series, hours)
    reference = [
        d
        for d in days
        if window_start_ms - reference_days * DAY_MS <= d.start_ms and d.end_ms <= window_start_ms
    ]
    reference = [d for d in reference if np.isfinite(series.mean_w[d.index]).sum() >= MIN_DAY_HOURS]
    window = [d for d in days if d.start_ms >= window_start_ms]
    if len(reference) < MIN_REFERENCE_DAYS or not window:
        return []
    ctx = _Context(series, hours, _reference(series, hours, reference), window, device_id, metric)
    spikes, spiked = _spikes(ctx)
    stuck, stuck_hours = _stuck(ctx)
    skip = spiked | stuck_hours
    night, night_hours = _night_use(ctx, skip)
    night_days = {day.start_ms for day in window if set(day.index.tolist()) & night_hours}
    by_day = _day_findings(ctx, skip | night_hours, night_days)
    # a new constant load also lights the idle night hours: it is one always-on finding
    always = [f for f in by_day if f.kind is AnomalyKind.ALWAYS_ON]
    night = [
        n for n in night if not any(a.start_ms - DAY_MS <= n.start_ms < a.end_ms for a in always)
    ]
    return sorted([*spikes, *stuck, *night, *by_day], key=lambda f: (f.start_ms, f.kind.value))
