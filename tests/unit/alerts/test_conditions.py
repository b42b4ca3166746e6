"""Rule semantics, pure: hysteresis, durations, absence across restarts, each kind."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattline.alerts import lifecycle
from wattline.alerts.conditions import Condition, RuleState, condition_of
from wattline.alerts.lifecycle import Transition
from wattline.model.alerts import Rule, RuleKind, ScopeKind, Severity
from wattline.model.messages import ConnectionState

T0 = 1_764_057_600_000


def rule(kind: RuleKind, params: Mapping[str, Any], metric: str | None = "voltage_v") -> Rule:
    return Rule(
        rule_id="r",
        tenant_id="t",
        name="n",
        kind=kind,
        severity=Severity.CRITICAL,
        scope=ScopeKind.TENANT,
        scope_value=None,
        metric=metric,
        params=params,
    )


def feed(
    condition: Condition, values: Iterable[tuple[int, float]], state: RuleState | None = None
) -> tuple[RuleState, list[tuple[int, Transition]]]:
    """Readings through the condition; the final state and every (ts, transition)."""
    state = state or RuleState()
    seen: list[tuple[int, Transition]] = []
    for ts, value in values:
        state, transition = lifecycle.apply(
            condition, condition.on_reading(state, ts, value, None), ts
        )
        if transition is not None:
            seen.append((ts, transition))
    return state, seen


LOW = condition_of(
    rule(RuleKind.THRESHOLD, {"op": "below", "limit": 10.0, "hysteresis": 2.0, "duration_s": 0})
)


@given(st.lists(st.floats(min_value=10.0, max_value=11.999, allow_nan=False), max_size=200))
def test_noise_inside_the_band_never_clears_an_active_alert(noise: list[float]) -> None:
    state, seen = feed(LOW, [(T0, 9.0)])
    assert seen == [(T0, Transition.RAISE)]
    _, seen = feed(LOW, [(T0 + 1000 * (i + 1), v) for i, v in enumerate(noise)], state)
    assert seen == []


@given(st.lists(st.floats(min_value=10.0, max_value=11.999, allow_nan=False), max_size=200))
def test_noise_inside_the_band_never_raises_a_clear_rule(noise: list[float]) -> None:
    _, seen = feed(LOW, [(T0 + 1000 * i, v) for i, v in enumerate(noise)])
    assert seen == []


@given(st.lists(st.floats(min_value=0, max_value=20, allow_nan=False), max_size=300))
def test_transitions_alternate_raise_and_clear(values: list[float]) -> None:
    _, seen = feed(LOW, [(T0 + 1000 * i, v) for i, v in enumerate(values)])
    kinds = [t for _, t in seen]
    assert kinds == [Transition.RAISE, Transition.CLEAR] * (len(kinds) // 2) + (
        [Transition.RAISE] if len(kinds) % 2 else []
    )


def test_clears_only_past_the_hysteresis() -> None:
    _, seen = feed(LOW, [(T0, 9.5), (T0 + 1, 11.9), (T0 + 2, 12.0)])
    assert seen == [(T0, Transition.RAISE), (T0 + 2, Transition.CLEAR)]


@given(
    duration_s=st.integers(min_value=1, max_value=600),
    steps_ms=st.lists(st.integers(min_value=1, max_value=120_000), min_size=1, max_size=60),
)
def test_raised_once_the_duration_has_passed_and_only_once(
    duration_s: int, steps_ms: list[int]
) -> None:
    condition = condition_of(
        rule(RuleKind.THRESHOLD, {"op": "above", "limit": 5.0, "duration_s": duration_s})
    )
    times = [T0]
    for step in steps_ms:
        times.append(times[-1] + step)
    _, seen = feed(condition, [(ts, 6.0) for ts in times])
    expected = [ts for ts in times if ts - T0 >= duration_s * 1000][:1]
    assert seen == [(ts, Transition.RAISE) for ts in expected]


def test_a_pending_duration_runs_out_on_the_clock() -> None:
    condition = condition_of(
        rule(RuleKind.THRESHOLD, {"op": "below", "limit": 10.0, "duration_s": 60})
    )
    state, seen = feed(condition, [(T0, 5.0)])
    assert seen == []
    state, transition = lifecycle.tick(condition, state, T0 + 59_999)
    assert transition is None
    _, transition = lifecycle.tick(condition, state, T0 + 60_000)
    assert transition is Transition.RAISE


def test_a_recovery_resets_the_pending_duration() -> None:
    condition = condition_of(
        rule(RuleKind.THRESHOLD, {"op": "below", "limit": 10.0, "duration_s": 60})
    )
    _, seen = feed(condition, [(T0, 5.0), (T0 + 50_000, 11.0), (T0 + 70_000, 5.0)])
    assert seen == []


def restarted(state: RuleState) -> RuleState:
    """The state as a restart finds it: through its JSON, as the store keeps it."""
    return RuleState.from_json(orjson.loads(orjson.dumps(state.to_json())))


@given(
    quiet_min=st.integers(min_value=1, max_value=120),
    restart_after_ms=st.integers(min_value=0, max_value=10_000_000),
)
def test_absence_across_a_restart(quiet_min: int, restart_after_ms: int) -> None:
    condition = condition_of(rule(RuleKind.ABSENCE, {"minutes": quiet_min}, metric=None))
    state, _ = condition.on_reading(RuleState(), T0, None, None)
    restart_ms = T0 + restart_after_ms
    state, transition = lifecycle.tick(condition, state, restart_ms)
    expected_before = restart_after_ms >= quiet_min * 60_000
    assert (transition is Transition.RAISE) == expected_before
    state = restarted(state)
    # the clock did not restart: the alert is raised (once) at T0 + quiet, not later
    due = T0 + quiet_min * 60_000
    state, transition = lifecycle.tick(condition, state, max(due, restart_ms + 1))
    assert (transition is Transition.RAISE) == (not expected_before)
    _, transition = lifecycle.tick(condition, state, max(due, restart_ms + 1) + 60_000)
    assert transition is None


def test_a_pending_duration_survives_a_restart() -> None:
    condition = condition_of(
        rule(RuleKind.THRESHOLD, {"op": "below", "limit": 10.0, "duration_s": 60})
    )
    state, _ = feed(condition, [(T0, 5.0)])
    _, seen = feed(condition, [(T0 + 60_000, 5.0)], restarted(state))
    assert seen == [(T0 + 60_000, Transition.RAISE)]


def test_an_active_alert_is_not_raised_again_after_a_restart() -> None:
    state, seen = feed(LOW, [(T0, 5.0)])
    assert seen == [(T0, Transition.RAISE)]
    _, seen = feed(LOW, [(T0 + 1000, 4.0)], restarted(state))
    assert seen == []


@pytest.mark.parametrize(
    ("params", "values", "expected"),
    [
        ({"low": 200, "high": 250}, [230, 199, 230], ["raise", "clear"]),
        ({"low": 200, "high": 250, "hysteresis": 5}, [230, 251, 246, 244], ["raise", "clear"]),
        ({"low": 200, "high": 250}, [230, 240, 249], []),
    ],
)
def test_range(params: dict[str, float], values: list[float], expected: list[str]) -> None:
    condition = condition_of(rule(RuleKind.RANGE, params))
    _, seen = feed(condition, [(T0 + i * 1000, v) for i, v in enumerate(values)])
    assert [t.value for _, t in seen] == expected


def test_rate_of_change_per_minute() -> None:
    condition = condition_of(rule(RuleKind.RATE, {"max_per_min": 10}))
    # +5 in 60 s is fine; +30 in 60 s is too fast; +1 in 60 s is calm again
    values = [(T0, 100.0), (T0 + 60_000, 105.0), (T0 + 120_000, 135.0), (T0 + 180_000, 136.0)]
    _, seen = feed(condition, values)
    assert seen == [(T0 + 120_000, Transition.RAISE), (T0 + 180_000, Transition.CLEAR)]


def test_stuck_value() -> None:
    condition = condition_of(rule(RuleKind.STUCK, {"minutes": 5, "tolerance": 0.01}))
    values = [(T0 + i * 60_000, 42.0) for i in range(7)] + [(T0 + 7 * 60_000, 43.0)]
    _, seen = feed(condition, values)
    assert seen == [(T0 + 5 * 60_000, Transition.RAISE), (T0 + 7 * 60_000, Transition.CLEAR)]


def test_offline_by_status_and_back() -> None:
    condition = condition_of(rule(RuleKind.OFFLINE, {}, metric=None))
    state, signal = condition.on_status(RuleState(), ConnectionState.OFFLINE, T0)
    state, transition = lifecycle.apply(condition, (state, signal), T0)
    assert transition is Transition.RAISE
    outcome = condition.on_status(state, ConnectionState.ONLINE, T0 + 1)
    assert lifecycle.apply(condition, outcome, T0 + 1)[1] is Transition.CLEAR


def test_counter_reset_is_an_event_that_clears_after_a_quiet_spell() -> None:
    condition = condition_of(
        rule(RuleKind.COUNTER_RESET, {"clear_after_s": 600}, metric="energy_wh")
    )
    state, seen = feed(condition, [(T0, 1000.0), (T0 + 1000, 1001.0), (T0 + 2000, 3.0)])
    assert seen == [(T0 + 2000, Transition.RAISE)]
    state, seen = feed(condition, [(T0 + 3000, 4.0), (T0 + 4000, 1.0)], state)
    assert seen == [(T0 + 4000, Transition.REPEAT)]
    assert lifecycle.tick(condition, state, T0 + 4000 + 599_999)[1] is None
    assert lifecycle.tick(condition, state, T0 + 4000 + 600_000)[1] is Transition.CLEAR


def test_implausible_energy_jump() -> None:
    condition = condition_of(rule(RuleKind.ENERGY_JUMP, {"max_power_w": 10_000}, "energy_wh"))
    # 100 Wh in 60 s is 6 kW: plausible; 1 kWh in 60 s is 60 kW: not
    values = [(T0, 0.0), (T0 + 60_000, 100.0), (T0 + 120_000, 1100.0)]
    _, seen = feed(condition, values)
    assert seen == [(T0 + 120_000, Transition.RAISE)]


def test_sequence_gap() -> None:
    condition = condition_of(rule(RuleKind.SEQ_GAP, {"min_missing": 2}, metric=None))
    state = RuleState()
    transitions = []
    for seq in (1, 2, 4, 5, 9, 3):  # one lost (below min), three lost, then a late one
        state, transition = lifecycle.apply(
            condition, condition.on_reading(state, T0 + seq, None, seq), T0 + seq
        )
        transitions.append(transition)
    assert transitions == [None, None, None, None, Transition.RAISE, None]
    assert "3 readings lost" in state.detail


def test_quarantine_spike_in_a_window() -> None:
    condition = condition_of(
        rule(RuleKind.QUARANTINE_SPIKE, {"count": 3, "window_s": 60}, metric=None)
    )
    state, transition = RuleState(), None
    for ts in (T0, T0 + 10_000, T0 + 20_000):
        state, transition = lifecycle.apply(condition, condition.on_quarantine(state, ts), ts)
    assert transition is Transition.RAISE
    assert lifecycle.tick(condition, state, T0 + 75_000)[1] is Transition.CLEAR


def test_energy_budget_per_local_day() -> None:
    condition = condition_of(
        rule(
            RuleKind.ENERGY_BUDGET,
            {"limit_kwh": 1.0, "timezone": "Europe/Berlin"},
            metric="energy_wh",
        )
    )
    hour = 3_600_000
    # T0 is 2025-11-25 08:00 UTC = 09:00 in Berlin; 600 Wh per hour
    values = [(T0 + i * hour, 5000.0 + 600.0 * i) for i in range(3)]
    state, seen = feed(condition, values)
    assert seen == [(T0 + 2 * hour, Transition.RAISE)]  # 1.2 kWh by 11:00
    # a counter reset costs nothing; the next local day starts from zero
    state, seen = feed(condition, [(T0 + 3 * hour, 10.0)], state)
    assert seen == []
    next_day = T0 + 15 * hour  # 00:00 Berlin
    _, seen = feed(condition, [(next_day + 1000, 20.0)], state)
    assert seen == [(next_day + 1000, Transition.CLEAR)]


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        (RuleKind.THRESHOLD, {"op": "sideways", "limit": 1}, "params.op"),
        (RuleKind.THRESHOLD, {"op": "below"}, "params.limit"),
        (RuleKind.RANGE, {"low": 1, "high": float("inf")}, "params.high"),
    ],
)
def test_malformed_rules_name_the_parameter(
    kind: RuleKind, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        condition_of(rule(kind, params))
