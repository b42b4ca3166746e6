"""Sun schedules at each device's own location. Pure.

A sun trigger without coordinates of its own runs at every targeted device's
location (set with ``PATCH /api/v1/devices/{id}``): a tag spread over a
country switches each device at its own sunset. Such a schedule keeps one
``next_run_ms``, the earliest of its devices' next runs; at each tick the
devices whose own run has come are the ones sent a command. A device without a
location, or one where the sun does not rise or set for a year (near a pole),
is skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from wattline.model.devices import Device
from wattline.model.schedules import MissedPolicy, Schedule, SunEvent, Trigger, TriggerKind
from wattline.schedules.timing import ON_TIME_MS, next_run_ms

# A schedule at its devices' places is looked at again at least this often, so a
# device that gains a location, or joins the tag, runs from its next sunrise or
# sunset on; a look finds the devices in one query and costs a few sun sums.
RECHECK_MS = 15 * 60_000
MISSED = "missed while Wattline was down"
# A device missed for more runs than this in one tick (a Wattline down for
# years) is looked at no further: only its latest run can be honoured anyway.
_MAX_RUNS_PER_TICK = 1000


def uses_device_location(trigger: Trigger) -> bool:
    """A sun trigger without coordinates: each device's own location applies."""
    return (
        trigger.kind is TriggerKind.SUN
        and trigger.latitude_deg is None
        and trigger.longitude_deg is None
    )


def no_location(device_id: str) -> str:
    return (
        f"device {device_id!r} has no location: set it with PATCH /api/v1/devices/{device_id}"
        " or give the schedule latitude_deg and longitude_deg"
    )


@dataclass(frozen=True, slots=True)
class Placed:
    """A device with the trigger at its place, or the reason it has none."""

    device: Device
    trigger: Trigger | None
    skip_reason: str | None = None


def place(trigger: Trigger, devices: Sequence[Device]) -> list[Placed]:
    if not uses_device_location(trigger):
        return [Placed(device, trigger) for device in devices]
    placed: list[Placed] = []
    for device in devices:
        if device.location is None:
            placed.append(Placed(device, None, no_location(device.device_id)))
            continue
        at_place = replace(
            trigger,
            latitude_deg=device.location.latitude_deg,
            longitude_deg=device.location.longitude_deg,
        )
        placed.append(Placed(device, at_place))
    return placed


def never_rises(trigger: Trigger) -> str:
    event = "rise" if trigger.sun_event is SunEvent.SUNRISE else "set"
    return f"the sun does not {event} at the device's location within a year (polar day or night)"


def next_run_of(trigger: Trigger, devices: Sequence[Device], after_ms: int) -> int | None:
    """The schedule's next run: its own, or the earliest of its devices'."""
    if not uses_device_location(trigger):
        return next_run_ms(trigger, after_ms)
    runs = [
        found
        for p in place(trigger, devices)
        if p.trigger is not None and (found := next_run_ms(p.trigger, after_ms)) is not None
    ]
    return min(runs, default=None)


def planned_next(trigger: Trigger, devices: Sequence[Device], after_ms: int) -> int | None:
    """What the scheduler stores as the next run: for a schedule at its devices'
    places, no later than ``RECHECK_MS`` ahead (devices and locations change)."""
    if not uses_device_location(trigger):
        return next_run_ms(trigger, after_ms)
    found = next_run_of(trigger, devices, after_ms)
    recheck = after_ms + RECHECK_MS
    return recheck if found is None else min(found, recheck)


def upcoming_of(
    trigger: Trigger, devices: Sequence[Device], after_ms: int, count: int
) -> list[int]:
    runs: list[int] = []
    cursor = after_ms
    while len(runs) < count:
        found = next_run_of(trigger, devices, cursor)
        if found is None:
            break
        runs.append(found)
        cursor = found
    return runs


@dataclass(frozen=True, slots=True)
class DeviceTick:
    """What one tick of a device-located schedule does."""

    run: tuple[Device, ...]
    skipped: tuple[tuple[str, str], ...]  # (device id, reason)
    next_run_ms: int | None


def plan_device_tick(schedule: Schedule, devices: Sequence[Device], now_ms: int) -> DeviceTick:
    """The devices whose own run lies between the schedule's planned time and now.

    A device's latest such run is on time within ``ON_TIME_MS``; older, it was
    missed while Wattline was down, and the schedule's missed policy decides
    (``late`` runs it once within ``late_window_s``), as ``plan_tick`` does for
    a schedule with coordinates of its own.
    """
    planned = schedule.next_run_ms
    run: list[Device] = []
    skipped: list[tuple[str, str]] = []
    unplaced: list[tuple[str, str]] = []
    for p in place(schedule.trigger, devices):
        if p.trigger is None:
            unplaced.append((p.device.device_id, p.skip_reason or "no location"))
            continue
        if planned is None or planned > now_ms:
            continue
        latest = _latest_run(p.trigger, planned - 1, now_ms)
        if latest is None:
            if next_run_ms(p.trigger, planned - 1) is None:
                skipped.append((p.device.device_id, never_rises(p.trigger)))
            continue  # its run is later than this tick
        lateness_ms = now_ms - latest
        late_ok = (
            schedule.missed is MissedPolicy.LATE and lateness_ms <= schedule.late_window_s * 1000
        )
        if lateness_ms <= ON_TIME_MS or late_ok:
            run.append(p.device)
        else:
            skipped.append((p.device.device_id, MISSED))
    if run or skipped:  # a run of the schedule: say who it could not reach
        skipped += unplaced
    return DeviceTick(tuple(run), tuple(skipped), planned_next(schedule.trigger, devices, now_ms))


def _latest_run(trigger: Trigger, after_ms: int, now_ms: int) -> int | None:
    latest: int | None = None
    cursor = after_ms
    for _ in range(_MAX_RUNS_PER_TICK):
        found = next_run_ms(trigger, cursor)
        if found is None or found > now_ms:
            break
        latest = cursor = found
    return latest
