"""Forecast models: the seasonal-naive fall-back, the boosted model, the bounded cache."""

from __future__ import annotations

import math
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from wattline.intelligence.forecast import (
    BOOSTED,
    SEASONAL_NAIVE,
    ShortHistoryError,
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


def test_with_weeks_of_history_the_backtest_picks_the_boosted_model() -> None:
    series = weekly(28)
    model = fit(series, UTC, rounds=40)  # fewer rounds than in production: a faster test
    assert model.version == BOOSTED
    assert model.short_history is False
    assert model.backtest is not None
    assert model.backtest.mae_kwh < model.backtest.naive_mae_kwh
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
