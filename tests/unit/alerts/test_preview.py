"""A rule's replay over stored readings: the evaluator's conditions and lifecycle,
the clock only where something can be due."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattline.alerts import lifecycle
from wattline.alerts.conditions import RuleState, condition_of
from wattline.alerts.lifecycle import Transition
from wattline.alerts.preview import replay
from wattline.model.alerts import Rule, RuleKind, ScopeKind, Severity

MIN = 60_000
TICK = 5_000
START = 1_764_057_600_000
END = START + 7 * 1440 * MIN


def rule(kind: RuleKind, metric: str | None = "power_w", **params: object) -> Rule:
    return Rule(
        "r", "default", "preview", kind, Severity.WARNING, ScopeKind.TENANT, None, metric, params
    )


def at(minute: int) -> int:
    return START + minute * MIN


def test_threshold_with_hysteresis_opens_once_per_excursion() -> None:
    condition = condition_of(rule(RuleKind.THRESHOLD, op="above", limit=100, hysteresis=10))
    values = [50, 120, 95, 105, 80, 130, 40]  # 95 and 105 stay inside the band: one alert
    result = replay(
        condition,
        [(at(i), v, None) for i, v in enumerate(values)],
        start_ms=START,
        end_ms=END,
        tick_ms=TICK,
    )
    assert result.opened_ms == (at(1), at(5))
    assert not result.open_at_end


def test_a_minimum_duration_raises_on_the_tick_it_runs_out() -> None:
    condition = condition_of(rule(RuleKind.THRESHOLD, op="above", limit=100, duration_s=120))
    # above from minute 10, read only once: the clock raises it two minutes later
    result = replay(condition, [(at(10), 150.0, None)], start_ms=START, end_ms=END, tick_ms=TICK)
    assert result.opened_ms == (at(12),)
    assert result.open_at_end
    # back below before the duration: nothing
    short = replay(
        condition,
        [(at(10), 150.0, None), (at(11), 50.0, None)],
        start_ms=START,
        end_ms=END,
        tick_ms=TICK,
    )
    assert short.opened_ms == ()


def test_absence_counts_from_the_start_and_from_each_reading() -> None:
    condition = condition_of(rule(RuleKind.ABSENCE, metric=None, minutes=30))
    readings = [(at(m), None, None) for m in (10, 20, 200)]
    result = replay(condition, readings, start_ms=START, end_ms=at(300), tick_ms=TICK)
    # quiet from minute 20 for 30 minutes; then from 200 until the end (minute 300)
    assert result.opened_ms == (at(50), at(230))
    assert result.open_at_end


def test_event_alerts_clear_after_a_quiet_spell_and_count_again() -> None:
    condition = condition_of(rule(RuleKind.SEQ_GAP, metric=None, clear_after_s=600))
    seqs = [(0, 1), (1, 2), (2, 5), (3, 9), (30, 10), (31, 20)]
    result = replay(
        condition,
        [(at(m), None, seq) for m, seq in seqs],
        start_ms=START,
        end_ms=END,
        tick_ms=TICK,
    )
    # the gap at minute 3 repeats the open alert; it clears at 13; minute 31 opens another
    assert result.opened_ms == (at(2), at(31))
    assert not result.open_at_end


def test_readings_outside_the_window_are_skipped() -> None:
    condition = condition_of(rule(RuleKind.THRESHOLD, op="above", limit=1))
    readings = [(START - MIN, 5.0, None), (END, 5.0, None)]
    assert replay(condition, readings, start_ms=START, end_ms=END, tick_ms=TICK).opened_ms == ()


def test_a_bad_clock_is_refused() -> None:
    condition = condition_of(rule(RuleKind.THRESHOLD, op="above", limit=1))
    with pytest.raises(ValueError, match="tick_ms"):
        replay(condition, [], start_ms=START, end_ms=END, tick_ms=0)
    with pytest.raises(ValueError, match="tick_ms"):
        replay(condition, [], start_ms=END, end_ms=START, tick_ms=TICK)


def brute_force(condition: object, readings: list[tuple[int, float]], end_ms: int) -> list[int]:
    """The evaluator's way: a tick every TICK, and every reading, in time order."""
    opened: list[int] = []
    state, _ = lifecycle.tick(condition, RuleState(), START)  # type: ignore[arg-type]
    events = sorted(
        [(t, 1, None) for t in range(START + TICK, end_ms, TICK)]
        + [(ts, 0, value) for ts, value in readings]
    )
    for ts, is_tick, value in events:
        if is_tick:
            state, step = lifecycle.tick(condition, state, ts)  # type: ignore[arg-type]
        else:
            outcome = condition.on_reading(state, ts, value, None)  # type: ignore[attr-defined]
            state, step = lifecycle.apply(condition, outcome, ts)  # type: ignore[arg-type]
        if step is Transition.RAISE:
            opened.append(ts)
    return opened


@given(
    values=st.lists(st.floats(min_value=0, max_value=200, allow_nan=False), max_size=60),
    gaps_s=st.lists(st.integers(min_value=1, max_value=600), min_size=60, max_size=60),
    duration_s=st.sampled_from([0, 5, 60, 300]),
    hysteresis=st.sampled_from([0.0, 10.0]),
)
def test_skipping_idle_ticks_opens_what_ticking_every_5_s_opens(
    values: list[float], gaps_s: list[int], duration_s: int, hysteresis: float
) -> None:
    condition = condition_of(
        rule(
            RuleKind.THRESHOLD, op="above", limit=100, hysteresis=hysteresis, duration_s=duration_s
        )
    )
    stamps, ts = [], START
    for gap in gaps_s[: len(values)]:
        ts += gap * 1000 + 1  # off the tick grid, as readings are
        stamps.append(ts)
    readings = list(zip(stamps, values, strict=True))
    end_ms = ts + 10 * MIN
    result = replay(
        condition, [(t, v, None) for t, v in readings], start_ms=START, end_ms=end_ms, tick_ms=TICK
    )
    assert list(result.opened_ms) == brute_force(condition, readings, end_ms)
