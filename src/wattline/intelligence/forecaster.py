"""Forecasts of stored devices: read hourly history, fit or reuse a model, forecast.

A model is refitted when it is older than ``refit_after_ms`` (the scheduled job
refits every device with power once a day; a request finding no model fits one
on the spot). A tag's forecast is the sum of its devices': the p50s add up, and
the interval adds the p10s and the p90s, which assumes the devices' errors move
together (the widest honest interval without a joint model).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from wattline.intelligence.forecast import LOOKBACK_H, ForecastHour, Model, fit
from wattline.intelligence.hourly import DAY_MS, hour_floor, power_metric, read_hourly
from wattline.intelligence.models import ModelCache
from wattline.storage.ports import SeriesReader

HISTORY_DAYS = 56
REFIT_AFTER_MS = DAY_MS
# what a forecast reads besides the model: the lags reach four weeks back
RECENT_DAYS = LOOKBACK_H // 24 + 1


class NoPowerSeriesError(ValueError):
    """The device reports no power, so there is nothing to forecast."""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class DeviceForecast:
    device_id: str
    metric: str
    model: Model
    hours: list[ForecastHour]


class Forecaster:
    def __init__(
        self,
        store: SeriesReader,
        cache: ModelCache,
        clock_ms: Callable[[], int] = _now_ms,
        refit_after_ms: int = REFIT_AFTER_MS,
        history_days: int = HISTORY_DAYS,
    ) -> None:
        self._store = store
        self._cache = cache
        self._clock_ms = clock_ms
        self._refit_after_ms = refit_after_ms
        self._history_days = history_days

    def model(self, device_id: str, tz: ZoneInfo, *, refit: bool = False) -> tuple[str, Model]:
        """The device's power metric and a model fitted on history up to the current hour."""
        metric = power_metric(self._store, device_id)
        if metric is None:
            raise NoPowerSeriesError(
                f"device {device_id!r} reports no power (power_w or ac_power_w)"
            )
        key = f"{device_id}\0{metric}\0{tz.key}"
        end_ms = hour_floor(self._clock_ms())
        cached = None if refit else self._cache.get(key)
        if cached is not None and end_ms - cached.trained_to_ms < self._refit_after_ms:
            return metric, cached
        start_ms = end_ms - self._history_days * DAY_MS
        series = read_hourly(self._store, device_id, metric, start_ms, end_ms)
        first = next((i for i, c in enumerate(series.count) if c > 0), len(series))
        model = fit(series.tail(series.hour_ms(first)), tz)  # from the first reading on
        self._cache.put(key, model)
        return metric, model

    def forecast(self, device_id: str, hours: int, tz: ZoneInfo) -> DeviceForecast:
        """The ``hours`` from the current hour, from the readings up to it."""
        metric, model = self.model(device_id, tz)
        end_ms = hour_floor(self._clock_ms())
        recent = read_hourly(self._store, device_id, metric, end_ms - RECENT_DAYS * DAY_MS, end_ms)
        return DeviceForecast(device_id, metric, model, model.forecast(recent, hours))

    def refit_all(self, device_ids: Sequence[str], tz: ZoneInfo) -> int:
        """Refit every device with power and enough history; how many were fitted."""
        fitted = 0
        for device_id in device_ids:
            try:
                self.model(device_id, tz, refit=True)
            except ValueError:
                continue  # no power series, or too little history
            fitted += 1
        return fitted
