"""/api/v1/schedules: commands at cron, daily or sunrise/sunset times, in local time.

Operators and above create, change and delete; each run sends an ordinary
command to every targeted device (the command service's checks apply).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Response, status

from wattline.api.audit_trail import AuditDep
from wattline.api.deps import AdminFirstRoute, PrincipalDep, ServicesDep, require
from wattline.api.firmware_schemas import (
    ScheduleIn,
    ScheduleList,
    ScheduleOut,
    SkippedDeviceOut,
    target_out,
)
from wattline.model.schedules import MissedPolicy, Schedule, SunEvent, Trigger, TriggerKind
from wattline.model.times import iso_ms
from wattline.schedules.placement import uses_device_location
from wattline.schedules.service import (
    ScheduleDraft,
    ScheduleError,
    ScheduleInvalidError,
    ScheduleService,
)
from wattline.security.roles import Role

router = APIRouter(prefix="/api/v1/schedules", tags=["schedules"], route_class=AdminFirstRoute)


async def get_schedules(services: ServicesDep) -> ScheduleService:
    if services.schedules is None:
        raise HTTPException(
            status.HTTP_501_NOT_IMPLEMENTED, "schedules are not enabled in this process"
        )
    return services.schedules


SchedulesDep = Annotated[ScheduleService, Depends(get_schedules)]


def _refused(exc: ScheduleError) -> HTTPException:
    if isinstance(exc, ScheduleInvalidError):
        return HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [{"type": "value_error", "loc": ["body", exc.field], "msg": str(exc)}],
        )
    return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))


def _draft(body: ScheduleIn) -> ScheduleDraft:
    return ScheduleDraft(
        name=body.name,
        target=body.target.to_target(),
        trigger=Trigger(
            kind=TriggerKind(body.kind),
            timezone=body.timezone,
            cron=body.cron,
            daily_time=body.daily_time,
            sun_event=None if body.sun_event is None else SunEvent(body.sun_event),
            offset_min=body.offset_min,
            latitude_deg=body.latitude_deg,
            longitude_deg=body.longitude_deg,
        ),
        command=body.command,
        parameters=dict(body.parameters),
        missed=MissedPolicy(body.missed),
        late_window_s=body.late_window_s,
        enabled=body.enabled,
    )


def _local(ms: int, zone: str) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(ZoneInfo(zone))
    return moment.isoformat(timespec="seconds")


def _out(schedule: Schedule, service: ScheduleService) -> ScheduleOut:
    trigger = schedule.trigger
    fields: dict[str, Any] = {
        "name": schedule.name,
        "target": target_out(schedule.target),
        "kind": trigger.kind.value,
        "timezone": trigger.timezone,
        "cron": trigger.cron,
        "daily_time": trigger.daily_time,
        "sun_event": None if trigger.sun_event is None else trigger.sun_event.value,
        "offset_min": trigger.offset_min,
        "latitude_deg": trigger.latitude_deg,
        "longitude_deg": trigger.longitude_deg,
        "command": schedule.command,
        "parameters": schedule.parameters,
        "missed": schedule.missed.value,
        "late_window_s": schedule.late_window_s,
        "enabled": schedule.enabled,
    }
    upcoming = service.upcoming(schedule)
    next_ms = schedule.next_run_ms
    if uses_device_location(trigger):  # stored: when the scheduler looks again
        next_ms = upcoming[0] if upcoming else None
    return ScheduleOut(
        **fields,
        schedule_id=schedule.schedule_id,
        next_run=None if next_ms is None else iso_ms(next_ms),
        last_run=None if schedule.last_run_ms is None else iso_ms(schedule.last_run_ms),
        upcoming=[_local(ms, trigger.timezone) for ms in upcoming],
        skipped_devices=[
            SkippedDeviceOut(device_id=device_id, reason=reason)
            for device_id, reason in service.skipped_devices(schedule)
        ],
        created_at=iso_ms(schedule.created_ms),
        created_by=schedule.created_by,
        updated_at=iso_ms(schedule.updated_ms),
    )


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[require(Role.OPERATOR)])
def create_schedule(
    body: ScheduleIn, schedules: SchedulesDep, principal: PrincipalDep, audit: AuditDep
) -> ScheduleOut:
    """A new schedule; ``upcoming`` shows its next runs in its own time zone."""
    try:
        made = schedules.create(principal.tenant_id, _draft(body), principal.display)
    except ScheduleError as exc:
        raise _refused(exc) from exc
    audit.record("schedule.create", f"schedule:{made.schedule_id}", {"name": made.name})
    return _out(made, schedules)


@router.get("", dependencies=[require(Role.OPERATOR)])
def list_schedules(schedules: SchedulesDep, principal: PrincipalDep) -> ScheduleList:
    return ScheduleList(
        schedules=[_out(s, schedules) for s in schedules.of_tenant(principal.tenant_id)]
    )


@router.get("/{schedule_id}", dependencies=[require(Role.OPERATOR)])
def get_schedule(schedule_id: str, schedules: SchedulesDep, principal: PrincipalDep) -> ScheduleOut:
    try:
        return _out(schedules.get(principal.tenant_id, schedule_id), schedules)
    except ScheduleError as exc:
        raise _refused(exc) from exc


@router.put("/{schedule_id}", dependencies=[require(Role.OPERATOR)])
def change_schedule(
    schedule_id: str,
    body: ScheduleIn,
    schedules: SchedulesDep,
    principal: PrincipalDep,
    audit: AuditDep,
) -> ScheduleOut:
    """Replace the schedule; its next run is computed afresh."""
    try:
        changed = schedules.change(principal.tenant_id, schedule_id, _draft(body))
    except ScheduleError as exc:
        raise _refused(exc) from exc
    audit.record("schedule.update", f"schedule:{schedule_id}", {"name": changed.name})
    return _out(changed, schedules)


@router.delete(
    "/{schedule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[require(Role.OPERATOR)],
)
def delete_schedule(
    schedule_id: str, schedules: SchedulesDep, principal: PrincipalDep, audit: AuditDep
) -> Response:
    try:
        schedules.delete(principal.tenant_id, schedule_id)
    except ScheduleError as exc:
        raise _refused(exc) from exc
    audit.record("schedule.delete", f"schedule:{schedule_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
