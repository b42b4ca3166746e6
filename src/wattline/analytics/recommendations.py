"""Which source a home should draw from now, and when to run its flexible load. Pure.

Rules, versioned as ``RULE_VERSION`` (a stored decision names the version that
made it, so a change of rules never rewrites history):

1. **Source now.** Solar when it covers the load. Otherwise the battery when it
   holds more than the reserve and the grid is expensive (priority cost or
   comfort) or dirty (priority carbon). Otherwise the grid.
2. **Flexible load.** Run it now when spare solar covers it and the battery is
   full (the surplus would otherwise be exported cheaply), or when the priority
   is comfort. Otherwise start it in the window of the next 24 hours with the
   lowest mean price (cost) or carbon intensity (carbon), outside quiet hours;
   the earliest such window on a tie.
3. **Expected saving** against doing nothing (running it now): the load's kWh
   times the difference in mean price and intensity between now and the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from wattline.model.decisions import Decision, Home, Outcome, Priority, SourceKind

RULE_VERSION = "rules-1"
HOUR_MS = 3_600_000
HORIZON_H = 24
# a battery at or above this state of charge takes no more solar
FULL_BATTERY_PCT = 95.0


class GridSignals(Protocol):
    """Price and carbon intensity of grid energy for a home at an instant.

    The tariffs and carbon providers implement it; ``StaticSignals`` is the
    table-driven one tests and a home without a tariff use.
    """

    def price_per_kwh(self, tenant_id: str, home: Home, at_ms: int) -> float: ...

    def carbon_g_per_kwh(self, tenant_id: str, home: Home, at_ms: int) -> float: ...


@dataclass(frozen=True, slots=True)
class StaticSignals:
    """One price and one intensity per local hour of day (24 values each, from 00:00)."""

    prices: Sequence[float]
    carbon: Sequence[float]
    offset_h: int = 0  # the homes' local time minus UTC, in whole hours

    def __post_init__(self) -> None:
        if len(self.prices) != 24 or len(self.carbon) != 24:
            raise ValueError("static signals need 24 prices and 24 intensities")

    def _hour(self, at_ms: int) -> int:
        return (at_ms // HOUR_MS + self.offset_h) % 24

    def price_per_kwh(self, tenant_id: str, home: Home, at_ms: int) -> float:  # noqa: ARG002 - one table for all
        return float(self.prices[self._hour(at_ms)])

    def carbon_g_per_kwh(self, tenant_id: str, home: Home, at_ms: int) -> float:  # noqa: ARG002
        return float(self.carbon[self._hour(at_ms)])


@dataclass(frozen=True, slots=True)
class Situation:
    """What the rules see: now, and the next 24 hours from the current hour."""

    at_ms: int
    solar_w: float
    load_w: float
    battery_soc_pct: float | None  # None: no battery
    prices: Sequence[float]  # per kWh, hour by hour from the current hour
    carbon: Sequence[float]  # g/kWh, likewise
    local_hours: Sequence[int]  # the local hour of day of each of those hours
    load_forecast_kwh: Sequence[float] = field(default_factory=tuple)

    def as_inputs(self) -> dict[str, object]:
        return {
            "at_ms": self.at_ms,
            "solar_w": self.solar_w,
            "load_w": self.load_w,
            "battery_soc_pct": self.battery_soc_pct,
            "prices": list(self.prices),
            "carbon_g_per_kwh": list(self.carbon),
            "local_hours": list(self.local_hours),
            "load_forecast_kwh": list(self.load_forecast_kwh),
        }


def situation_signals(
    signals: GridSignals, tenant_id: str, home: Home, at_ms: int
) -> tuple[list[float], list[float]]:
    """The next 24 hours' prices and intensities, from the current hour."""
    first = at_ms - at_ms % HOUR_MS
    hours = [first + k * HOUR_MS for k in range(HORIZON_H)]
    return (
        [signals.price_per_kwh(tenant_id, home, t) for t in hours],
        [signals.carbon_g_per_kwh(tenant_id, home, t) for t in hours],
    )


def _quiet(home: Home, hour: int) -> bool:
    start, end = home.preferences.quiet_from_h, home.preferences.quiet_to_h
    if start is None or end is None or start == end:
        return False
    return start <= hour < end if start < end else hour >= start or hour < end


def _choose_source(home: Home, now: Situation) -> tuple[SourceKind, str]:
    prefs = home.preferences
    surplus_w = now.solar_w - now.load_w
    if now.solar_w > 0 and surplus_w >= 0:
        return SourceKind.SOLAR, f"solar ({now.solar_w:.0f} W) covers the load ({now.load_w:.0f} W)"
    price, carbon = now.prices[0], now.carbon[0]
    expensive = price >= prefs.expensive_per_kwh
    dirty = carbon >= prefs.high_carbon_g_per_kwh
    wanted = dirty if prefs.priority is Priority.CARBON else expensive
    soc = now.battery_soc_pct
    if soc is not None and soc > prefs.battery_reserve_pct and wanted:
        why = (
            f"grid carbon {carbon:.0f} g/kWh"
            if prefs.priority is Priority.CARBON
            else f"grid price {price:.3f}/kWh"
        )
        return SourceKind.BATTERY, (
            f"the battery ({soc:.0f} %, reserve {prefs.battery_reserve_pct:.0f} %) "
            f"instead of the grid: {why} is high"
        )
    if soc is not None and soc <= prefs.battery_reserve_pct:
        return SourceKind.GRID, f"the grid: the battery is at its reserve ({soc:.0f} %)"
    return SourceKind.GRID, f"the grid (price {price:.3f}/kWh, {carbon:.0f} g/kWh)"


def _window_score(now: Situation, priority: Priority, start: int, hours: int) -> float:
    signal = now.carbon if priority is Priority.CARBON else now.prices
    return sum(signal[start : start + hours]) / hours


def _choose_window(home: Home, now: Situation) -> tuple[int | None, str]:
    prefs = home.preferences
    hours = prefs.flexible_load_h
    starts = [
        k
        for k in range(len(now.prices) - hours + 1)
        if not any(_quiet(home, h) for h in now.local_hours[k : k + hours])
    ]
    if not starts:
        return None, "every window of the next 24 hours falls in quiet hours"
    spare_w = now.solar_w - now.load_w
    full = now.battery_soc_pct is None or now.battery_soc_pct >= FULL_BATTERY_PCT
    if starts[0] == 0 and spare_w >= prefs.flexible_load_kw * 1000 and full:
        battery = "there is no battery" if now.battery_soc_pct is None else "the battery is full"
        return 0, f"run it now: spare solar ({spare_w:.0f} W) covers it and {battery}"
    if prefs.priority is Priority.COMFORT:
        return starts[0], "run it at the first hour outside quiet hours (priority: comfort)"
    best = min(starts, key=lambda k: (_window_score(now, prefs.priority, k, hours), k))
    what = "carbon intensity" if prefs.priority is Priority.CARBON else "price"
    when = "now" if best == 0 else f"in {best} h"
    return best, f"run it {when}: the lowest {what} of the next 24 hours outside quiet hours"


def recommend(home: Home, now: Situation) -> Decision:
    """The rules' advice for ``home`` in the situation ``now``."""
    source, source_why = _choose_source(home, now)
    start, window_why = _choose_window(home, now)
    prefs = home.preferences
    kwh = prefs.flexible_load_h * prefs.flexible_load_kw
    hour_ms = now.at_ms - now.at_ms % HOUR_MS
    expected = {"kwh": kwh, "cost_saved": 0.0, "co2_saved_g": 0.0}
    run_from = run_to = None
    if start is not None:
        run_from = now.at_ms if start == 0 else hour_ms + start * HOUR_MS
        run_to = hour_ms + (start + prefs.flexible_load_h) * HOUR_MS
        solar_now = start == 0 and now.solar_w - now.load_w >= prefs.flexible_load_kw * 1000
        window_price = (
            0.0 if solar_now else _window_score(now, Priority.COST, start, prefs.flexible_load_h)
        )
        window_carbon = (
            0.0 if solar_now else _window_score(now, Priority.CARBON, start, prefs.flexible_load_h)
        )
        expected["cost_saved"] = round(
            kwh * (_window_score(now, Priority.COST, 0, prefs.flexible_load_h) - window_price), 4
        )
        expected["co2_saved_g"] = round(
            kwh * (_window_score(now, Priority.CARBON, 0, prefs.flexible_load_h) - window_carbon), 1
        )
    explanation = (
        f"Use {source_why}. Flexible load ({prefs.flexible_load_kw:g} kW for "
        f"{prefs.flexible_load_h} h): {window_why}; expected saving against running it "
        f"now: {expected['cost_saved']:.2f} and {expected['co2_saved_g']:.0f} g CO2."
    )
    return Decision(
        home_id=home.home_id,
        decided_ms=now.at_ms,
        rule_version=RULE_VERSION,
        source=source,
        run_from_ms=run_from,
        run_to_ms=run_to,
        explanation=explanation,
        inputs={**now.as_inputs(), "priority": prefs.priority.value},
        expected=expected,
    )


def measure(decision: Decision, kwh_in_window: float, measured_ms: int) -> Outcome:
    """What following the advice saved, from the kWh the flexible load used in its
    window, priced with the hours the decision saw, against running it at once."""
    inputs = decision.inputs
    prices = [float(p) for p in inputs["prices"]]  # type: ignore[attr-defined]
    carbon = [float(c) for c in inputs["carbon_g_per_kwh"]]  # type: ignore[attr-defined]
    if decision.run_from_ms is None or decision.run_to_ms is None:
        return Outcome(measured_ms, 0.0, 0.0, 0.0, "no flexible load was advised")
    hour_ms = decision.decided_ms - decision.decided_ms % HOUR_MS
    start = (decision.run_from_ms - hour_ms) // HOUR_MS
    hours = max(1, -(-(decision.run_to_ms - decision.run_from_ms) // HOUR_MS))
    now_price, now_carbon = sum(prices[:hours]) / hours, sum(carbon[:hours]) / hours
    window_price = sum(prices[start : start + hours]) / hours
    window_carbon = sum(carbon[start : start + hours]) / hours
    cost = round(kwh_in_window * (now_price - window_price), 4)
    co2 = round(kwh_in_window * (now_carbon - window_carbon), 1)
    return Outcome(
        measured_ms=measured_ms,
        kwh=round(kwh_in_window, 4),
        cost_saved=cost,
        co2_saved_g=co2,
        explanation=(
            f"{kwh_in_window:.2f} kWh used in the advised window at {window_price:.3f}/kWh and "
            f"{window_carbon:.0f} g/kWh, against {now_price:.3f}/kWh and {now_carbon:.0f} g/kWh "
            f"when advised: {cost:.2f} and {co2:.0f} g CO2 saved"
        ),
    )
