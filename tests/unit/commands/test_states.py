"""The command state machine: every allowed step, every refused one, retries and acks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattline.commands.states import (
    ALLOWED,
    FINAL,
    MAX_RETRY_MS,
    Command,
    CommandState,
    IllegalTransitionError,
    advance,
    after_ack,
    is_due,
    retry_delay_ms,
)
from wattline.model.messages import CommandResult

S = CommandState


def command(state: CommandState = S.QUEUED, attempts: int = 0) -> Command:
    return Command("c-1", "t", "d", "ping", {}, "user:u", 1_000, 60_000, state, 1_000, attempts)


@pytest.mark.parametrize(
    ("start", "to"), [(a, b) for a in CommandState for b in CommandState if b in ALLOWED[a]]
)
def test_allowed_steps_are_kept_with_their_time(start: CommandState, to: CommandState) -> None:
    after, step = advance(command(start), to, 5_000, "why")
    assert (after.state, after.state_ms) == (to, 5_000)
    assert (step.from_state, step.to_state, step.at_ms, step.detail) == (start, to, 5_000, "why")


@pytest.mark.parametrize(
    ("start", "to"), [(a, b) for a in CommandState for b in CommandState if b not in ALLOWED[a]]
)
def test_other_steps_are_refused(start: CommandState, to: CommandState) -> None:
    with pytest.raises(IllegalTransitionError, match=f"{start.value} command cannot"):
        advance(command(start), to, 5_000)


def test_final_states_go_nowhere() -> None:
    assert all(not ALLOWED[state] for state in FINAL)


def test_each_send_counts_an_attempt_and_backs_off() -> None:
    sent, _ = advance(command(), S.SENT, 10_000)
    again, _ = advance(sent, S.SENT, 20_000)
    assert (sent.attempts, sent.next_attempt_ms) == (1, 12_000)
    assert (again.attempts, again.next_attempt_ms) == (2, 24_000)


@given(st.integers(min_value=1, max_value=10_000))
def test_backoff_grows_and_is_capped(attempts: int) -> None:
    delay = retry_delay_ms(attempts)
    assert 0 < delay <= MAX_RETRY_MS
    assert retry_delay_ms(attempts + 1) >= delay


@pytest.mark.parametrize(
    ("state", "result", "expected"),
    [
        (S.SENT, CommandResult.ACCEPTED, S.DELIVERED),
        (S.SENT, CommandResult.DONE, S.SUCCEEDED),
        (S.DELIVERED, CommandResult.DONE, S.SUCCEEDED),
        (S.SENT, CommandResult.REJECTED, S.REJECTED),
        (S.DELIVERED, CommandResult.FAILED, S.FAILED),
        (S.SUCCEEDED, CommandResult.REJECTED, None),  # a replay after the fact
        (S.DELIVERED, CommandResult.ACCEPTED, None),  # a repeated ack
        (S.QUEUED, CommandResult.DONE, None),  # an ack for what was never sent
    ],
)
def test_acks_move_a_command_once(
    state: CommandState, result: CommandResult, expected: CommandState | None
) -> None:
    assert after_ack(command(state), result) is expected


def test_due_only_when_pending_unexpired_and_its_time() -> None:
    assert is_due(command(), 2_000)
    assert not is_due(command(), 60_000)  # expired
    assert not is_due(command(S.DELIVERED), 2_000)
