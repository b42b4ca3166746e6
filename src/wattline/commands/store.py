"""Commands and their history in SQL (SQLite and PostgreSQL), every query scoped to a tenant.

A state change is one conditional UPDATE (the state and attempt count it
expects) plus its history row, in one transaction: two processes racing to move
the same command cannot both win, and no step is ever lost from the history.
The dispatcher's scans (``due``, ``open_for_device``) serve every tenant: it
is the platform's delivery loop, and each command it reads carries its tenant.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, and_, func, insert, or_, select, update

from wattline.commands.states import Command, CommandState, Transition
from wattline.storage import schema
from wattline.storage.command_schema import command_history, commands
from wattline.storage.sql.connections import Connections

_c = commands.c
_h = command_history.c
_OPEN = (CommandState.QUEUED.value, CommandState.SENT.value, CommandState.DELIVERED.value)
# Relay commands that count as a switch: every one not refused or withdrawn.
_SWITCHING = (*_OPEN, CommandState.SUCCEEDED.value)


class SqlCommandStore:
    def __init__(self, engine: Engine) -> None:
        self._connections = Connections(engine)

    def add(self, command: Command, transition: Transition) -> None:
        self.add_many([(command, transition)])

    def add_many(self, created: Sequence[tuple[Command, Transition]]) -> None:
        """Several new commands in one transaction (a bulk command)."""
        if not created:
            return
        with self._connections.write() as conn:
            conn.execute(insert(commands), [_row(c) for c, _ in created])
            conn.execute(insert(command_history), [_history_row(c, t) for c, t in created])

    def get(self, tenant_id: str, command_id: str) -> Command | None:
        query = select(commands).where(_c.tenant_id == tenant_id, _c.command_id == command_id)
        with self._connections.read() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else command_from_row(row)

    def history(self, tenant_id: str, command_id: str) -> list[Transition]:
        query = (
            select(command_history)
            .where(_h.tenant_id == tenant_id, _h.command_id == command_id)
            .order_by(_h.id)
        )
        with self._connections.read() as conn:
            return [_transition(row) for row in conn.execute(query).mappings()]

    def page(
        self,
        tenant_id: str,
        device_id: str,
        after: tuple[int, str] | None,
        limit: int,
    ) -> list[Command]:
        """The device's commands, newest first, after the cursor key (created_ms, command_id)."""
        query = select(commands).where(_c.tenant_id == tenant_id, _c.device_id == device_id)
        if after is not None:
            created_ms, command_id = after
            query = query.where(
                or_(
                    _c.created_ms < created_ms,
                    and_(_c.created_ms == created_ms, _c.command_id < command_id),
                )
            )
        query = query.order_by(_c.created_ms.desc(), _c.command_id.desc()).limit(limit)
        with self._connections.read() as conn:
            return [command_from_row(row) for row in conn.execute(query).mappings()]

    def apply(self, before: Command, after: Command, transition: Transition) -> bool:
        """Store the step from ``before`` to ``after``; False when someone else moved it first."""
        return self.apply_many([(before, after, transition)])[0]

    def apply_many(self, steps: Sequence[tuple[Command, Command, Transition]]) -> list[bool]:
        """Several steps in one transaction (a dispatcher pass); each True when it won."""
        won: list[bool] = []
        with self._connections.write() as conn:
            for before, after, transition in steps:
                statement = (
                    update(commands)
                    .where(
                        _c.tenant_id == before.tenant_id,
                        _c.command_id == before.command_id,
                        _c.state == before.state.value,
                        _c.attempts == before.attempts,
                    )
                    .values(
                        state=after.state.value,
                        state_ms=after.state_ms,
                        attempts=after.attempts,
                        next_attempt_ms=after.next_attempt_ms,
                        result=after.result,
                    )
                )
                moved = conn.execute(statement).rowcount == 1
                if moved:
                    conn.execute(insert(command_history).values(**_history_row(after, transition)))
                won.append(moved)
        return won

    def note(self, command: Command, at_ms: int, detail: str) -> None:
        """A history line that changes nothing: a late ack, a replay the device refused."""
        transition = Transition(command.command_id, command.state, command.state, at_ms, detail)
        with self._connections.write() as conn:
            conn.execute(insert(command_history).values(**_history_row(command, transition)))

    def postpone(self, command: Command, next_attempt_ms: int) -> None:
        """Hold a queued command back until ``next_attempt_ms`` (staggered release)."""
        self.postpone_many([(command, next_attempt_ms)])

    def postpone_many(self, schedule: Sequence[tuple[Command, int]]) -> None:
        """Several postponements in one transaction."""
        with self._connections.write() as conn:
            for command, next_attempt_ms in schedule:
                conn.execute(
                    update(commands)
                    .where(_c.command_id == command.command_id, _c.state == command.state.value)
                    .values(next_attempt_ms=next_attempt_ms)
                )

    # -- the dispatcher's scans, across tenants -----------------------------------------

    def due(self, now_ms: int, limit: int) -> list[Command]:
        """Queued or sent commands whose (re)send time has come, for devices not known
        to be offline, oldest first. An offline device's commands wait in the table
        (and cost nothing here) until its hello or online status."""
        d = schema.devices.c
        query = (
            select(commands)
            .join(schema.devices, d.device_id == _c.device_id)
            .where(
                _c.state.in_((CommandState.QUEUED.value, CommandState.SENT.value)),
                _c.next_attempt_ms <= now_ms,
                _c.expires_ms > now_ms,
                d.state != "offline",
            )
            .order_by(_c.next_attempt_ms, _c.created_ms)
            .limit(limit)
        )
        with self._connections.read() as conn:
            return [command_from_row(row) for row in conn.execute(query).mappings()]

    def resend_soon(self, device_ids: Sequence[str], now_ms: int) -> int:
        """These devices are back: their sent, unacknowledged commands go again now."""
        ids = list(device_ids)
        if not ids:
            return 0
        with self._connections.write() as conn:
            return conn.execute(
                update(commands)
                .where(
                    _c.device_id.in_(ids),
                    _c.state == CommandState.SENT.value,
                    _c.next_attempt_ms > now_ms,
                )
                .values(next_attempt_ms=now_ms)
            ).rowcount

    def queued_relays(self, names: Sequence[str], limit: int) -> list[Command]:
        """Queued relay commands, oldest first: what a restart releases staggered."""
        query = (
            select(commands)
            .where(_c.state == CommandState.QUEUED.value, _c.name.in_(list(names)))
            .order_by(_c.created_ms, _c.command_id)
            .limit(limit)
        )
        with self._connections.read() as conn:
            return [command_from_row(row) for row in conn.execute(query).mappings()]

    def expiring(self, now_ms: int, limit: int) -> list[Command]:
        query = (
            select(commands)
            .where(_c.state.in_(_OPEN), _c.expires_ms <= now_ms)
            .order_by(_c.expires_ms)
            .limit(limit)
        )
        with self._connections.read() as conn:
            return [command_from_row(row) for row in conn.execute(query).mappings()]

    def open_for_device(self, device_id: str) -> list[Command]:
        """The device's commands not yet final, oldest first."""
        query = (
            select(commands)
            .where(_c.device_id == device_id, _c.state.in_(_OPEN))
            .order_by(_c.created_ms, _c.command_id)
        )
        with self._connections.read() as conn:
            return [command_from_row(row) for row in conn.execute(query).mappings()]

    def find(self, command_id: str) -> Command | None:
        """A command by id alone: an ack names no tenant; the caller checks the device."""
        with self._connections.read() as conn:
            row = conn.execute(select(commands).where(_c.command_id == command_id)).mappings()
            found = row.first()
        return None if found is None else command_from_row(found)

    def device_states(self, device_ids: Sequence[str]) -> dict[str, str]:
        """Each device's connection state as the registry last recorded it."""
        d = schema.devices.c
        query = select(d.device_id, d.state).where(d.device_id.in_(list(device_ids)))
        with self._connections.read() as conn:
            return {row.device_id: row.state for row in conn.execute(query)}

    def count_open(self) -> int:
        with self._connections.read() as conn:
            return int(conn.scalar(select(func.count()).where(_c.state.in_(_OPEN))) or 0)

    # -- relay safety ---------------------------------------------------------------------

    def relay_switches(
        self, tenant_id: str, device_id: str, names: Sequence[str], since_ms: int
    ) -> list[Command]:
        """The device's relay commands since ``since_ms`` that count as switches, oldest first."""
        query = (
            select(commands)
            .where(
                _c.tenant_id == tenant_id,
                _c.device_id == device_id,
                _c.name.in_(list(names)),
                _c.state.in_(_SWITCHING),
                _c.created_ms >= since_ms,
            )
            .order_by(_c.created_ms, _c.command_id)
        )
        with self._connections.read() as conn:
            return [command_from_row(row) for row in conn.execute(query).mappings()]

    def latest_relay(self, tenant_id: str, device_id: str, names: Sequence[str]) -> Command | None:
        query = (
            select(commands)
            .where(
                _c.tenant_id == tenant_id,
                _c.device_id == device_id,
                _c.name.in_(list(names)),
                _c.state.in_(_SWITCHING),
            )
            .order_by(_c.created_ms.desc(), _c.command_id.desc())
            .limit(1)
        )
        with self._connections.read() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else command_from_row(row)


def _row(command: Command) -> dict[str, Any]:
    return {
        "command_id": command.command_id,
        "tenant_id": command.tenant_id,
        "device_id": command.device_id,
        "name": command.name,
        "parameters": json.dumps(dict(command.parameters), separators=(",", ":")),
        "issuer": command.issuer,
        "created_ms": command.created_ms,
        "expires_ms": command.expires_ms,
        "state": command.state.value,
        "state_ms": command.state_ms,
        "attempts": command.attempts,
        "next_attempt_ms": command.next_attempt_ms,
        "result": command.result,
        "family": command.family,
    }


def _history_row(command: Command, transition: Transition) -> dict[str, Any]:
    return {
        "tenant_id": command.tenant_id,
        "device_id": command.device_id,
        "command_id": command.command_id,
        "from_state": transition.from_state.value if transition.from_state else None,
        "to_state": transition.to_state.value,
        "at_ms": transition.at_ms,
        "detail": transition.detail,
    }


def command_from_row(row: Any) -> Command:
    return Command(
        command_id=row["command_id"],
        tenant_id=row["tenant_id"],
        device_id=row["device_id"],
        name=row["name"],
        parameters=json.loads(row["parameters"]),
        issuer=row["issuer"],
        created_ms=row["created_ms"],
        expires_ms=row["expires_ms"],
        state=CommandState(row["state"]),
        state_ms=row["state_ms"],
        attempts=row["attempts"],
        next_attempt_ms=row["next_attempt_ms"],
        result=row["result"],
        family=row["family"],
    )


def _transition(row: Any) -> Transition:
    return Transition(
        command_id=row["command_id"],
        from_state=CommandState(row["from_state"]) if row["from_state"] else None,
        to_state=CommandState(row["to_state"]),
        at_ms=row["at_ms"],
        detail=row["detail"],
    )
