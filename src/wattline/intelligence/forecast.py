"""Hourly kWh forecasts with a p10-p90 interval, and the backtest that picks the model.

Two models:

- ``seasonal-naive``: the same hour last week (the baseline every forecast must
  beat); its interval is the same hour last week plus the 10th and 90th
  percentiles of its own past errors.
- ``boosted-blend``: a blend of three forecasts of each hour, with weights chosen
  per device on its last week of history:

  - scikit-learn's ``HistGradientBoostingRegressor`` with the absolute-error loss
    (its forecast is a median, the value with the least expected absolute error)
    on calendar features (local hour, ISO weekday, weekend) and lags: the same
    hour yesterday, two days ago and last week and two weeks ago; the mean,
    median, minimum and maximum of the same hour over the last seven days, the
    mean of the last three days, the mean and median of the same hour over the
    last three and four weeks, and the level of the day and the week before;
  - the weekly profile: the mean of the same hour of the week over the last four
    weeks (as many as there are);
  - the daily profile: the mean of the same hour over the last seven days.

  Its interval is the forecast plus the 10th and 90th percentiles of the blend's
  errors on that last week.

Every lag is at least a day old, so a forecast reaches a day ahead from readings
alone. ``fit`` fits the boosted model on all but the last week, chooses the
blend's weights on that week (a grid of tenths, the least mean absolute error),
keeps the blend if it beats seasonal-naive there and then refits the boosted
model on everything; with less than ``MIN_BOOSTED_HOURS`` of history it keeps
the seasonal-naive model and says so (``short_history``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np

from wattline.intelligence.hourly import HOUR_MS, Floats, HourlySeries, local_hours

if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingRegressor

DAY_H = 24
WEEK_H = 168
SEASONAL_NAIVE = "seasonal-naive-1"
# boosted-quantile-1 was three quantile fits alone (19 % below seasonal-naive's
# error in the recorded backtest); boosted-blend-2 is the blend above.
BOOSTED = "boosted-blend-2"
LAGS_H = (WEEK_H, 2 * WEEK_H, 3 * WEEK_H)  # seasonal-naive's fall-backs
# The weekly profile and the features reach four weeks back.
PROFILE_WEEKS = 4
# One week feeds the lags, one more trains and one more backtests.
MIN_BOOSTED_HOURS = 3 * WEEK_H
# The seasonal-naive model needs one week, plus a day to measure its errors on.
MIN_HOURS = WEEK_H + 24
# The features' newest lag is a day: a forecast reaches a day ahead, from real
# readings only (nothing forecast is fed back in).
MAX_HORIZON_H = DAY_H
# What a forecast needs before its first hour: the oldest lag is four weeks.
LOOKBACK_H = PROFILE_WEEKS * WEEK_H
BACKTEST_H = WEEK_H
# Blend weights are tenths: coarse enough not to chase one week's noise.
WEIGHT_STEPS = 10
# Small trees: a device's eight weeks are ~1,300 rows. 100 rounds at 0.05 with
# leaves of 20 hours beat 60 at 0.1 with leaves of 10 on the households' backtest
# (MAE 0.87 against 0.89 of seasonal-naive's). One thread: with OpenMP's default (a
# thread per core) one fit took 81 s instead of 4 s on this project's shared
# two-core machine under load.
ROUNDS = 100
BOOSTING = {"learning_rate": 0.05, "max_leaf_nodes": 15, "min_samples_leaf": 20}
FIT_THREADS = 1


class ShortHistoryError(ValueError):
    """Too little history for any forecast."""


@dataclass(frozen=True)
class ForecastHour:
    start_ms: int
    kwh: float
    p10_kwh: float
    p90_kwh: float


@dataclass(frozen=True)
class Backtest:
    hours: int
    mae_kwh: float  # the chosen model (a blend: with its weights chosen on these hours)
    naive_mae_kwh: float  # seasonal-naive on the same hours
    mase: float  # the chosen model's MAE over the in-sample seasonal-naive MAE


@dataclass(frozen=True)
class Model:
    """A fitted model of one device: it forecasts the day after any recent history."""

    version: str
    tz: ZoneInfo
    trained_from_ms: int
    trained_to_ms: int
    short_history: bool
    backtest: Backtest | None
    naive_errors: tuple[float, float]  # p10, p90 of seasonal-naive errors
    boosted: HistGradientBoostingRegressor | None = None
    # the blend: weights of the boosted model, the weekly and the daily profile
    weights: tuple[float, float, float] = (1.0, 0.0, 0.0)
    blend_errors: tuple[float, float] = (0.0, 0.0)  # p10, p90 of the blend's errors

    def predict(self, y: Floats, start_ms: int, targets: np.ndarray) -> tuple[Floats, ...]:
        """p10, p50 and p90 of the hours ``targets`` of ``y`` (hourly kWh from
        ``start_ms``), from the hours at least a day before each."""
        if self.boosted is not None:
            candidates = _candidates(self.boosted, y, start_ms, self.tz, targets)
            mid = _combine(candidates, self.weights)
            low, high = mid + self.blend_errors[0], mid + self.blend_errors[1]
        else:
            mid = _naive(y, targets)
            low, high = mid + self.naive_errors[0], mid + self.naive_errors[1]
        stacked = np.sort(np.maximum(np.vstack([low, mid, high]), 0.0), axis=0)
        return stacked[0], stacked[1], stacked[2]

    def forecast(self, recent: HourlySeries, hours: int) -> list[ForecastHour]:
        """The ``hours`` after ``recent`` (at least four weeks of it for the lags)."""
        if not 1 <= hours <= MAX_HORIZON_H:
            raise ValueError(f"hours must be between 1 and {MAX_HORIZON_H}")
        y = recent.kwh()
        n = len(y)
        extended = np.concatenate([y, np.full(hours, np.nan)])
        low, mid, high = self.predict(extended, recent.start_ms, np.arange(n, n + hours))
        return [
            ForecastHour(recent.end_ms + k * HOUR_MS, float(mid[k]), float(low[k]), float(high[k]))
            for k in range(hours)
        ]


def _naive(y: Floats, targets: np.ndarray) -> Floats:
    """Same hour last week; two weeks back where last week is missing; else the hour's mean."""
    out = np.full(len(targets), np.nan)
    for lag in LAGS_H:
        missing = ~np.isfinite(out)
        back = targets[missing] - lag
        ok = back >= 0
        values = np.full(int(missing.sum()), np.nan)
        values[ok] = y[back[ok]]
        out[missing] = values
    if not np.isfinite(out).all():
        fallback = float(np.nanmean(y)) if np.isfinite(y).any() else 0.0
        out[~np.isfinite(out)] = fallback
    return out


def _lagged(values: Floats, lag: int) -> Floats:
    """Each hour's value ``lag`` hours earlier (NaN before the series starts)."""
    lag = min(lag, len(values))  # a lag longer than the series: all NaN, same length
    return np.concatenate([np.full(lag, np.nan), values[: len(values) - lag]])


def _same_hour(y: Floats, step_h: int, count: int) -> Floats:
    """Row k-1: each hour's value k steps earlier (NaN before the series starts)."""
    return np.vstack([_lagged(y, step_h * k) for k in range(1, count + 1)])


def _trailing_mean(y: Floats, hours: int) -> Floats:
    """Each hour's mean over the ``hours`` ending with it (NaN-aware)."""
    padded = np.concatenate([np.full(hours - 1, np.nan), y])
    windows = np.lib.stride_tricks.sliding_window_view(padded, hours)[: len(y)]
    return np.asarray(np.nanmean(windows, axis=1), np.float64)


def _profiles(y: Floats) -> tuple[Floats, Floats]:
    """Each hour's weekly profile (the mean of the same hour of the week over the
    last PROFILE_WEEKS weeks) and daily profile (the same hour over the last 7 days)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no week or day seen: NaN
        weekly = np.nanmean(_same_hour(y, WEEK_H, PROFILE_WEEKS), axis=0)
        daily = np.nanmean(_same_hour(y, DAY_H, 7), axis=0)
    return weekly, daily


def _features(y: Floats, start_ms: int, tz: ZoneInfo) -> Floats:
    """Calendar and lag features of every hour; each lag is at least MAX_HORIZON_H old."""
    n = len(y)
    hours = local_hours(start_ms, n, tz)
    daily = _same_hour(y, DAY_H, 7)  # same hour, last 7 days
    weekly = _same_hour(y, WEEK_H, PROFILE_WEEKS)  # same hour, last 4 weeks
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN window stays NaN
        columns = [
            hours.hour_of_day,
            hours.iso_weekday,
            hours.weekend.astype(float),
            daily[0],  # yesterday, same hour
            weekly[0],  # last week, same hour
            np.nanmean(daily, axis=0),
            np.nanmean(weekly[:3], axis=0),
            _lagged(_trailing_mean(y, DAY_H), DAY_H),  # the level of the day before
            np.nanmedian(daily, axis=0),
            np.nanmedian(weekly, axis=0),
            np.nanmean(weekly, axis=0),
            np.nanmean(daily[:3], axis=0),
            _lagged(_trailing_mean(y, WEEK_H), DAY_H),  # the level of the week before
            weekly[1],  # two weeks ago, same hour
            daily[1],  # two days ago, same hour
            np.nanmin(daily, axis=0),
            np.nanmax(daily, axis=0),
        ]
    return np.column_stack(columns).astype(np.float64)


def _candidates(
    boosted: HistGradientBoostingRegressor,
    y: Floats,
    start_ms: int,
    tz: ZoneInfo,
    targets: np.ndarray,
) -> Floats:
    """The blend's three forecasts of the hours ``targets``, one row each: boosted,
    weekly profile, daily profile (a profile with no history takes the boosted value)."""
    mid = boosted.predict(_features(y, start_ms, tz)[targets])
    rows = [mid]
    for profile in _profiles(y):
        values = profile[targets]
        rows.append(np.where(np.isfinite(values), values, mid))
    return np.vstack(rows)


def _weight_grid(steps: int = WEIGHT_STEPS) -> Floats:
    """Every weight triple in 1/steps that sums to one, boosted weight rising first."""
    return np.array(
        [
            (a / steps, b / steps, (steps - a - b) / steps)
            for a in range(steps + 1)
            for b in range(steps - a + 1)
        ]
    )


def _combine(candidates: Floats, weights: tuple[float, float, float]) -> Floats:
    return np.asarray(weights, np.float64) @ candidates


def _blend_weights(candidates: Floats, actual: Floats) -> tuple[float, float, float]:
    """The grid's weights with the least mean absolute error against ``actual``
    (hours without a reading left out); the first of equals, the boosted model
    alone when nothing was seen."""
    seen = np.isfinite(actual) & np.isfinite(candidates).all(axis=0)
    if not seen.any():
        return (1.0, 0.0, 0.0)
    grid = _weight_grid()
    errors = np.abs(grid @ candidates[:, seen] - actual[seen]).mean(axis=1)
    best = grid[int(np.argmin(errors))]
    return (float(best[0]), float(best[1]), float(best[2]))


def _fit_boosted(
    y: Floats, start_ms: int, tz: ZoneInfo, end: int, rounds: int
) -> HistGradientBoostingRegressor:
    """The median model on the hours before ``end``."""
    # imported here: scikit-learn takes a second to import, and only fitting needs it
    from sklearn.ensemble import HistGradientBoostingRegressor  # noqa: PLC0415
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    features = _features(y, start_ms, tz)
    rows = np.arange(DAY_H, end)
    rows = rows[np.isfinite(y[rows])]
    with threadpool_limits(FIT_THREADS):
        model = HistGradientBoostingRegressor(
            loss="absolute_error", random_state=0, **{**BOOSTING, "max_iter": rounds}
        )
        return model.fit(features[rows], y[rows])


def _naive_errors(y: Floats, end: int) -> tuple[Floats, float]:
    """Seasonal-naive errors on the hours before ``end``, and their mean absolute size."""
    targets = np.arange(WEEK_H, end)
    errors = y[targets] - y[targets - WEEK_H]
    errors = errors[np.isfinite(errors)]
    return errors, float(np.mean(np.abs(errors))) if len(errors) else float("nan")


def _mae(actual: Floats, predicted: Floats) -> float:
    seen = np.isfinite(actual)
    return float(np.mean(np.abs(actual[seen] - predicted[seen]))) if seen.any() else float("nan")


def _percentiles(errors: Floats) -> tuple[float, float]:
    if not len(errors):
        return 0.0, 0.0
    return float(np.percentile(errors, 10)), float(np.percentile(errors, 90))


def fit(
    series: HourlySeries, tz: ZoneInfo, *, allow_boosted: bool = True, rounds: int = ROUNDS
) -> Model:
    """The better of the two models for ``series``'s kWh, by a backtest on its last week."""
    y = series.kwh()
    n = len(y)
    if n < MIN_HOURS or int(np.isfinite(y).sum()) < MIN_HOURS // 2:
        raise ShortHistoryError(
            f"a forecast needs {MIN_HOURS // 24} days of readings; "
            f"there are {int(np.isfinite(y).sum())} hours"
        )
    naive_errors = _percentiles(_naive_errors(y, n)[0])

    def model(version: str, backtest: Backtest | None) -> Model:
        return Model(
            version=version,
            tz=tz,
            trained_from_ms=series.start_ms,
            trained_to_ms=series.end_ms,
            short_history=n < MIN_BOOSTED_HOURS,
            backtest=backtest,
            naive_errors=naive_errors,
        )

    if n < MIN_BOOSTED_HOURS or not allow_boosted:
        return model(SEASONAL_NAIVE, None)
    test = np.arange(n - BACKTEST_H, n)
    test = test[np.isfinite(y[test])]
    if not len(test):
        return model(SEASONAL_NAIVE, None)  # nothing to choose by
    held_out = _fit_boosted(y, series.start_ms, tz, n - BACKTEST_H, rounds)
    candidates = _candidates(held_out, y, series.start_ms, tz, test)
    weights = _blend_weights(candidates, y[test])
    blend_errors = y[test] - _combine(candidates, weights)
    blend_mae = float(np.mean(np.abs(blend_errors)))
    naive_mae = _mae(y[test], _naive(y, test))
    _, train_scale = _naive_errors(y, n - BACKTEST_H)
    if blend_mae < naive_mae:
        return Model(
            version=BOOSTED,
            tz=tz,
            trained_from_ms=series.start_ms,
            trained_to_ms=series.end_ms,
            short_history=False,
            backtest=Backtest(len(test), blend_mae, naive_mae, blend_mae / train_scale),
            naive_errors=naive_errors,
            boosted=_fit_boosted(y, series.start_ms, tz, n, rounds),
            weights=weights,
            blend_errors=_percentiles(blend_errors),
        )
    return model(SEASONAL_NAIVE, Backtest(len(test), naive_mae, naive_mae, naive_mae / train_scale))


def head(series: HourlySeries, hours: int) -> HourlySeries:
    """The first ``hours`` of ``series``."""
    return HourlySeries(
        series.start_ms,
        series.mean_w[:hours],
        series.min_w[:hours],
        series.max_w[:hours],
        series.count[:hours],
    )


def backtest_errors(
    series: HourlySeries, tz: ZoneInfo, origins_h: list[int], horizon_h: int
) -> dict[str, Floats]:
    """The benchmark's rolling backtest: from each origin (an index into the series)
    ``fit`` on the hours before it picks and fits a model, which forecasts the
    ``horizon_h`` hours from the origin, each from the readings at least a day
    before it. Per hour with a reading: the chosen model's and seasonal-naive's
    absolute errors, and whether the hour fell in the model's p10-p90 interval
    (1.0) or not; per origin: seasonal-naive's in-sample MAE ("scale") and
    whether the blend was chosen ("blend")."""
    y = series.kwh()
    errors: dict[str, list[Floats]] = {
        "model": [],
        SEASONAL_NAIVE: [],
        "covered": [],
        "scale": [],
        "blend": [],
    }
    for origin in origins_h:
        test = np.arange(origin, min(origin + horizon_h, len(y)))
        seen = test[np.isfinite(y[test])]
        model = fit(head(series, origin), tz)
        low, mid, high = model.predict(y, series.start_ms, seen)
        actual = y[seen]
        errors["model"].append(np.abs(actual - mid))
        errors[SEASONAL_NAIVE].append(np.abs(actual - _naive(y, seen)))
        errors["covered"].append(((actual >= low) & (actual <= high)).astype(np.float64))
        errors["scale"].append(np.array([_naive_errors(y, origin)[1]]))
        errors["blend"].append(np.array([float(model.version == BOOSTED)]))
    return {k: np.concatenate(v) for k, v in errors.items()}
