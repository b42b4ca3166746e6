"""Relay safety: a relay may not chatter. Pure.

Before a relay command is queued, the device's recent switches (its relay
commands not refused or withdrawn) are checked against a minimum time on, a
minimum time off and a maximum number of switches per hour. Compressors, pumps
and contactors are damaged by rapid cycling, and a burst of clicks in a UI
must not become a burst of clicks in a plug.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

RELAY_ON = "relay_on"
RELAY_OFF = "relay_off"
RELAY_TOGGLE = "relay_toggle"
RELAY_COMMANDS = (RELAY_ON, RELAY_OFF, RELAY_TOGGLE)
HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class RelayPolicy:
    # Ten seconds protects a compressor's restart and still feels immediate to a person.
    min_on_s: float = 10.0
    min_off_s: float = 10.0
    # Sixty an hour: a relay rated for 100k operations lasts years at this cap.
    max_switches_per_hour: int = 60

    def __post_init__(self) -> None:
        if self.min_on_s < 0 or self.min_off_s < 0 or self.max_switches_per_hour < 1:
            raise ValueError("relay limits must be non-negative, with at least one switch an hour")


@dataclass(frozen=True, slots=True)
class Switch:
    at_ms: int
    on: bool | None  # None: a toggle whose outcome was not known


def target_of(name: str, last: bool | None) -> bool | None:
    """The relay state a command asks for; a toggle inverts the last known one."""
    if name == RELAY_ON:
        return True
    if name == RELAY_OFF:
        return False
    return None if last is None else not last


def refusal(
    policy: RelayPolicy, target_on: bool | None, recent: Sequence[Switch], now_ms: int
) -> str | None:
    """Why switching to ``target_on`` now would break the policy; None when it may go.

    ``recent``: the device's switches of the last hour, oldest first.
    """
    in_hour = [s for s in recent if s.at_ms > now_ms - HOUR_MS]
    if len(in_hour) >= policy.max_switches_per_hour:
        wait_s = (in_hour[0].at_ms + HOUR_MS - now_ms) / 1000
        return (
            f"the relay switched {len(in_hour)} times in the last hour, the most allowed"
            f" (max_switches_per_hour={policy.max_switches_per_hour}); retry in {wait_s:.0f} s"
        )
    if not recent:
        return None
    last = recent[-1]
    if target_on is not None and last.on is not None and target_on == last.on:
        return None  # already asked for: a repeat does not switch anything
    held_s = (now_ms - last.at_ms) / 1000
    minimum_s = policy.min_on_s if last.on is not False else policy.min_off_s
    if held_s < minimum_s:
        state = {True: "on", False: "off", None: "switched"}[last.on]
        which = "min_on_s" if last.on is not False else "min_off_s"
        return (
            f"the relay was {state} {held_s:.1f} s ago; it must stay so for"
            f" {minimum_s:g} s ({which}); retry in {minimum_s - held_s:.1f} s"
        )
    return None
