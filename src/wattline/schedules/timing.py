"""When a schedule runs: cron, daily and sun triggers in local time, DST included. Pure.

Local wall-clock times are turned into instants by two rules, the ones cron
and systemd follow:

- a time that does not exist (the hour skipped when clocks go forward) runs
  once, shifted forward by the gap: 02:30 on the spring-forward night in
  Berlin runs at 03:30 CEST, in New York at 03:30 EDT;
- a time that exists twice (the hour repeated when clocks go back) runs once,
  at its first occurrence (before the change), so 02:30 in Berlin on
  2026-10-25 runs at 02:30 CEST and not again at 02:30 CET.

Only a cron expression that runs every hour (its hour field is ``*``) runs in
both passes of the repeated hour too: "every 15 minutes" must not stop for an
hour. A shifted time that lands on another run of the same schedule runs once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from wattline.model.devices import location_problem
from wattline.model.schedules import MissedPolicy, Schedule, SunEvent, Trigger, TriggerKind
from wattline.model.solar import sun_times_ms

# Looking for a next run stops after this many cron matches or days (a cron
# like "0 0 30 2 *" never matches; a sun trigger near a pole may not for months).
_MAX_MATCHES = 5000
_MAX_DAYS = 400
# How far local-time mapping can move a run (the longest DST gap in use is 1 h;
# 3 h leaves room for odd zones).
_SHIFT_LIMIT_MS = 3 * 3_600_000
# A run found within this long of its time is on time, whatever the policy:
# the scheduler's tick and a busy database make a few seconds' lateness normal.
ON_TIME_MS = 60_000


def zone_of(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def instants(naive: datetime, zone: ZoneInfo, *, both_folds: bool) -> list[int]:
    """Epoch ms at which local time ``naive`` happens in ``zone`` (by the rules above)."""
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    first_ms = _ms(first)
    second_ms = _ms(second)
    if first_ms == second_ms:
        return [first_ms]  # an ordinary time
    if first_ms > second_ms:
        # A gap: fold=0 reads it with the offset before the change, which is the
        # time shifted forward by the gap.
        return [first_ms]
    return [first_ms, second_ms] if both_folds else [first_ms]


def _ms(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp() * 1000)


def daily_cron(daily_time: str) -> str:
    hour, minute = daily_time.split(":")
    return f"{int(minute)} {int(hour)} * * *"


def cron_of(trigger: Trigger) -> str | None:
    if trigger.kind is TriggerKind.CRON:
        return trigger.cron
    if trigger.kind is TriggerKind.DAILY and trigger.daily_time is not None:
        return daily_cron(trigger.daily_time)
    return None


def next_run_ms(trigger: Trigger, after_ms: int) -> int | None:
    """The first run strictly after ``after_ms``; None when there is none within a year."""
    zone = zone_of(trigger.timezone)
    expression = cron_of(trigger)
    if expression is not None:
        return _next_cron(expression, zone, after_ms)
    return _next_sun(trigger, zone, after_ms)


def _next_cron(expression: str, zone: ZoneInfo, after_ms: int) -> int | None:
    every_hour = expression.split()[1] == "*"
    local_after = datetime.fromtimestamp(after_ms / 1000, tz=UTC).astimezone(zone)
    # Start early enough that a shifted (gap) time landing after after_ms is seen.
    start = (local_after - timedelta(milliseconds=_SHIFT_LIMIT_MS)).replace(tzinfo=None)
    best: int | None = None
    for count, naive in enumerate(CronSim(expression, start)):
        for candidate in instants(naive, zone, both_folds=every_hour):
            if candidate > after_ms and (best is None or candidate < best):
                best = candidate
        naive_ms = int(naive.replace(tzinfo=UTC).timestamp() * 1000)
        offset_ms = int((local_after.utcoffset() or timedelta()).total_seconds() * 1000)
        if best is not None and naive_ms - offset_ms > best + 2 * _SHIFT_LIMIT_MS:
            return best
        if count >= _MAX_MATCHES:
            return best
    return best


def _next_sun(trigger: Trigger, zone: ZoneInfo, after_ms: int) -> int | None:
    """None also for a trigger without coordinates: it runs at its devices' places."""
    if trigger.latitude_deg is None or trigger.longitude_deg is None:
        return None
    day = datetime.fromtimestamp(after_ms / 1000, tz=UTC).astimezone(zone).date()
    for offset_days in range(-1, _MAX_DAYS):
        times = sun_times_ms(
            day + timedelta(days=offset_days), trigger.latitude_deg, trigger.longitude_deg
        )
        if times is None:
            continue
        at_ms = (
            times[0] if trigger.sun_event is SunEvent.SUNRISE else times[1]
        ) + trigger.offset_min * 60_000
        if at_ms > after_ms:
            return at_ms
    return None


def upcoming(trigger: Trigger, after_ms: int, count: int) -> list[int]:
    """The next ``count`` runs (fewer when the trigger runs out)."""
    runs: list[int] = []
    cursor = after_ms
    while len(runs) < count:
        found = next_run_ms(trigger, cursor)
        if found is None:
            break
        runs.append(found)
        cursor = found
    return runs


@dataclass(frozen=True, slots=True)
class Tick:
    """What the scheduler does for one due schedule now."""

    run: bool
    # the run time being honoured (the latest due one), when run
    run_for_ms: int | None
    # due runs not made: missed while down, or all but the latest of them
    skipped: int
    next_run_ms: int | None


def plan_tick(schedule: Schedule, now_ms: int) -> Tick:
    """Given a schedule whose ``next_run_ms`` has come, decide whether to run and what next.

    Runs due at most ``ON_TIME_MS`` ago run. Older ones were missed (Wattline
    was down): ``skip`` drops them, ``late`` runs the latest of them once if it
    is within ``late_window_s``. Either way at most one run happens per tick.
    """
    planned = schedule.next_run_ms
    if planned is None or planned > now_ms:
        upcoming_ms = planned if planned is not None else next_run_ms(schedule.trigger, now_ms)
        return Tick(run=False, run_for_ms=None, skipped=0, next_run_ms=upcoming_ms)
    due = list(_due_runs(schedule.trigger, planned, now_ms))
    latest = due[-1]
    following = next_run_ms(schedule.trigger, now_ms)
    lateness_ms = now_ms - latest
    if lateness_ms <= ON_TIME_MS:
        return Tick(run=True, run_for_ms=latest, skipped=len(due) - 1, next_run_ms=following)
    late_ok = schedule.missed is MissedPolicy.LATE and lateness_ms <= schedule.late_window_s * 1000
    return Tick(
        run=late_ok,
        run_for_ms=latest if late_ok else None,
        skipped=len(due) - (1 if late_ok else 0),
        next_run_ms=following,
    )


def _due_runs(trigger: Trigger, first_ms: int, now_ms: int) -> Iterator[int]:
    yield first_ms
    cursor = first_ms
    for _ in range(_MAX_MATCHES):
        found = next_run_ms(trigger, cursor)
        if found is None or found > now_ms:
            return
        yield found
        cursor = found


def trigger_problem(trigger: Trigger) -> tuple[str, str] | None:
    """(field, message) of what is wrong with ``trigger``, or None."""
    try:
        zone_of(trigger.timezone)
    except (ValueError, KeyError, OSError):  # not a name, not found, a folder of zones
        return "timezone", f"unknown time zone {trigger.timezone[:64]!r} (use an IANA name)"
    if trigger.kind is TriggerKind.CRON:
        return _cron_problem(trigger.cron)
    if trigger.kind is TriggerKind.DAILY:
        return _daily_problem(trigger.daily_time)
    return _sun_problem(trigger)


def _sun_problem(trigger: Trigger) -> tuple[str, str] | None:
    if trigger.sun_event is None:
        return "sun_event", "a sun trigger needs sun_event: sunrise or sunset"
    if (trigger.latitude_deg is None) != (trigger.longitude_deg is None):
        # neither: each device's own location applies (schedules/placement.py)
        return "latitude_deg", "give both latitude_deg and longitude_deg, or neither"
    if trigger.latitude_deg is not None and trigger.longitude_deg is not None:
        problem = location_problem(trigger.latitude_deg, trigger.longitude_deg)
        if problem:
            return problem.split(" ", 1)[0], problem
    return None


def _cron_problem(cron: str | None) -> tuple[str, str] | None:
    if not cron:
        return "cron", "a cron trigger needs a cron expression"
    if len(cron.split()) != 5:
        return "cron", "a cron expression has five fields: minute hour day month weekday"
    try:
        CronSim(cron, datetime(2026, 1, 1))  # noqa: DTZ001 - cron runs on local wall time
    except (CronSimError, ValueError, IndexError) as exc:
        return "cron", f"not a cron expression: {exc}"
    return None


def _daily_problem(daily_time: str | None) -> tuple[str, str] | None:
    parts = (daily_time or "").split(":")
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts):
        return "daily_time", "daily_time is HH:MM (24 h)"
    if int(parts[0]) > 23 or int(parts[1]) > 59:
        return "daily_time", "daily_time is HH:MM (24 h)"
    return None


def first_day(ms: int, zone: ZoneInfo) -> date:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(zone).date()
