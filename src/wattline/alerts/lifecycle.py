"""From a condition's signals to raised and cleared alerts. Pure.

- BREACH starts a pending spell; the alert is raised once the condition has held
  for the rule's duration (at once for a duration of 0), and raised only once;
- OK ends a pending spell, and clears an active alert (the condition's hysteresis
  has already decided that the value is far enough back);
- EVENT raises at once, or counts one more occurrence of the open alert; such an
  alert clears after ``clear_after_ms`` without a new event;
- the clock (``tick``) raises a pending spell whose duration ran out with no
  newer observation, and clears quiet event alerts.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum

from wattline.alerts.conditions import Condition, Outcome, RuleState, Signal


class Transition(StrEnum):
    RAISE = "raise"
    REPEAT = "repeat"  # one more occurrence of the open alert
    CLEAR = "clear"


Step = tuple[RuleState, Transition | None]


def apply(condition: Condition, outcome: Outcome, now_ms: int) -> Step:  # noqa: PLR0911 - a return per rule above
    state, signal = outcome
    if signal is None:
        return state, None
    if signal is Signal.EVENT:
        state = replace(state, last_event_ms=now_ms, pending_since_ms=None)
        if state.active:
            return state, Transition.REPEAT
        return replace(state, active=True), Transition.RAISE
    if signal is Signal.OK:
        if not state.active and state.pending_since_ms is None:
            return state, None
        state = replace(state, pending_since_ms=None)
        if state.active and not condition.clear_after_ms:
            return replace(state, active=False), Transition.CLEAR
        return state, None
    if state.active:
        return state, None
    since = state.pending_since_ms if state.pending_since_ms is not None else now_ms
    if now_ms - since >= condition.duration_ms:
        return replace(state, active=True, pending_since_ms=None), Transition.RAISE
    return replace(state, pending_since_ms=since), None


def tick(condition: Condition, state: RuleState, now_ms: int) -> Step:
    state, signal = condition.on_tick(state, now_ms)
    if signal is None and state.pending_since_ms is not None and not state.active:
        signal = Signal.BREACH  # still pending: has its duration run out meanwhile?
    if (
        signal is None
        and condition.clear_after_ms
        and state.active
        and state.last_event_ms is not None
        and now_ms - state.last_event_ms >= condition.clear_after_ms
    ):
        return replace(state, active=False), Transition.CLEAR
    return apply(condition, (state, signal), now_ms)
