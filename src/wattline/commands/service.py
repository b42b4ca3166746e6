"""``CommandService``: issue, cancel, read and complete commands; the port other features call.

OTA campaigns and schedules create ordinary commands through ``issue``; the
API adds the HTTP answers; the dispatcher sends what ``issue`` queued and
hands device answers to ``record_ack`` and ``record_relay``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from wattline.commands import relay
from wattline.commands.downlinks import SIGNING, family_for, unsupported
from wattline.commands.envelopes import SET_COMMAND_KEY, SIGNED_BY, Unsigned, key_id, sign
from wattline.commands.keys import PublicKey, SqlCommandKeys
from wattline.commands.states import (
    Command,
    CommandState,
    IllegalTransitionError,
    Transition,
    advance,
    after_ack,
    created,
)
from wattline.commands.store import SqlCommandStore
from wattline.commands.twin import Twin, validate
from wattline.commands.twin_store import SqlTwinStore
from wattline.model.devices import Device
from wattline.model.messages import CommandAck, CommandResult
from wattline.security.roles import Role

log = logging.getLogger("wattline.commands")

NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
# Commands that can brick a device or cut its power for long: owner or admin only.
DANGEROUS = frozenset({"reboot", "factory_reset", "firmware_update"})
# Without an expiry a command waits this long for an offline device.
DEFAULT_TTL_MS = 3_600_000
# The longest a command may wait: a week covers a device away for a holiday.
MAX_TTL_MS = 7 * 24 * 3_600_000
MAX_PARAMETER_BYTES = 4096
# A rotation notice must outlive its own sending; a shorter grace pushes nothing.
MIN_PUSH_GRACE_MS = 1000


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class CommandError(Exception):
    """A refusal; ``status_code`` says which HTTP answer fits it."""

    status_code = 422


class UnknownDeviceError(CommandError):
    status_code = 404


class UnknownCommandError(CommandError):
    status_code = 404


class NotAllowedError(CommandError):
    status_code = 403


class ConflictError(CommandError):
    """Refused by relay safety, or a cancel of a finished command."""

    status_code = 409


class Devices(Protocol):
    def get_device(self, device_id: str, *, tenant_id: str) -> Device | None: ...
    def list_devices(self, *, tenant_id: str) -> list[Device]: ...


@dataclass(frozen=True, slots=True)
class Rotation:
    """A key rotation: the new key, and the ``set_command_key`` command queued per device."""

    key: PublicKey
    commands: tuple[Command, ...]


@dataclass(slots=True)
class CommandService:
    store: SqlCommandStore
    keys: SqlCommandKeys
    devices: Devices
    relay_policy: relay.RelayPolicy = field(default_factory=relay.RelayPolicy)
    clock_ms: Callable[[], int] = _now_ms
    # tells an in-process dispatcher to look now; None: it finds new commands by polling
    wake: Callable[[], None] | None = None
    # the configuration twins; None: not offered
    twins: SqlTwinStore | None = None
    # command id -> who is told of each step stored in this process (``watch``)
    _watchers: dict[str, list[Callable[[Command], None]]] = field(
        default_factory=dict, init=False, repr=False
    )
    _watch_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def issue(  # noqa: PLR0913, PLR0917 - the port's fields, in the documented order
        self,
        tenant_id: str,
        device_id: str,
        name: str,
        parameters: Mapping[str, Any],
        issuer: str,
        expires_at_ms: int | None = None,
        *,
        issuer_role: Role | None = None,
    ) -> Command:
        """Queue a command; the dispatcher signs and sends it when the device is reachable.

        ``issuer_role``: the role of the person behind it, for the checks on
        dangerous commands and unsigned families; None when Wattline itself
        issues it on an already authorised behalf (a campaign, a schedule).
        Raises a ``CommandError`` (404 device, 403 role, 409 relay safety, 422 input).
        """
        command = self.prepare(
            tenant_id, device_id, name, parameters, issuer, expires_at_ms, issuer_role=issuer_role
        )
        self.store.add(command, created(command))
        if self.wake is not None:
            self.wake()
        return command

    def prepare(  # noqa: PLR0913, PLR0917 - as issue
        self,
        tenant_id: str,
        device_id: str,
        name: str,
        parameters: Mapping[str, Any],
        issuer: str,
        expires_at_ms: int | None = None,
        *,
        issuer_role: Role | None = None,
        not_before_ms: int = 0,
    ) -> Command:
        """The command ``issue`` would queue, checked but not stored (``issue_many`` stores
        a batch); ``not_before_ms`` holds it back until then (a bulk command's rate)."""
        now = self.clock_ms()
        device = self.devices.get_device(device_id, tenant_id=tenant_id)
        if device is None:
            raise UnknownDeviceError(f"unknown device {device_id!r}")
        family = family_for(device.device_type)
        expires_ms = self._check(name, parameters, family, issuer_role, expires_at_ms, now)
        if name in relay.RELAY_COMMANDS:
            self._check_relay(tenant_id, device_id, name, now)
        return Command(
            command_id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            device_id=device_id,
            name=name,
            parameters=dict(parameters),
            issuer=issuer,
            created_ms=now,
            expires_ms=expires_ms,
            state_ms=now,
            next_attempt_ms=not_before_ms,
            family=family,
        )

    def issue_many(self, prepared: Sequence[Command]) -> None:
        """Queue commands made by ``prepare``, in one transaction."""
        self.store.add_many([(command, created(command)) for command in prepared])
        if self.wake is not None:
            self.wake()

    def _check(  # noqa: PLR0913, PLR0917 - each input checked once
        self,
        name: str,
        parameters: Mapping[str, Any],
        family: str,
        issuer_role: Role | None,
        expires_at_ms: int | None,
        now: int,
    ) -> int:
        if not NAME_RE.fullmatch(name):
            raise CommandError("name must be 1-64 of a-z, 0-9 and _, starting with a letter")
        if len(repr(parameters).encode()) > MAX_PARAMETER_BYTES:
            raise CommandError(f"parameters must be at most {MAX_PARAMETER_BYTES} bytes")
        problem = unsupported(family, name)
        if problem is not None:
            raise CommandError(problem)
        needs_owner = name in DANGEROUS or family not in SIGNING
        if needs_owner and issuer_role is not None and not issuer_role.allows(Role.ADMIN):
            why = (
                f"{name} is a dangerous command"
                if name in DANGEROUS
                else f"{family} devices cannot verify signatures"
            )
            raise NotAllowedError(f"{why}: it needs the admin or owner role")
        expires_ms = now + DEFAULT_TTL_MS if expires_at_ms is None else expires_at_ms
        if expires_ms <= now:
            raise CommandError("expires_at must be in the future")
        if expires_ms > now + MAX_TTL_MS:
            raise CommandError(f"expires_at must be within {MAX_TTL_MS // 3_600_000} h")
        return expires_ms

    def _check_relay(self, tenant_id: str, device_id: str, name: str, now: int) -> None:
        recent = self.store.relay_switches(
            tenant_id, device_id, relay.RELAY_COMMANDS, now - relay.HOUR_MS
        )
        switches = switch_history(recent)
        last = switches[-1].on if switches else None
        reason = relay.refusal(self.relay_policy, relay.target_of(name, last), switches, now)
        if reason is not None:
            raise ConflictError(reason)

    # -- key rotation ----------------------------------------------------------------

    def rotate_keys(self, tenant_id: str, grace_ms: int, issuer: str) -> Rotation:
        """A new signing key, pushed to every device that verifies signatures.

        Each such device of the tenant gets an ordinary persistent command,
        ``set_command_key`` with the new public key, signed with the previous key
        (the one the device holds) and expiring with the grace period: a device
        offline now gets it when it comes back within the grace period. Tasmota
        and Shelly devices verify nothing and get nothing. A grace period of 0
        pushes nothing: the old key is void at once, so every device must be
        given the new key by re-provisioning (so for any grace under a second).
        """
        previous = key_id(self.keys.signing_key(tenant_id).public_key())
        new = self.keys.rotate(tenant_id, grace_ms)
        expires_ms = self.clock_ms() + min(grace_ms, MAX_TTL_MS)
        if grace_ms < MIN_PUSH_GRACE_MS:
            return Rotation(new, ())
        parameters = {
            "key_id": new.key_id,
            "algorithm": new.algorithm,
            "public_key": new.public_key,
            SIGNED_BY: previous,
        }
        prepared = [
            self.prepare(
                tenant_id, device.device_id, SET_COMMAND_KEY, parameters, issuer, expires_ms
            )
            for device in self.devices.list_devices(tenant_id=tenant_id)
            if family_for(device.device_type) in SIGNING
        ]
        if prepared:
            self.issue_many(prepared)
        return Rotation(new, tuple(prepared))

    def _signer(self, command: Command) -> Ed25519PrivateKey:
        """The key a command is signed with: the current one, except a rotation notice,
        which must verify with the key the device still holds."""
        signed_by = command.parameters.get(SIGNED_BY)
        if command.name == SET_COMMAND_KEY and isinstance(signed_by, str):
            previous = self.keys.valid_signing_key(command.tenant_id, signed_by)
            if previous is not None:
                return previous
            # Past its grace the command has expired before it is sent; should it race
            # past that, the device refuses the current key's signature: no harm.
        return self.keys.signing_key(command.tenant_id)

    # -- reading ---------------------------------------------------------------------

    def get(self, tenant_id: str, command_id: str) -> Command:
        command = self.store.get(tenant_id, command_id)
        if command is None:
            raise UnknownCommandError(f"unknown command {command_id!r}")
        return command

    def history(self, tenant_id: str, command_id: str) -> list[Transition]:
        return self.store.history(tenant_id, command_id)

    # -- changing ---------------------------------------------------------------------

    def cancel(self, tenant_id: str, command_id: str, by: str) -> Command:
        """Withdraw a command not yet delivered; 409 once the device has it."""
        command = self.get(tenant_id, command_id)
        moved = self.move(command, CommandState.CANCELLED, f"cancelled by {by}")
        if moved is None:
            raise ConflictError(
                f"command {command_id} is {self.get(tenant_id, command_id).state.value};"
                " only a queued or sent command can be cancelled"
            )
        return moved

    def move(self, command: Command, to: CommandState, detail: str | None = None) -> Command | None:
        """One step of the state machine, stored; None when not allowed or lost to a racer."""
        return self.move_many([command], to, detail)[0]

    def move_many(
        self, commands: Sequence[Command], to: CommandState, detail: str | None = None
    ) -> list[Command | None]:
        """The same step for several commands, in one transaction."""
        now = self.clock_ms()
        steps: list[tuple[Command, Command, Transition]] = []
        results: list[Command | None] = []
        for command in commands:
            try:
                after, transition = advance(command, to, now, detail)
            except IllegalTransitionError:
                results.append(None)
                continue
            steps.append((command, after, transition))
            results.append(after)
        won = iter(self.store.apply_many(steps))
        moved = [None if after is None or not next(won) else after for after in results]
        if self._watchers:
            self._tell([after for after in moved if after is not None])
        return moved

    def watch(self, command_id: str, told: Callable[[Command], None]) -> Callable[[], None]:
        """Have ``told`` called with the command after each of its steps this process
        stores (from the storing thread, after the commit; it must be quick and not
        raise); returns the call that stops it. Steps stored by another process are not
        told: a waiter still reads the command now and then."""
        with self._watch_lock:
            self._watchers.setdefault(command_id, []).append(told)

        def unwatch() -> None:
            with self._watch_lock:
                watchers = self._watchers.get(command_id, [])
                if told in watchers:
                    watchers.remove(told)
                if not watchers:
                    self._watchers.pop(command_id, None)

        return unwatch

    def _tell(self, moved: Sequence[Command]) -> None:
        with self._watch_lock:
            calls = [(told, c) for c in moved for told in self._watchers.get(c.command_id, ())]
        for told, command in calls:
            try:
                told(command)
            except Exception:
                log.exception("command watcher failed")

    def envelope(self, command: Command) -> dict[str, Any]:
        """The command signed now, with a fresh nonce: each send is a new envelope."""
        unsigned = Unsigned(
            device_id=command.device_id,
            command_id=command.command_id,
            name=command.name,
            parameters=command.parameters,
            nonce=uuid.uuid4().hex,
            issued_ms=command.created_ms,
            expires_ms=command.expires_ms,
        )
        return sign(unsigned, self._signer(command))

    def record_ack(self, ack: CommandAck) -> Command | None:
        """A device's answer; a late, repeated or foreign one changes nothing."""
        command = self.store.find(ack.command_id)
        if command is None or command.device_id != ack.device_id:
            log.info("ack from %s for unknown command %s", ack.device_id, ack.command_id)
            return None
        target = after_ack(command, ack.status)
        detail = ack.detail or ack.status.value
        if target is None:
            if ack.status is CommandResult.REJECTED:
                self.store.note(command, self.clock_ms(), f"device refused a copy: {detail}")
            return None
        return self.move(command, target, detail)

    def record_relay(self, device_id: str, relay_on: bool) -> Command | None:
        """A relay report from a device that cannot ack (smart plug, Tasmota, Shelly):
        completes its oldest sent relay command that asked for this state."""
        for command in self.store.open_for_device(device_id):
            if command.name not in relay.RELAY_COMMANDS or command.state is CommandState.QUEUED:
                continue
            wanted = relay.target_of(command.name, None)
            if wanted is None or wanted == relay_on:
                return self.move(
                    command, CommandState.SUCCEEDED, f"relay reported {'on' if relay_on else 'off'}"
                )
        return None

    # -- configuration twin ------------------------------------------------------------

    def config(self, tenant_id: str, device_id: str) -> tuple[Device, Twin | None]:
        device = self.devices.get_device(device_id, tenant_id=tenant_id)
        if device is None:
            raise UnknownDeviceError(f"unknown device {device_id!r}")
        if self.twins is None:
            raise CommandError("device configuration is not offered")
        return device, self.twins.get(tenant_id, device_id)

    def set_config(self, tenant_id: str, device_id: str, desired: Mapping[str, Any]) -> Twin:
        """A new desired configuration, validated against the device type's schema
        (ConfigError names the field); the dispatcher sends the delta."""
        device, _ = self.config(tenant_id, device_id)
        validate(device.device_type, desired)
        assert self.twins is not None
        twin = self.twins.put_desired(tenant_id, device_id, desired, self.clock_ms())
        if self.wake is not None:
            self.wake()
        return twin


def switch_history(commands: Sequence[Command]) -> list[relay.Switch]:
    """Relay commands as switches, each toggle resolved from the one before it."""
    switches: list[relay.Switch] = []
    last: bool | None = None
    for command in commands:
        last = relay.target_of(command.name, last)
        switches.append(relay.Switch(command.created_ms, last))
    return switches
