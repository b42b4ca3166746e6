"""What schedules need from the outside, each as a small protocol."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from wattline.model.devices import Device
from wattline.model.schedules import Schedule


class CommandIssuer(Protocol):
    """Creates an ordinary command (the command service queues, signs and delivers it).

    Returns the new command's id.
    """

    def issue(  # noqa: PLR0913, PLR0917 - a command's fields, in the command service's order
        self,
        tenant_id: str,
        device_id: str,
        name: str,
        parameters: Mapping[str, Any],
        issuer: str,
        expires_at: int,
    ) -> str: ...


class DeviceDirectory(Protocol):
    def list_devices(self, *, tenant_id: str) -> list[Device]: ...


class ScheduleStore(Protocol):
    def add(self, schedule: Schedule) -> None: ...
    def get(self, schedule_id: str, *, tenant_id: str) -> Schedule | None: ...
    def of_tenant(self, *, tenant_id: str) -> list[Schedule]: ...
    def replace(self, schedule: Schedule) -> bool: ...
    def delete(self, schedule_id: str, *, tenant_id: str) -> bool: ...
    def due(self, now_ms: int, limit: int = 500) -> list[Schedule]: ...
    def record_run(
        self,
        schedule_id: str,
        *,
        tenant_id: str,
        planned_ms: int | None,
        last_run_ms: int | None,
        next_run_ms: int | None,
    ) -> bool: ...


class Leases(Protocol):
    def try_acquire(self, name: str, holder: str, ttl_ms: int) -> bool: ...
    def release(self, name: str, holder: str) -> None: ...
