"""The scheduler: on a timer, under the ``scheduler`` lease, runs every due schedule.

A run issues one ordinary command per targeted device through ``CommandIssuer``
(the command service then queues, signs and delivers it like any other). Each
command expires after ``command_ttl_ms``: a plug that was offline all evening
must not switch on at midnight for the 18:00 schedule.

``run_once`` takes its time from the injected clock, so tests step through
DST changes without waiting.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from wattline.model.devices import Device
from wattline.model.schedules import Schedule
from wattline.schedules.placement import plan_device_tick, uses_device_location
from wattline.schedules.ports import CommandIssuer, DeviceDirectory, Leases, ScheduleStore
from wattline.schedules.timing import plan_tick
from wattline.storage.base import StoreUnavailableError

log = logging.getLogger("wattline.schedules")

LEASE_NAME = "scheduler"
DEFAULT_COMMAND_TTL_MS = 15 * 60 * 1000


@dataclass(frozen=True, slots=True)
class Run:
    schedule_id: str
    planned_ms: int
    command_ids: tuple[str, ...]
    failed_devices: tuple[str, ...]
    # (device id, reason) of targeted devices not sent a command: no location,
    # no sunrise there, or a run missed while Wattline was down
    skipped: tuple[tuple[str, str], ...] = ()


class Scheduler:
    def __init__(  # noqa: PLR0913 - the scheduler's collaborators and timing knobs
        self,
        store: ScheduleStore,
        devices: DeviceDirectory,
        issuer: CommandIssuer,
        clock_ms: Callable[[], int],
        *,
        leases: Leases | None = None,
        holder: str = "local",
        interval_s: float = 5.0,
        lease_ttl_ms: int = 30_000,
        command_ttl_ms: int = DEFAULT_COMMAND_TTL_MS,
    ) -> None:
        self._store = store
        self._devices = devices
        self._issuer = issuer
        self._clock_ms = clock_ms
        self._leases = leases
        self._holder = holder
        self._interval_s = interval_s
        self._lease_ttl_ms = lease_ttl_ms
        self._command_ttl_ms = command_ttl_ms
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> list[Run]:
        if self._leases is not None and not self._leases.try_acquire(
            LEASE_NAME, self._holder, self._lease_ttl_ms
        ):
            return []
        runs: list[Run] = []
        now_ms = self._clock_ms()
        for schedule in self._store.due(now_ms):
            if uses_device_location(schedule.trigger):
                runs.extend(self._run_at_devices(schedule, now_ms))
                continue
            tick = plan_tick(schedule, now_ms)
            # Moved on first: a crash between the two loses a run rather than
            # repeating it (a relay switched twice is the worse mistake).
            moved = self._store.record_run(
                schedule.schedule_id,
                tenant_id=schedule.tenant_id,
                planned_ms=schedule.next_run_ms,
                last_run_ms=now_ms if tick.run else None,
                next_run_ms=tick.next_run_ms,
            )
            if tick.skipped:
                log.info("schedule %s: %d missed runs skipped", schedule.schedule_id, tick.skipped)
            if moved and tick.run and tick.run_for_ms is not None:
                runs.append(self._run(schedule, tick.run_for_ms, now_ms))
        return runs

    def _run_at_devices(self, schedule: Schedule, now_ms: int) -> list[Run]:
        """A sun schedule at its devices' places: those whose own run has come."""
        targets = schedule.target.select(self._devices.list_devices(tenant_id=schedule.tenant_id))
        tick = plan_device_tick(schedule, targets, now_ms)
        moved = self._store.record_run(
            schedule.schedule_id,
            tenant_id=schedule.tenant_id,
            planned_ms=schedule.next_run_ms,
            last_run_ms=now_ms if tick.run else None,
            next_run_ms=tick.next_run_ms,
        )
        for device_id, reason in tick.skipped:
            log.info("schedule %s: %s skipped: %s", schedule.schedule_id, device_id, reason)
        if not moved or (not tick.run and not tick.skipped):
            return []
        planned_ms = schedule.next_run_ms or now_ms
        run = self._run(schedule, planned_ms, now_ms, list(tick.run))
        return [replace(run, skipped=tick.skipped)]

    def _run(
        self, schedule: Schedule, planned_ms: int, now_ms: int, targets: list[Device] | None = None
    ) -> Run:
        if targets is None:
            devices = self._devices.list_devices(tenant_id=schedule.tenant_id)
            targets = schedule.target.select(devices)
        issued: list[str] = []
        failed: list[str] = []
        for device in targets:
            try:
                issued.append(
                    self._issuer.issue(
                        schedule.tenant_id,
                        device.device_id,
                        schedule.command,
                        schedule.parameters,
                        f"schedule:{schedule.schedule_id}",
                        now_ms + self._command_ttl_ms,
                    )
                )
            except Exception:  # one device's refusal (relay safety, gone) must not stop the rest
                log.exception(
                    "schedule %s: no command for %s", schedule.schedule_id, device.device_id
                )
                failed.append(device.device_id)
        return Run(schedule.schedule_id, planned_ms, tuple(issued), tuple(failed))

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="wattline-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._leases is not None:
            self._leases.release(LEASE_NAME, self._holder)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except StoreUnavailableError as exc:
                # an outage is expected and retried: one line, not a traceback each pass
                log.warning("schedules: store unavailable, will retry: %s", exc)
            except Exception:
                log.exception("scheduler round failed; retrying")
            self._stop.wait(self._interval_s)
