"""Forecast models: the seasonal-naive fall-back, the boosted model, the bounded cache."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wattline.intelligence.forecast import (
    BOOSTED,
    DAY_H,
    LOOKBACK_H,
    SEASONAL_NAIVE,
    WEEK_H,
    ShortHistoryError,
    _blend_weights,
    _features,
    _profiles,
    backtest_errors,
    fit,
)
from wattline.intelligence.hourly import DAY_MS, HOUR_MS, HourlySeries
from wattline.intelligence.models import ModelCache

UTC = ZoneInfo("UTC")
START_MS = 1_788_220_800_000  # a Tuesday, 00:00 UTC


def weekly(days: int, noise: float = 0.1, seed: int = 0) -> HourlySeries:
    """Watts with a daily shape and quieter weekends, plus noise."""
    rng = np.random.default_rng(seed)
    hours = np.arange(days * 24)
    weekend = ((START_MS // DAY_MS + hours // 24 + 3) % 7) >= 5
    mean = 500 + 1500 * np.sin(np.pi * (hours % 24) / 24) ** 4 * np.where(weekend, 0.4, 1.0)
    mean = mean * rng.normal(1, noise, len(hours))
    return HourlySeries(START_MS, mean, mean * 0.9, mean * 1.1, np.full(len(hours), 60))


def test_short_history_falls_back_to_seasonal_naive_with_a_flag() -> None:
    series = weekly(10)
    model = fit(series, UTC)
    assert (model.version, model.short_history, model.backtest) == (SEASONAL_NAIVE, True, None)
    hours = model.forecast(series, 24)
    assert len(hours) == 24
    assert hours[0].start_ms == series.end_ms
    # the same hour last week, in kWh
    assert hours[5].kwh == pytest.approx(max(series.mean_w[len(series) - 168 + 5] / 1000, 0))
    assert all(h.p10_kwh <= h.kwh <= h.p90_kwh for h in hours)


def test_less_than_eight_days_is_refused() -> None:
    with pytest.raises(ShortHistoryError, match="8 days"):
        fit(weekly(7), UTC)


def test_with_weeks_of_history_the_backtest_picks_the_blend() -> None:
    series = weekly(28)
    model = fit(series, UTC, rounds=40)  # fewer rounds than in production: a faster test
    assert model.version == BOOSTED
    assert model.short_history is False
    assert model.backtest is not None
    assert model.backtest.mae_kwh < model.backtest.naive_mae_kwh
    assert sum(model.weights) == pytest.approx(1.0)
    assert model.blend_errors[0] <= 0 <= model.blend_errors[1]
    assert (model.trained_from_ms, model.trained_to_ms) == (START_MS, START_MS + 28 * DAY_MS)
    hours = model.forecast(series, 24)
    assert [h.start_ms for h in hours] == [series.end_ms + k * HOUR_MS for k in range(24)]
    assert all(0 <= h.p10_kwh <= h.kwh <= h.p90_kwh for h in hours)
    # the afternoon peak is forecast higher than the night
    assert hours[12].kwh > 2 * hours[0].kwh
    with pytest.raises(ValueError, match="between 1 and 24"):
        model.forecast(series, 25)


def test_the_cache_is_bounded_in_memory_and_on_disk(tmp_path: Path) -> None:
    model = fit(weekly(10), UTC)
    cache = ModelCache(tmp_path, max_models=2, max_files=3)
    for key in "abcd":
        cache.put(key, model)
    assert len(cache) == 2
    assert len(list(tmp_path.glob("*.pickle"))) == 3
    reopened = ModelCache(tmp_path, max_models=2, max_files=3)
    again = reopened.get("d")
    assert again is not None
    assert again.version == model.version
    assert reopened.get("a") is None  # the oldest file went first
    (next(tmp_path.glob("*.pickle"))).write_bytes(b"torn")
    assert sum(reopened.get(k) is None for k in "bcd") >= 1  # a torn file is a miss, not a crash
    assert math.isfinite(model.naive_errors[0])


def test_the_cache_refuses_a_model_of_an_older_version(tmp_path: Path) -> None:
    cache = ModelCache(tmp_path)
    cache.put("a", replace(fit(weekly(10), UTC), version="boosted-quantile-1"))
    assert ModelCache(tmp_path).get("a") is None  # refitted, not used


def test_the_backtest_fits_through_fit_and_measures_the_interval() -> None:
    series = weekly(29)
    errors = backtest_errors(series, UTC, [28 * 24], 24)
    assert len(errors["model"]) == len(errors[SEASONAL_NAIVE]) == len(errors["covered"]) == 24
    assert set(np.unique(errors["covered"])) <= {0.0, 1.0}
    assert errors["blend"].tolist() == [1.0]
    assert errors["model"].mean() < errors[SEASONAL_NAIVE].mean()


# No leakage: every feature and profile of hour t is the same whatever the hours
# from t - 23 on hold (missing, zero, huge), so a forecast a day ahead sees only
# real readings, and a backtest only the past.
@settings(max_examples=40, deadline=None)
@given(
    hours=st.integers(DAY_H, LOOKBACK_H + 2 * WEEK_H),
    at=st.floats(0, 1),
    seed=st.integers(0, 2**32 - 1),
    missing=st.floats(0, 1),
    later=st.sampled_from([np.nan, 0.0, 1e9, -1.0]),
)
def test_features_of_an_hour_use_only_hours_at_least_a_day_before_it(
    hours: int, at: float, seed: int, missing: float, later: float
) -> None:
    rng = np.random.default_rng(seed)
    y = rng.gamma(2.0, 0.3, hours)
    y[rng.random(hours) < missing] = np.nan
    t = min(int(at * hours), hours - 1)
    changed = y.copy()
    changed[max(0, t - DAY_H + 1) :] = later
    before = _features(y, START_MS, UTC)[t]
    after = _features(changed, START_MS, UTC)[t]
    np.testing.assert_array_equal(before, after)
    for profile, other in zip(_profiles(y), _profiles(changed), strict=True):
        np.testing.assert_array_equal(profile[t], other[t])
    # and the hour just a day old does count
    if t >= DAY_H and np.isfinite(y[t - DAY_H]):
        bumped = y.copy()
        bumped[t - DAY_H] += 1.0
        assert _features(bumped, START_MS, UTC)[t][3] == y[t - DAY_H] + 1.0


@settings(max_examples=200, deadline=None)
@given(
    hours=st.integers(1, 200),
    seed=st.integers(0, 2**32 - 1),
    exact=st.integers(0, 2),
    offset=st.floats(1e-3, 1e3),
)
def test_the_blend_weights_are_tenths_summing_to_one_and_find_an_exact_candidate(
    hours: int, seed: int, exact: int, offset: float
) -> None:
    rng = np.random.default_rng(seed)
    actual = rng.gamma(2.0, 0.3, hours)
    candidates = np.vstack([actual + offset * (1 + rng.random(hours)) for _ in range(3)])
    weights = _blend_weights(candidates, actual)
    assert all(0 <= w <= 1 and round(w * 10, 9).is_integer() for w in weights)
    assert sum(weights) == pytest.approx(1.0)
    # never worse than any one candidate alone (each is on the grid)
    blended = np.abs(np.asarray(weights) @ candidates - actual).mean()
    assert all(blended <= np.abs(c - actual).mean() + 1e-12 for c in candidates)
    candidates[exact] = actual
    chosen = _blend_weights(candidates, actual)
    assert chosen[exact] == 1.0


def test_the_blend_weights_leave_out_missing_hours_and_default_to_the_boosted_model() -> None:
    actual = np.array([1.0, np.nan, 2.0])
    candidates = np.vstack([actual + 1, actual, actual + 2])
    assert _blend_weights(candidates, actual) == (0.0, 1.0, 0.0)
    assert _blend_weights(candidates, np.full(3, np.nan)) == (1.0, 0.0, 0.0)
