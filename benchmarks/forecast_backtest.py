"""Forecast backtest: MAE and MASE of the forecast model against seasonal-naive.

Devices: clean households and office appliances from the labelled simulator
(``wattline.simulator.labelled``) and the fleet simulator's own AC meter
(``wattline.simulator.models.grid.AcMeter``, as ``wattline simulate`` runs it),
a reading a minute for eight weeks, folded into hourly kWh. Each of the last
two weeks is forecast hour by hour by the model that ``fit`` picks and fits on
everything before that week, as the API's models are (every lag is at least a
day old, so this equals daily 24-hour forecasts from a model refitted weekly).
MASE divides by the in-sample MAE of seasonal-naive (same hour last week);
"p10-p90 coverage" is the share of hours inside the forecast's interval (80 %
if it is calibrated). Nothing here was tuned on these two weeks: the features
and the blend were chosen on the two weeks before them.

    python benchmarks/forecast_backtest.py [--devices 4] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np

from wattline.intelligence.forecast import SEASONAL_NAIVE, WEEK_H, backtest_errors
from wattline.intelligence.hourly import HourlySeries, from_points
from wattline.simulator.labelled import DAY_MS, MINUTE_MS, Profile, Span, simulate
from wattline.simulator.models.grid import AcMeter

START_MS = 1_788_220_800_000  # 2026-09-01T00:00Z
DAYS = 56


def ac_meter(seed: int) -> HourlySeries:
    meter = AcMeter(random.Random(seed), base_load_w=600.0, peak_load_w=3500.0)
    points = []
    for minute in range(DAYS * 1440):
        ts_ms = START_MS + minute * MINUTE_MS
        reading = meter.step(datetime.fromtimestamp(ts_ms / 1000, UTC), 60.0)
        points.append((ts_ms, reading["power_w"]))
    return from_points(points, START_MS, START_MS + DAYS * DAY_MS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=4, help="of each kind")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    span = Span(START_MS, DAYS, DAYS)
    fleets: dict[str, list[HourlySeries]] = {
        "household (labelled simulator)": [],
        "office appliance (labelled simulator)": [],
        "AC meter (fleet simulator)": [],
    }
    for n in range(args.devices):
        for profile, name in (
            (Profile.HOUSEHOLD, "household (labelled simulator)"),
            (Profile.APPLIANCE, "office appliance (labelled simulator)"),
        ):
            device = simulate(f"{profile.value}-{n}", profile, None, span, args.seed)
            fleets[name].append(from_points(device.points, START_MS, START_MS + DAYS * DAY_MS))
        fleets["AC meter (fleet simulator)"].append(ac_meter(args.seed * 1000 + n))
    n_hours = DAYS * 24
    origins = [n_hours - 2 * WEEK_H, n_hours - WEEK_H]
    print(
        f"{args.devices} devices of each kind, {DAYS} days a reading a minute, hourly kWh; "
        f"the last 2 weeks forecast by models fitted before each week; seed {args.seed}\n"
    )
    print(
        "| devices | hours | MAE model (kWh) | MAE seasonal-naive (kWh) | MASE model "
        "| MASE seasonal-naive | error vs seasonal-naive | p10-p90 coverage "
        "| blend chosen | fit s/device |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    every: dict[str, list[np.ndarray]] = {"mase_b": [], "mase_n": [], "covered": []}
    for name, series_list in fleets.items():
        boosted, naive, mase_b, mase_n, covered, blend = [], [], [], [], [], []
        began = time.perf_counter()
        for series in series_list:
            errors = backtest_errors(series, ZoneInfo("UTC"), origins, WEEK_H)
            boosted.append(errors["model"])
            naive.append(errors[SEASONAL_NAIVE])
            covered.append(errors["covered"])
            blend.append(errors["blend"])
            scale = float(np.mean(errors["scale"]))
            mase_b.append(errors["model"] / scale)
            mase_n.append(errors[SEASONAL_NAIVE] / scale)
        fit_s = (time.perf_counter() - began) / len(series_list) / len(origins)
        b, s = np.concatenate(boosted), np.concatenate(naive)
        mb, mn = np.concatenate(mase_b), np.concatenate(mase_n)
        cov, chosen = np.concatenate(covered), np.concatenate(blend)
        for key, value in (("mase_b", mb), ("mase_n", mn), ("covered", cov)):
            every[key].append(value)
        print(
            f"| {name} | {len(b)} | {b.mean():.4f} | {s.mean():.4f} | {mb.mean():.2f} "
            f"| {mn.mean():.2f} | "
            f"{(b.mean() / s.mean() - 1) * 100:+.0f} % | {cov.mean() * 100:.0f} % "
            f"| {int(chosen.sum())} of {len(chosen)} | {fit_s:.1f} |"
        )
    mb, mn = np.concatenate(every["mase_b"]).mean(), np.concatenate(every["mase_n"]).mean()
    print(
        f"\nOverall MASE {mb:.2f} model against {mn:.2f} seasonal-naive: "
        f"{(1 - mb / mn) * 100:.0f} % lower error (target: at least 20 %); "
        f"p10-p90 coverage {np.concatenate(every['covered']).mean() * 100:.0f} % (target: 80 %)."
    )


if __name__ == "__main__":
    main()
