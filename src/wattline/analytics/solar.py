"""PV systems, performance ratio and underperformance. Pure.

- **Performance ratio** (IEC 61724-1): final yield over reference yield,
  ``PR = (E_ac / P_stc) / (H_poa / G_stc)``: the AC energy per kWp divided by
  the hours of 1000 W/m² sunshine the array's plane received. Temperature,
  soiling, wiring and inverter losses all lower it; a healthy system reads
  0.75-0.9. It needs the plane-of-array irradiation, which ``grid/solar.py``
  computes with pvlib from clear sky or measured weather.
- **Underperformance**: actual energy below expected (pvlib's model of the
  system) by more than ``margin`` on at least ``min_days`` consecutive days.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

G_STC_W_M2 = 1000.0  # standard test conditions: the irradiance a module's kWp is rated at


@dataclass(frozen=True, slots=True)
class PvSystem:
    latitude_deg: float
    longitude_deg: float
    tilt_deg: float  # 0: horizontal
    azimuth_deg: float  # the direction the modules face: 180 south
    kwp: float  # DC rating at STC
    # DC losses before the inverter, percent: soiling, shading, mismatch, wiring,
    # connections, light-induced degradation, nameplate, availability. 14 % is
    # PVWatts' default total.
    losses_pct: float = 14.0
    inverter_efficiency: float = 0.96
    # module power change per degree C of cell temperature (crystalline silicon)
    gamma_pdc_per_c: float = -0.0037


@dataclass(frozen=True, slots=True)
class DayYield:
    day: date
    actual_kwh: float
    expected_kwh: float


@dataclass(frozen=True, slots=True)
class Underperformance:
    first_day: date
    last_day: date
    mean_ratio: float  # actual / expected over the run
    reason: str


def performance_ratio(actual_kwh: float, kwp: float, poa_kwh_per_m2: float) -> float | None:
    """IEC 61724 PR; None without sunshine (a night, a polar winter day)."""
    if kwp <= 0 or poa_kwh_per_m2 <= 0:
        return None
    final_yield_h = actual_kwh / kwp
    reference_yield_h = poa_kwh_per_m2 * 1000 / G_STC_W_M2
    return final_yield_h / reference_yield_h


def underperformance(
    days: Sequence[DayYield], margin: float, min_days: int
) -> list[Underperformance]:
    """Runs of at least ``min_days`` consecutive days below expected x (1 - margin)."""
    found: list[Underperformance] = []
    run: list[DayYield] = []
    for day in days:
        low = _is_low(day, margin)
        if low and (not run or (day.day - run[-1].day).days == 1):
            run.append(day)
            continue
        if len(run) >= min_days:
            found.append(_finding(run, margin))
        run = [day] if low else []
    if len(run) >= min_days:
        found.append(_finding(run, margin))
    return found


def _is_low(day: DayYield, margin: float) -> bool:
    return day.expected_kwh > 0 and day.actual_kwh < day.expected_kwh * (1 - margin)


def _finding(run: list[DayYield], margin: float) -> Underperformance:
    actual = sum(d.actual_kwh for d in run)
    expected = sum(d.expected_kwh for d in run)
    ratio = actual / expected
    return Underperformance(
        run[0].day,
        run[-1].day,
        ratio,
        f"produced {actual:.1f} kWh against {expected:.1f} kWh expected over {len(run)} days"
        f" ({ratio:.0%}), below the {1 - margin:.0%} threshold every day",
    )
