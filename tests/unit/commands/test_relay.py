"""Relay safety: minimum on/off times and switches per hour."""

# ruff: noqa: FBT003 - Switch(at_ms, on) reads as a table row

from __future__ import annotations

import pytest

from wattline.commands.relay import HOUR_MS, RelayPolicy, Switch, refusal, target_of

POLICY = RelayPolicy(min_on_s=10, min_off_s=20, max_switches_per_hour=3)
T = 10_000_000


@pytest.mark.parametrize(
    ("target", "recent", "now", "refused"),
    [
        (True, [], T, None),
        (False, [Switch(T, True)], T + 9_999, "min_on_s"),
        (False, [Switch(T, True)], T + 10_000, None),
        (True, [Switch(T, False)], T + 19_999, "min_off_s"),
        (True, [Switch(T, False)], T + 20_000, None),
        (True, [Switch(T, True)], T + 1, None),  # a repeat switches nothing
        (None, [Switch(T, None)], T + 50, "min_on_s"),  # toggles of unknown outcome
        (
            True,
            [Switch(T - HOUR_MS + 1, True), Switch(T - 60_000, False), Switch(T - 30_000, True)],
            T,
            "max_switches_per_hour",
        ),
        (
            False,
            [Switch(T - HOUR_MS, True), Switch(T - 60_000, False), Switch(T - 30_000, True)],
            T,
            None,
        ),
    ],
)
def test_refusals(target: bool | None, recent: list[Switch], now: int, refused: str | None) -> None:
    reason = refusal(POLICY, target, recent, now)
    assert (reason is None) if refused is None else (refused in (reason or ""))


def test_toggle_target_follows_the_last_state() -> None:
    assert target_of("relay_toggle", True) is False
    assert target_of("relay_toggle", None) is None
    assert target_of("relay_on", False) is True


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="relay limits"):
        RelayPolicy(max_switches_per_hour=0)
