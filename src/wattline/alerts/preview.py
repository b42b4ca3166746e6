"""How often a rule would have fired: one device's stored readings replayed
through the rule's condition and the alert lifecycle. Pure.

The same ``conditions.py`` and ``lifecycle.py`` the evaluator runs decide;
only the clock differs. The evaluator checks it every ``tick_s`` seconds; a
replay checks it only when something can be due (an absence running out, a
pending duration ending, a quiet event alert clearing, a new local day for an
energy budget), on the same tick grid, so a week of quiet readings costs no
ticks at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from wattline.alerts import lifecycle
from wattline.alerts.conditions import Absence, Condition, EnergyBudget, RuleState
from wattline.alerts.lifecycle import Transition
from wattline.model.alerts import RuleKind

# An energy budget's alert clears at the first tick of a new local day: looked
# for every 15 minutes while it is active (every zone's midnight is on a quarter hour).
_DAY_CHECK_MS = 15 * 60_000
# Kinds a replay of readings can answer: the others read status reports or
# quarantined messages, which are not stored as readings.
REPLAYABLE = frozenset(RuleKind) - {RuleKind.OFFLINE, RuleKind.QUARANTINE_SPIKE}
# Kinds that read every reading, whatever its metrics (the time, the sequence number).
READS_ANY_READING = frozenset({RuleKind.ABSENCE, RuleKind.SEQ_GAP})

# (ts_ms, value of the rule's metric or None, seq or None), oldest first
Observation = tuple[int, float | None, int | None]


@dataclass(frozen=True, slots=True)
class Replay:
    # when each alert would have been raised, oldest first
    opened_ms: tuple[int, ...]
    # still open at the end of the window
    open_at_end: bool


def _on_grid(ts_ms: int, start_ms: int, tick_ms: int) -> int:
    """The first tick at or after ``ts_ms`` on the grid starting at ``start_ms``."""
    return start_ms + -(-(ts_ms - start_ms) // tick_ms) * tick_ms


def _due_ms(condition: Condition, state: RuleState, last_tick_ms: int) -> int | None:
    """The earliest time a tick could change the state; None when none can."""
    if isinstance(condition, Absence):
        if state.active or state.last_seen_ms is None:
            return None
        return state.last_seen_ms + condition.absent_ms
    if state.pending_since_ms is not None and not state.active:
        return state.pending_since_ms + condition.duration_ms
    if state.active and condition.clear_after_ms and state.last_event_ms is not None:
        return state.last_event_ms + condition.clear_after_ms
    if state.active and isinstance(condition, EnergyBudget):
        return last_tick_ms + _DAY_CHECK_MS
    return None


def replay(
    condition: Condition,
    observations: Iterable[Observation],
    *,
    start_ms: int,
    end_ms: int,
    tick_ms: int,
) -> Replay:
    """The alerts ``condition`` would have raised over [start_ms, end_ms) from
    ``observations`` (oldest first; those outside the window are skipped)."""
    if tick_ms <= 0 or end_ms < start_ms:
        raise ValueError("a replay needs tick_ms > 0 and start_ms <= end_ms")
    opened: list[int] = []
    # the first tick starts the clock (absence counts from the rule's start)
    state, transition = lifecycle.tick(condition, RuleState(), start_ms)
    if transition is Transition.RAISE:
        opened.append(start_ms)
    last_tick_ms = start_ms

    def run_clock(until_ms: int) -> None:
        nonlocal state, last_tick_ms
        while (due := _due_ms(condition, state, last_tick_ms)) is not None:
            at_ms = _on_grid(max(due, last_tick_ms + tick_ms), start_ms, tick_ms)
            if at_ms >= until_ms:
                return
            state, step = lifecycle.tick(condition, state, at_ms)
            last_tick_ms = at_ms
            if step is Transition.RAISE:
                opened.append(at_ms)

    for ts_ms, value, seq in observations:
        if ts_ms < start_ms or ts_ms >= end_ms:
            continue
        run_clock(ts_ms)
        outcome = condition.on_reading(state, ts_ms, value, seq)
        state, step = lifecycle.apply(condition, outcome, ts_ms)
        if step is Transition.RAISE:
            opened.append(ts_ms)
    run_clock(end_ms)
    return Replay(opened_ms=tuple(opened), open_at_end=state.active)
