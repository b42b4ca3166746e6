"""Schedule use cases: create, change, list and delete, each checked before it is stored."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from wattline.model.devices import Device
from wattline.model.schedules import MissedPolicy, Schedule, Trigger
from wattline.model.targets import Target
from wattline.schedules.placement import (
    never_rises,
    no_location,
    place,
    planned_next,
    upcoming_of,
    uses_device_location,
)
from wattline.schedules.ports import DeviceDirectory, ScheduleStore
from wattline.schedules.timing import next_run_ms, trigger_problem

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
    def __init__(
        self,
        store: ScheduleStore,
        clock_ms: Callable[[], int],
        devices: DeviceDirectory | None = None,
    ) -> None:
        """``devices``: the registry, for sun schedules at their devices' locations
        (None: such schedules are refused)."""
        self._store = store
        self._clock_ms = clock_ms
        self._devices = devices

    def _targeted(self, tenant_id: str, draft: ScheduleDraft) -> list[Device]:
        if not uses_device_location(draft.trigger):
            return []
        if self._devices is None:
            raise ScheduleInvalidError(
                "latitude_deg", "this process has no device registry: give the coordinates"
            )
        return draft.target.select(self._devices.list_devices(tenant_id=tenant_id))

    def _checked(self, tenant_id: str, draft: ScheduleDraft) -> list[Device]:
        """The draft checked, and the devices it targets when it runs at their places."""
        _check(draft)
        devices = self._targeted(tenant_id, draft)
        if uses_device_location(draft.trigger) and draft.target.device_ids:
            # A schedule for named devices must run at all of them: refused now, not
            # found out at sunset. Tags and types change; their devices are skipped.
            known = {d.device_id for d in devices}
            for device_id in draft.target.device_ids:
                if device_id not in known:
                    raise ScheduleInvalidError("target", f"unknown device {device_id!r}")
            for placed in place(draft.trigger, devices):
                if placed.trigger is None:
                    raise ScheduleInvalidError("latitude_deg", no_location(placed.device.device_id))
        return devices

    def _next(self, draft: ScheduleDraft, devices: list[Device], now_ms: int) -> int | None:
        return planned_next(draft.trigger, devices, now_ms) if draft.enabled else None

    def create(self, tenant_id: str, draft: ScheduleDraft, created_by: str) -> Schedule:
        devices = self._checked(tenant_id, draft)
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
            next_run_ms=self._next(draft, devices, now_ms),
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
        devices = self._checked(tenant_id, draft)
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
            next_run_ms=self._next(draft, devices, now_ms),
            updated_ms=now_ms,
        )
        if not self._store.replace(changed):
            raise ScheduleNotFoundError(f"no schedule {schedule_id!r}")
        return changed

    def delete(self, tenant_id: str, schedule_id: str) -> None:
        if not self._store.delete(schedule_id, tenant_id=tenant_id):
            raise ScheduleNotFoundError(f"no schedule {schedule_id!r}")

    def _devices_of(self, schedule: Schedule) -> list[Device]:
        if self._devices is None or not uses_device_location(schedule.trigger):
            return []
        devices = self._devices.list_devices(tenant_id=schedule.tenant_id)
        return schedule.target.select(devices)

    def upcoming(self, schedule: Schedule, count: int = 5) -> list[int]:
        """The next runs; for a schedule at its devices' places, of any of its devices."""
        if not schedule.enabled:
            return []
        return upcoming_of(schedule.trigger, self._devices_of(schedule), self._clock_ms(), count)

    def skipped_devices(self, schedule: Schedule) -> list[tuple[str, str]]:
        """(device id, reason) for each targeted device the schedule cannot run at:
        no location, or no sunrise (sunset) there within a year."""
        now_ms = self._clock_ms()
        skipped: list[tuple[str, str]] = []
        for placed in place(schedule.trigger, self._devices_of(schedule)):
            if placed.trigger is None:
                skipped.append((placed.device.device_id, placed.skip_reason or "no location"))
            elif next_run_ms(placed.trigger, now_ms) is None:
                skipped.append((placed.device.device_id, never_rises(placed.trigger)))
        return skipped


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
    located = uses_device_location(draft.trigger)  # its devices' runs are checked per device
    if not located and next_run_ms(draft.trigger, 0) is None and draft.enabled:
        raise ScheduleInvalidError("cron", "this trigger never runs")
