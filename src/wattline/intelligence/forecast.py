"""Hourly kWh forecasts with a p10-p90 interval, and the backtest that picks the model.

Two models:

- ``seasonal-naive``: the same hour last week (the baseline every forecast must
  beat); its interval is the same hour last week plus the 10th and 90th
  percentiles of its own past errors.
- ``boosted-quantile``: scikit-learn's ``HistGradientBoostingRegressor`` with the
  quantile loss, one model each for p10, p50 and p90, on calendar features (local
  hour, ISO weekday, weekend) and lags: the same hour yesterday and last week, its
  mean over the last seven days and over the last three weeks, and the level of the
  day before. Every lag is at least a day old, so a forecast reaches a day ahead
  from readings alone.

``fit`` backtests both on the last week of history (the boosted model trained on
what came before) and keeps the one with the lower mean absolute error; with
less than ``MIN_BOOSTED_HOURS`` of history it keeps the seasonal-naive model and
says so (``short_history``).
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
BOOSTED = "boosted-quantile-1"
QUANTILES = (0.1, 0.5, 0.9)
LAGS_H = (WEEK_H, 2 * WEEK_H, 3 * WEEK_H)  # seasonal-naive's fall-backs
# One week feeds the lags, one more trains and one more backtests.
MIN_BOOSTED_HOURS = 3 * WEEK_H
# The seasonal-naive model needs one week, plus a day to measure its errors on.
MIN_HOURS = WEEK_H + 24
# The features' newest lag is a day: a forecast reaches a day ahead, from real
# readings only (nothing forecast is fed back in).
MAX_HORIZON_H = DAY_H
BACKTEST_H = WEEK_H
# Small trees: a device's eight weeks are ~1,300 rows. 100 rounds at 0.05 with
# leaves of 20 hours beat 60 at 0.1 with leaves of 10 on the households' backtest
# (MAE 0.87 against 0.89 of seasonal-naive's). One thread: with OpenMP's default (a
# thread per core) one quantile's fit took 81 s instead of 4 s on this project's
# shared two-core machine under load.
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
    mae_kwh: float  # the chosen model
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
    boosted: tuple[HistGradientBoostingRegressor, ...] | None = None

    def forecast(self, recent: HourlySeries, hours: int) -> list[ForecastHour]:
        """The ``hours`` after ``recent`` (at least three weeks of it for the lags)."""
        if not 1 <= hours <= MAX_HORIZON_H:
            raise ValueError(f"hours must be between 1 and {MAX_HORIZON_H}")
        y = recent.kwh()
        n = len(y)
        extended = np.concatenate([y, np.full(hours, np.nan)])
        targets = np.arange(n, n + hours)
        if self.boosted is not None:
            features = _features(extended, recent.start_ms, self.tz)[targets]
            low, mid, high = (m.predict(features) for m in self.boosted)
        else:
            mid = _naive(extended, targets)
            low, high = mid + self.naive_errors[0], mid + self.naive_errors[1]
        stacked = np.sort(np.maximum(np.vstack([low, mid, high]), 0.0), axis=0)
        return [
            ForecastHour(
                recent.end_ms + k * HOUR_MS,
                float(stacked[1, k]),
                float(stacked[0, k]),
                float(stacked[2, k]),
            )
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
    return np.concatenate([np.full(lag, np.nan), values[: len(values) - lag]])


def _features(y: Floats, start_ms: int, tz: ZoneInfo) -> Floats:
    """Calendar and lag features of every hour; each lag is at least MAX_HORIZON_H old."""
    n = len(y)
    hours = local_hours(start_ms, n, tz)
    daily = np.vstack([_lagged(y, DAY_H * k) for k in range(1, 8)])  # same hour, last 7 days
    weekly = np.vstack([_lagged(y, WEEK_H * k) for k in range(1, 4)])  # same hour, 3 weeks
    padded = np.concatenate([np.full(DAY_H - 1, np.nan), y])
    trailing = np.lib.stride_tricks.sliding_window_view(padded, DAY_H)[:n]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN window stays NaN
        columns = [
            hours.hour_of_day,
            hours.iso_weekday,
            hours.weekend.astype(float),
            daily[0],  # yesterday, same hour
            weekly[0],  # last week, same hour
            np.nanmean(daily, axis=0),
            np.nanmean(weekly, axis=0),
            _lagged(np.nanmean(trailing, axis=1), DAY_H),  # the level of the day before
        ]
    return np.column_stack(columns).astype(np.float64)


def _fit_boosted(
    y: Floats, start_ms: int, tz: ZoneInfo, end: int, rounds: int
) -> tuple[HistGradientBoostingRegressor, ...]:
    # imported here: scikit-learn takes a second to import, and only fitting needs it
    from sklearn.ensemble import HistGradientBoostingRegressor  # noqa: PLC0415
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    features = _features(y, start_ms, tz)
    rows = np.arange(DAY_H, end)
    rows = rows[np.isfinite(y[rows])]
    fitted = []
    with threadpool_limits(FIT_THREADS):
        for quantile in QUANTILES:
            model = HistGradientBoostingRegressor(
                loss="quantile",
                quantile=quantile,
                random_state=0,
                **{**BOOSTING, "max_iter": rounds},
            )
            fitted.append(model.fit(features[rows], y[rows]))
    return tuple(fitted)


def _naive_errors(y: Floats, end: int) -> tuple[Floats, float]:
    """Seasonal-naive errors on the hours before ``end``, and their mean absolute size."""
    targets = np.arange(WEEK_H, end)
    errors = y[targets] - y[targets - WEEK_H]
    errors = errors[np.isfinite(errors)]
    return errors, float(np.mean(np.abs(errors))) if len(errors) else float("nan")


def _mae(actual: Floats, predicted: Floats) -> float:
    seen = np.isfinite(actual)
    return float(np.mean(np.abs(actual[seen] - predicted[seen]))) if seen.any() else float("nan")


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
    errors, _ = _naive_errors(y, n)
    low, high = (
        (float(np.percentile(errors, q * 100)) for q in (0.1, 0.9)) if len(errors) else (0.0, 0.0)
    )

    def model(
        version: str,
        backtest: Backtest | None,
        boosted: tuple[HistGradientBoostingRegressor, ...] | None = None,
    ) -> Model:
        return Model(
            version=version,
            tz=tz,
            trained_from_ms=series.start_ms,
            trained_to_ms=series.end_ms,
            short_history=n < MIN_BOOSTED_HOURS,
            backtest=backtest,
            naive_errors=(low, high),
            boosted=boosted,
        )

    if n < MIN_BOOSTED_HOURS or not allow_boosted:
        return model(SEASONAL_NAIVE, None)
    test = np.arange(n - BACKTEST_H, n)
    held_out = _fit_boosted(y, series.start_ms, tz, n - BACKTEST_H, rounds)
    features = _features(y, series.start_ms, tz)[test]
    boosted_mae = _mae(y[test], held_out[1].predict(features))
    naive_mae = _mae(y[test], _naive(y, test))
    _, train_scale = _naive_errors(y, n - BACKTEST_H)
    if boosted_mae < naive_mae:
        backtest = Backtest(BACKTEST_H, boosted_mae, naive_mae, boosted_mae / train_scale)
        boosted = _fit_boosted(y, series.start_ms, tz, n, rounds)
        return model(BOOSTED, backtest, boosted)
    backtest = Backtest(BACKTEST_H, naive_mae, naive_mae, naive_mae / train_scale)
    return model(SEASONAL_NAIVE, backtest)


def backtest_errors(
    series: HourlySeries, tz: ZoneInfo, origins_h: list[int], horizon_h: int
) -> dict[str, Floats]:
    """Absolute errors per hour of both models from each origin (an index into the
    series), each fitted on the hours before it: the benchmark's rolling backtest."""
    y = series.kwh()
    features = _features(y, series.start_ms, tz)
    errors: dict[str, list[Floats]] = {BOOSTED: [], SEASONAL_NAIVE: [], "scale": []}
    for origin in origins_h:
        test = np.arange(origin, min(origin + horizon_h, len(y)))
        seen = test[np.isfinite(y[test])]
        boosted = _fit_boosted(y, series.start_ms, tz, origin, ROUNDS)
        errors[BOOSTED].append(np.abs(y[seen] - boosted[1].predict(features[seen])))
        errors[SEASONAL_NAIVE].append(np.abs(y[seen] - _naive(y, seen)))
        errors["scale"].append(np.array([_naive_errors(y, origin)[1]]))
    return {k: np.concatenate(v) for k, v in errors.items()}
