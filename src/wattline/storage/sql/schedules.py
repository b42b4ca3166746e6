"""Schedules, every query scoped to a tenant but ``due``, the scheduler's look-up
across tenants (it writes each run back under the schedule's own tenant)."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Engine, Row, and_, delete, insert, select, update

from wattline.model.schedules import (
    MissedPolicy,
    Schedule,
    SunEvent,
    Trigger,
    TriggerKind,
)
from wattline.model.targets import Target
from wattline.storage.firmware_schema import schedules
from wattline.storage.sql.connections import Connections

S = schedules.c


class SqlSchedules:
    def __init__(self, engine: Engine) -> None:
        self._connections = Connections(engine)

    def add(self, schedule: Schedule) -> None:
        with self._connections.write() as conn:
            conn.execute(insert(schedules).values(**_row(schedule)))

    def get(self, schedule_id: str, *, tenant_id: str) -> Schedule | None:
        where = and_(S.schedule_id == schedule_id, S.tenant_id == tenant_id)
        with self._connections.read() as conn:
            row = conn.execute(select(schedules).where(where)).first()
        return None if row is None else _schedule(row)

    def of_tenant(self, *, tenant_id: str) -> list[Schedule]:
        query = (
            select(schedules).where(S.tenant_id == tenant_id).order_by(S.created_ms, S.schedule_id)
        )
        with self._connections.read() as conn:
            return [_schedule(row) for row in conn.execute(query).all()]

    def replace(self, schedule: Schedule) -> bool:
        where = and_(S.schedule_id == schedule.schedule_id, S.tenant_id == schedule.tenant_id)
        with self._connections.write() as conn:
            return (
                conn.execute(update(schedules).where(where).values(**_row(schedule))).rowcount == 1
            )

    def delete(self, schedule_id: str, *, tenant_id: str) -> bool:
        where = and_(S.schedule_id == schedule_id, S.tenant_id == tenant_id)
        with self._connections.write() as conn:
            return conn.execute(delete(schedules).where(where)).rowcount == 1

    def due(self, now_ms: int, limit: int = 500) -> list[Schedule]:
        """Enabled schedules of every tenant whose next run has come (ix_schedules_due)."""
        query = (
            select(schedules)
            .where(and_(S.enabled.is_(True), S.next_run_ms <= now_ms))
            .order_by(S.next_run_ms)
            .limit(limit)
        )
        with self._connections.read() as conn:
            return [_schedule(row) for row in conn.execute(query).all()]

    def record_run(
        self,
        schedule_id: str,
        *,
        tenant_id: str,
        planned_ms: int | None,
        last_run_ms: int | None,
        next_run_ms: int | None,
    ) -> bool:
        """Move the schedule on, unless someone changed it meanwhile (its next run differs)."""
        where = and_(
            S.schedule_id == schedule_id,
            S.tenant_id == tenant_id,
            S.next_run_ms == planned_ms,
        )
        values: dict[str, Any] = {"next_run_ms": next_run_ms}
        if last_run_ms is not None:
            values["last_run_ms"] = last_run_ms
        with self._connections.write() as conn:
            return conn.execute(update(schedules).where(where).values(**values)).rowcount == 1


def _row(schedule: Schedule) -> dict[str, Any]:
    trigger = schedule.trigger
    return {
        "schedule_id": schedule.schedule_id,
        "tenant_id": schedule.tenant_id,
        "name": schedule.name,
        "target": orjson.dumps(schedule.target.as_json()).decode(),
        "kind": trigger.kind.value,
        "timezone": trigger.timezone,
        "cron": trigger.cron,
        "daily_time": trigger.daily_time,
        "sun_event": None if trigger.sun_event is None else trigger.sun_event.value,
        "offset_min": trigger.offset_min,
        "latitude_deg": trigger.latitude_deg,
        "longitude_deg": trigger.longitude_deg,
        "command": schedule.command,
        "parameters": orjson.dumps(schedule.parameters).decode(),
        "missed": schedule.missed.value,
        "late_window_s": schedule.late_window_s,
        "enabled": schedule.enabled,
        "next_run_ms": schedule.next_run_ms,
        "last_run_ms": schedule.last_run_ms,
        "created_ms": schedule.created_ms,
        "created_by": schedule.created_by,
        "updated_ms": schedule.updated_ms,
    }


def _schedule(row: Row[Any]) -> Schedule:
    return Schedule(
        schedule_id=row.schedule_id,
        tenant_id=row.tenant_id,
        name=row.name,
        target=Target.from_json(orjson.loads(row.target)),
        trigger=Trigger(
            kind=TriggerKind(row.kind),
            timezone=row.timezone,
            cron=row.cron,
            daily_time=row.daily_time,
            sun_event=None if row.sun_event is None else SunEvent(row.sun_event),
            offset_min=row.offset_min,
            latitude_deg=row.latitude_deg,
            longitude_deg=row.longitude_deg,
        ),
        command=row.command,
        parameters=orjson.loads(row.parameters),
        missed=MissedPolicy(row.missed),
        late_window_s=row.late_window_s,
        enabled=bool(row.enabled),
        next_run_ms=row.next_run_ms,
        last_run_ms=row.last_run_ms,
        created_ms=row.created_ms,
        created_by=row.created_by,
        updated_ms=row.updated_ms,
    )
