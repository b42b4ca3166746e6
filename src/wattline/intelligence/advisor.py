"""Recommendations for a home from its devices' latest readings, and their outcomes.

The rules are pure (``wattline.analytics.recommendations``); this reads what
they need: solar output (the solar sources' ``ac_power_w`` or ``power_w``), the
load (the load meter's power), the battery's state of charge, price and carbon
intensity (a ``GridSignals``), and the load forecast. Each decision is stored
with what it saw; once its window has passed, the flexible device's kWh in the
window give the outcome.

Automation (switching the flexible plug through a command when the user allows
it, ``commands/automation.py``) plugs in as ``on_decided``: it gets each new
decision and its home, and returns the decision as recorded; ``on_measured``
hears of each decision whose outcome was just measured.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np

from wattline.analytics.recommendations import (
    HORIZON_H,
    HOUR_MS,
    GridSignals,
    Situation,
    measure,
    recommend,
    situation_signals,
)
from wattline.intelligence.forecaster import Forecaster
from wattline.intelligence.hourly import hour_floor, read_hourly
from wattline.model.decisions import Home, SourceKind, StoredDecision
from wattline.storage.ports import IntelligenceStore, SeriesReader

POWER = ("ac_power_w", "power_w")
STATE_OF_CHARGE = ("battery_soc_pct", "soc_pct", "state_of_charge_pct")
MEASURE_BATCH = 500

OnDecided = Callable[[StoredDecision, Home], StoredDecision]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Advisor:
    def __init__(  # noqa: PLR0913 - the collaborators, then the two hooks
        self,
        store: SeriesReader,
        intelligence: IntelligenceStore,
        signals: GridSignals,
        forecaster: Forecaster | None = None,
        clock_ms: Callable[[], int] = _now_ms,
        *,
        on_decided: OnDecided | None = None,
        on_measured: Callable[[StoredDecision], None] | None = None,
    ) -> None:
        self._store = store
        self._intelligence = intelligence
        self._signals = signals
        self._forecaster = forecaster
        self._clock_ms = clock_ms
        self.on_decided = on_decided
        self.on_measured = on_measured

    def _latest(self, device_id: str | None, names: tuple[str, ...]) -> float | None:
        if device_id is None:
            return None
        values = {
            v.metric: v.value for v in self._store.latest_values([device_id]).get(device_id, [])
        }
        return next((values[n] for n in names if n in values), None)

    def situation(self, tenant_id: str, home: Home, at_ms: int) -> Situation:
        tz = ZoneInfo(home.tz)
        solar_w = sum(
            self._latest(s.device_id, POWER) or 0.0
            for s in home.sources
            if s.kind is SourceKind.SOLAR
        )
        battery = next((s for s in home.sources if s.kind is SourceKind.BATTERY), None)
        soc = self._latest(battery.device_id, STATE_OF_CHARGE) if battery is not None else None
        prices, carbon = situation_signals(self._signals, tenant_id, home, at_ms)
        first = at_ms - at_ms % HOUR_MS
        local = [
            datetime.fromtimestamp((first + k * HOUR_MS) / 1000, UTC).astimezone(tz).hour
            for k in range(HORIZON_H)
        ]
        forecast: list[float] = []
        if self._forecaster is not None and home.load_device_id is not None:
            try:
                hours = self._forecaster.forecast(home.load_device_id, HORIZON_H, tz).hours
                forecast = [round(h.kwh, 4) for h in hours]
            except ValueError:
                forecast = []  # no power series or too little history: advise without it
        return Situation(
            at_ms=at_ms,
            solar_w=solar_w,
            load_w=self._latest(home.load_device_id, POWER) or 0.0,
            battery_soc_pct=soc,
            prices=prices,
            carbon=carbon,
            local_hours=local,
            load_forecast_kwh=forecast,
        )

    def decide(self, tenant_id: str, home: Home) -> StoredDecision:
        """Advise the home now and store the decision with what it saw."""
        decision = recommend(home, self.situation(tenant_id, home, self._clock_ms()))
        decision_id = self._intelligence.record_decision(tenant_id, decision)
        stored = StoredDecision(decision_id, tenant_id, decision, None)
        return stored if self.on_decided is None else self.on_decided(stored, home)

    def measure_outcomes(self, now_ms: int) -> int:
        """Fill in the outcome of every decision whose window has passed; how many."""
        measured = 0
        for stored in self._intelligence.decisions_to_measure(now_ms, MEASURE_BATCH):
            decision = stored.decision
            home = self._intelligence.get_home(stored.tenant_id, decision.home_id)
            kwh = 0.0
            if home is not None and home.flexible_device_id is not None and decision.run_from_ms:
                kwh = self._window_kwh(
                    home.flexible_device_id, decision.run_from_ms, decision.run_to_ms or now_ms
                )
            self._intelligence.set_outcome(
                stored.tenant_id, stored.id, measure(decision, kwh, now_ms)
            )
            if self.on_measured is not None:
                self.on_measured(stored)
            measured += 1
        return measured

    def _window_kwh(self, device_id: str, start_ms: int, end_ms: int) -> float:
        metric = next((m for m in POWER if self._latest(device_id, (m,)) is not None), None)
        if metric is None:
            return 0.0
        first, last = hour_floor(start_ms), hour_floor(end_ms + HOUR_MS - 1)
        series = read_hourly(self._store, device_id, metric, first, last)
        return float(np.nansum(series.kwh()))
