"""A command's life: ``queued -> sent -> delivered -> succeeded | failed | rejected``,
or ``expired`` / ``cancelled`` on the way. Pure: each step is checked and returns
the command as it is after it, with the transition to keep in its history."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from wattline.model.messages import CommandResult


class CommandState(StrEnum):
    QUEUED = "queued"  # stored, not yet published (the device may be offline)
    SENT = "sent"  # published to the broker; no word from the device yet
    DELIVERED = "delivered"  # the device verified it and started ("accepted")
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # executed and did not succeed
    REJECTED = "rejected"  # the device refused it (signature, expiry, replay, unknown action)
    EXPIRED = "expired"  # its expires_at passed before the device finished it
    CANCELLED = "cancelled"  # by a user before the device finished it

    @property
    def final(self) -> bool:
        return self in FINAL


FINAL = frozenset(
    {
        CommandState.SUCCEEDED,
        CommandState.FAILED,
        CommandState.REJECTED,
        CommandState.EXPIRED,
        CommandState.CANCELLED,
    }
)
_S = CommandState
# From each state, where it may go. ``sent -> sent`` is a retry (attempts + 1).
ALLOWED: Mapping[CommandState, frozenset[CommandState]] = {
    _S.QUEUED: frozenset({_S.SENT, _S.EXPIRED, _S.CANCELLED}),
    _S.SENT: frozenset(
        {_S.SENT, _S.DELIVERED, _S.SUCCEEDED, _S.FAILED, _S.REJECTED, _S.EXPIRED, _S.CANCELLED}
    ),
    _S.DELIVERED: frozenset({_S.SUCCEEDED, _S.FAILED, _S.EXPIRED}),
    **{state: frozenset() for state in FINAL},
}
# What a device's ack moves a command to.
ACK_STATES: Mapping[CommandResult, CommandState] = {
    CommandResult.ACCEPTED: _S.DELIVERED,
    CommandResult.DONE: _S.SUCCEEDED,
    CommandResult.FAILED: _S.FAILED,
    CommandResult.REJECTED: _S.REJECTED,
}

# Retry while unacknowledged: 2 s, 4 s, 8 s ... at most a minute apart. A device
# on a local broker acks in milliseconds; two seconds leaves room for a busy one.
FIRST_RETRY_MS = 2_000
MAX_RETRY_MS = 60_000


class IllegalTransitionError(ValueError):
    """A step the state machine does not allow (for example from a final state)."""


@dataclass(frozen=True, slots=True)
class Transition:
    command_id: str
    from_state: CommandState | None  # None: the command's creation
    to_state: CommandState
    at_ms: int
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Command:
    command_id: str  # a UUID
    tenant_id: str
    device_id: str
    name: str
    parameters: Mapping[str, Any]
    issuer: str  # "user:<id>", "api-key:<id>", "schedule:<id>", ...
    created_ms: int
    expires_ms: int
    state: CommandState = CommandState.QUEUED
    state_ms: int = 0
    attempts: int = 0
    next_attempt_ms: int = 0  # when to (re)send; 0: as soon as the device is reachable
    result: str | None = None  # the device's detail, or why it ended
    family: str = "canonical"  # the downlink protocol (downlinks.FAMILIES)


def created(command: Command) -> Transition:
    return Transition(command.command_id, None, CommandState.QUEUED, command.created_ms)


def advance(
    command: Command, to: CommandState, at_ms: int, detail: str | None = None
) -> tuple[Command, Transition]:
    """The command after the step to ``to``; IllegalTransitionError when not allowed."""
    if to not in ALLOWED[command.state]:
        raise IllegalTransitionError(f"a {command.state.value} command cannot become {to.value}")
    changes: dict[str, Any] = {"state": to, "state_ms": at_ms}
    if to is CommandState.SENT:
        attempts = command.attempts + 1
        changes |= {"attempts": attempts, "next_attempt_ms": at_ms + retry_delay_ms(attempts)}
    if detail is not None or to.final:
        changes["result"] = detail if detail is not None else command.result
    return dataclasses.replace(command, **changes), Transition(
        command.command_id, command.state, to, at_ms, detail
    )


def retry_delay_ms(attempts: int) -> int:
    """How long after the ``attempts``-th send to send again when no ack came."""
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    return min(MAX_RETRY_MS, FIRST_RETRY_MS << min(attempts - 1, 16))


def after_ack(command: Command, result: CommandResult) -> CommandState | None:
    """Where an ack moves the command; None when it changes nothing (a late or repeated ack)."""
    target = ACK_STATES[result]
    if command.state is target or target not in ALLOWED[command.state]:
        return None
    return target


def is_due(command: Command, now_ms: int) -> bool:
    """Whether the dispatcher should (re)send it now, device permitting."""
    return (
        command.state in (CommandState.QUEUED, CommandState.SENT)
        and command.expires_ms > now_ms
        and command.next_attempt_ms <= now_ms
    )
