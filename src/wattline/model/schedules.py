"""Schedules: when a command is sent to which devices, in whose time zone. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from wattline.model.targets import Target


class TriggerKind(StrEnum):
    CRON = "cron"  # a five-field cron expression in local time
    DAILY = "daily"  # HH:MM local time, every day
    SUN = "sun"  # sunrise or sunset at the schedule's (or each device's) location, with an offset


class SunEvent(StrEnum):
    SUNRISE = "sunrise"
    SUNSET = "sunset"


class MissedPolicy(StrEnum):
    SKIP = "skip"  # runs missed while Wattline was down are dropped
    LATE = "late"  # the latest missed run happens once, if within the late window


@dataclass(frozen=True, slots=True)
class Trigger:
    kind: TriggerKind
    timezone: str
    cron: str | None = None
    daily_time: str | None = None  # "HH:MM"
    sun_event: SunEvent | None = None
    offset_min: int = 0
    latitude_deg: float | None = None
    longitude_deg: float | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    schedule_id: str
    tenant_id: str
    name: str
    target: Target
    trigger: Trigger
    command: str
    parameters: dict[str, Any] = field(default_factory=dict)
    missed: MissedPolicy = MissedPolicy.SKIP
    late_window_s: int = 0
    enabled: bool = True
    next_run_ms: int | None = None
    last_run_ms: int | None = None
    created_ms: int = 0
    created_by: str = ""
    updated_ms: int = 0
