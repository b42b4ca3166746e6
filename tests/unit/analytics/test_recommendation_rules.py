"""The recommendation rules, table-driven: a situation in, the advice out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from wattline.analytics.recommendations import (
    RULE_VERSION,
    Situation,
    StaticSignals,
    measure,
    recommend,
    situation_signals,
)
from wattline.model.decisions import Home, Preferences, Priority, SourceKind

T0 = 1_788_264_000_000  # 2026-09-01T12:00Z
H = 3_600_000
# cheap at night (00-07), dear in the evening peak (16-19); carbon lowest at midday
SIGNALS = StaticSignals(
    prices=[0.10] * 7 + [0.25] * 9 + [0.40] * 3 + [0.25] * 5,
    carbon=[180.0] * 10 + [90.0] * 5 + [300.0] * 9,
)


def situation(solar_w: float, load_w: float, soc: float | None, at_ms: int = T0) -> Situation:
    home = Home("h")
    prices, carbon = situation_signals(SIGNALS, "default", home, at_ms)
    hours = [(at_ms // H + k) % 24 for k in range(24)]
    return Situation(at_ms, solar_w, load_w, soc, prices, carbon, hours)


def home(**prefs: object) -> Home:
    return Home("h", preferences=Preferences(**prefs))  # type: ignore[arg-type]


# (case, preferences, solar W, load W, battery %, hour offset) -> (source, flexible start in h)
CASES = [
    (
        "cheap hour + sunshine + full battery: run now on solar",
        {},
        3000,
        500,
        100.0,
        0,
        SourceKind.SOLAR,
        0,
    ),
    (
        "sunshine, battery charging: solar now, load to the cheap night",
        {},
        3000,
        500,
        40.0,
        0,
        SourceKind.SOLAR,
        12,
    ),
    ("sunshine without a battery: run now", {}, 3000, 500, None, 0, SourceKind.SOLAR, 0),
    ("evening peak, battery charged: the battery", {}, 0, 800, 80.0, 5, SourceKind.BATTERY, 7),
    ("evening peak, battery at reserve: the grid", {}, 0, 800, 20.0, 5, SourceKind.GRID, 7),
    (
        "cheap night, battery charged: the grid (cheap), run now",
        {},
        0,
        800,
        80.0,
        13,
        SourceKind.GRID,
        0,
    ),
    (
        "carbon priority at 09:00: wait for the 10:00 lull",
        {"priority": Priority.CARBON},
        0,
        800,
        None,
        21,
        SourceKind.GRID,
        1,
    ),
    (
        "carbon priority at the dirty evening: battery",
        {"priority": Priority.CARBON},
        0,
        800,
        60.0,
        6,
        SourceKind.BATTERY,
        16,
    ),
    ("comfort: run now", {"priority": Priority.COMFORT}, 0, 800, None, 5, SourceKind.GRID, 0),
    (
        "quiet hours push the cheap night to 06:00",
        {"quiet_from_h": 22, "quiet_to_h": 6},
        0,
        800,
        None,
        0,
        SourceKind.GRID,
        18,
    ),
]


@pytest.mark.parametrize(
    ("prefs", "solar_w", "load_w", "soc", "offset_h", "source", "start_h"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_advice(  # noqa: PLR0917 - one table row
    prefs, solar_w, load_w, soc, offset_h, source, start_h
) -> None:
    at_ms = T0 + offset_h * H
    decision = recommend(home(**prefs), situation(solar_w, load_w, soc, at_ms))
    assert decision.source is source
    assert decision.run_from_ms == (at_ms if start_h == 0 else at_ms + start_h * H)
    assert decision.run_to_ms == at_ms + (start_h + 2) * H
    assert decision.rule_version == RULE_VERSION
    assert decision.inputs["solar_w"] == solar_w
    assert decision.explanation.startswith("Use ")


def test_the_expected_saving_is_against_running_now() -> None:
    # 19:00: the peak hour (0.40) then 0.25; the night at 0.10 from 00:00 (in 5 h)
    decision = recommend(home(), situation(0, 800, None, T0 + 7 * H))
    assert decision.run_from_ms == T0 + 12 * H
    # 2 kWh x ((0.25 + 0.25) / 2 - 0.10)
    assert decision.expected["cost_saved"] == pytest.approx(0.30)
    outcome = measure(decision, 1.5, T0 + 20 * H)
    assert outcome.kwh == 1.5
    assert outcome.cost_saved == pytest.approx(1.5 * 0.15)
    assert outcome.co2_saved_g == pytest.approx(1.5 * (300 - 180))
    assert "1.50 kWh" in outcome.explanation


def test_the_worked_example_of_the_docs() -> None:
    # docs/energy.md: 18:00, the peak hour (0.40) then 0.25 until midnight, 0.10 after
    decision = recommend(home(), situation(0, 800, None, T0 + 6 * H))
    assert decision.source is SourceKind.GRID
    assert decision.run_from_ms == T0 + 12 * H
    assert decision.expected["cost_saved"] == pytest.approx(2 * (0.325 - 0.10))
    assert measure(decision, 1.5, T0 + 14 * H).cost_saved == pytest.approx(1.5 * 0.225)


def test_every_hour_quiet_means_no_window() -> None:
    decision = recommend(home(quiet_from_h=0, quiet_to_h=23), situation(0, 500, None))
    assert (decision.run_from_ms, decision.run_to_ms) == (None, None)
    assert "quiet hours" in decision.explanation
    assert measure(decision, 0.0, T0).cost_saved == 0.0


def test_static_signals_need_a_whole_day() -> None:
    with pytest.raises(ValueError, match="24 prices"):
        replace(SIGNALS, prices=[0.1] * 23)
