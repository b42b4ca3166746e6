"""Schedule use cases: create, change, list and delete, each checked before it is stored."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from wattline.model.schedules import MissedPolicy, Schedule, Trigger
from wattline.model.targets import Target
from wattline.schedules.ports import ScheduleStore
from wattline.schedules.timing import next_run_ms, trigger_problem, upcoming

_COMMAND_RE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
# A command's parameters travel in a signed MQTT envelope to a small device.
MAX_PARAMETERS_BYTES = 4096


class ScheduleError(Exception):
    """The base; the message is safe to show the caller."""


class ScheduleNotFoundError(ScheduleError):
    """No such schedule in the caller's tenant (404)."""


class ScheduleInvalidError(ScheduleError):
    """A value refused (422); ``field`` names it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True, slots=True)
class ScheduleDraft:
    """What a caller gives: everything but the ids and times Wattline keeps."""

    name: str
    target: Target
    trigger: Trigger
    command: str
    parameters: dict[str, Any] = field(default_factory=dict)
    missed: MissedPolicy = MissedPolicy.SKIP
    late_window_s: int = 0
    enabled: bool = True


class ScheduleService:
    def __init__(self, store: ScheduleStore, clock_ms: Callable[[], int]) -> None:
        self._store = store
        self._clock_ms = clock_ms

    def create(self, tenant_id: str, draft: ScheduleDraft, created_by: str) -> Schedule:
        _check(draft)
        now_ms = self._clock_ms()
        schedule = Schedule(
            schedule_id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            name=draft.name,
            target=draft.target,
            trigger=draft.trigger,
            command=draft.command,
            parameters=draft.parameters,
            missed=draft.missed,
            late_window_s=draft.late_window_s,
            enabled=draft.enabled,
            next_run_ms=next_run_ms(draft.trigger, now_ms) if draft.enabled else None,
            created_ms=now_ms,
            created_by=created_by,
            updated_ms=now_ms,
        )
        self._store.add(schedule)
        return schedule

    def get(self, tenant_id: str, schedule_id: str) -> Schedule:
        found = self._store.get(schedule_id, tenant_id=tenant_id)
        if found is None:
            raise ScheduleNotFoundError(f"no schedule {schedule_id!r}")
        return found

    def of_tenant(self, tenant_id: str) -> list[Schedule]:
        return self._store.of_tenant(tenant_id=tenant_id)

    def change(self, tenant_id: str, schedule_id: str, draft: ScheduleDraft) -> Schedule:
        """Replace what the caller gives; the next run is computed afresh from now."""
        current = self.get(tenant_id, schedule_id)
        _check(draft)
        now_ms = self._clock_ms()
        changed = replace(
            current,
            name=draft.name,
            target=draft.target,
            trigger=draft.trigger,
            command=draft.command,
            parameters=draft.parameters,
            missed=draft.missed,
            late_window_s=draft.late_window_s,
            enabled=draft.enabled,
            next_run_ms=next_run_ms(draft.trigger, now_ms) if draft.enabled else None,
            updated_ms=now_ms,
        )
        if not self._store.replace(changed):
            raise ScheduleNotFoundError(f"no schedule {schedule_id!r}")
        return changed

    def delete(self, tenant_id: str, schedule_id: str) -> None:
        if not self._store.delete(schedule_id, tenant_id=tenant_id):
            raise ScheduleNotFoundError(f"no schedule {schedule_id!r}")

    def upcoming(self, schedule: Schedule, count: int = 5) -> list[int]:
        if not schedule.enabled:
            return []
        return upcoming(schedule.trigger, self._clock_ms(), count)


def _check(draft: ScheduleDraft) -> None:
    problem = draft.target.problem()
    if problem:
        raise ScheduleInvalidError("target", problem)
    found = trigger_problem(draft.trigger)
    if found:
        raise ScheduleInvalidError(*found)
    if not _COMMAND_RE.fullmatch(draft.command):
        raise ScheduleInvalidError("command", "command is 1-64 of [a-z0-9_.-], from a letter")
    if len(orjson.dumps(draft.parameters)) > MAX_PARAMETERS_BYTES:
        raise ScheduleInvalidError(
            "parameters", f"parameters take at most {MAX_PARAMETERS_BYTES} bytes as JSON"
        )
    if draft.missed is MissedPolicy.LATE and draft.late_window_s <= 0:
        raise ScheduleInvalidError("late_window_s", "missed='late' needs a late_window_s above 0")
    if next_run_ms(draft.trigger, 0) is None and draft.enabled:
        raise ScheduleInvalidError("cron", "this trigger never runs")
