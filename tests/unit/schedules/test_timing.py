"""When schedules run, across both 2026 DST changes in Berlin and New York. Pure.

2026: Europe/Berlin springs forward on 29 March (02:00 CET -> 03:00 CEST) and
falls back on 25 October (03:00 CEST -> 02:00 CET); America/New_York springs
forward on 8 March (02:00 EST -> 03:00 EDT) and falls back on 1 November
(02:00 EDT -> 01:00 EST).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattline.model.devices import Device
from wattline.model.messages import ConnectionState
from wattline.model.schedules import MissedPolicy, Schedule, SunEvent, Trigger, TriggerKind
from wattline.model.solar import sun_times_ms
from wattline.model.targets import Target
from wattline.schedules.scheduler import Scheduler
from wattline.schedules.timing import next_run_ms, plan_tick, trigger_problem

BERLIN, NEW_YORK = "Europe/Berlin", "America/New_York"
MINUTE_MS = 60_000


def ms(text: str) -> int:
    """An ISO time with its offset, as epoch ms."""
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def local(ms_: int, zone: str) -> str:
    return datetime.fromtimestamp(ms_ / 1000, tz=UTC).astimezone(ZoneInfo(zone)).isoformat()


def daily(zone: str, at: str) -> Trigger:
    return Trigger(TriggerKind.DAILY, zone, daily_time=at)


def cron(zone: str, expression: str) -> Trigger:
    return Trigger(TriggerKind.CRON, zone, cron=expression)


@pytest.mark.parametrize(
    ("trigger", "after", "expected"),
    [
        # spring forward: the skipped 02:30 runs once, shifted by the gap
        (daily(BERLIN, "02:30"), "2026-03-28T12:00+01:00", "2026-03-29T03:30:00+02:00"),
        (daily(BERLIN, "02:30"), "2026-03-29T03:30+02:00", "2026-03-30T02:30:00+02:00"),
        (daily(NEW_YORK, "02:30"), "2026-03-07T12:00-05:00", "2026-03-08T03:30:00-04:00"),
        (daily(NEW_YORK, "02:30"), "2026-03-08T03:30-04:00", "2026-03-09T02:30:00-04:00"),
        # fall back: the repeated 02:30 (Berlin) / 01:30 (New York) runs at its first pass only
        (daily(BERLIN, "02:30"), "2026-10-24T12:00+02:00", "2026-10-25T02:30:00+02:00"),
        (daily(BERLIN, "02:30"), "2026-10-25T02:30+02:00", "2026-10-26T02:30:00+01:00"),
        (daily(NEW_YORK, "01:30"), "2026-10-31T12:00-04:00", "2026-11-01T01:30:00-04:00"),
        (daily(NEW_YORK, "01:30"), "2026-11-01T01:30-04:00", "2026-11-02T01:30:00-05:00"),
        # times away from the change keep their local time across it
        (daily(BERLIN, "07:00"), "2026-03-28T08:00+01:00", "2026-03-29T07:00:00+02:00"),
        (daily(NEW_YORK, "07:00"), "2026-10-31T08:00-04:00", "2026-11-01T07:00:00-05:00"),
        # a cron at a fixed hour follows the same rules
        (cron(BERLIN, "30 2 * * 0"), "2026-03-23T00:00+01:00", "2026-03-29T03:30:00+02:00"),
    ],
)
def test_next_run_across_dst(trigger: Trigger, after: str, expected: str) -> None:
    found = next_run_ms(trigger, ms(after))
    assert found is not None
    assert local(found, trigger.timezone) == expected


def runs_between(trigger: Trigger, start: str, end: str) -> list[str]:
    found, cursor, stop = [], ms(start), ms(end)
    while (following := next_run_ms(trigger, cursor)) is not None and following < stop:
        found.append(local(following, trigger.timezone)[11:])
        cursor = following
    return found


def test_an_hourly_cron_runs_in_both_passes_of_the_repeated_hour() -> None:
    runs = runs_between(
        cron(BERLIN, "0 * * * *"), "2026-10-25T00:30+02:00", "2026-10-25T04:30+01:00"
    )
    assert runs == [
        "01:00:00+02:00",
        "02:00:00+02:00",
        "02:00:00+01:00",
        "03:00:00+01:00",
        "04:00:00+01:00",
    ]


def test_an_hourly_cron_skips_the_missing_hour_without_a_double_run() -> None:
    runs = runs_between(
        cron(NEW_YORK, "0 * * * *"), "2026-03-08T00:30-05:00", "2026-03-08T04:30-04:00"
    )
    assert runs == ["01:00:00-05:00", "03:00:00-04:00", "04:00:00-04:00"]


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        (BERLIN, "2026-03-29", 23),
        (BERLIN, "2026-10-25", 25),
        (NEW_YORK, "2026-03-08", 23),
        (NEW_YORK, "2026-11-01", 25),
    ],
)
def test_every_15_minutes_counts_the_days_real_length(zone: str, day: str, hours: int) -> None:
    start = datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(zone))
    end = (start + timedelta(days=1)).replace(tzinfo=ZoneInfo(zone))
    trigger = cron(zone, "*/15 * * * *")
    found, cursor = 0, int(start.timestamp() * 1000) - 1
    while (
        following := next_run_ms(trigger, cursor)
    ) is not None and following < end.timestamp() * 1000:
        found += 1
        cursor = following
    assert found == hours * 4


@given(
    day=st.dates(date(2026, 1, 1), date(2027, 12, 31)),
    at=st.tuples(st.integers(0, 23), st.integers(0, 59)),
    zone=st.sampled_from([BERLIN, NEW_YORK, "Australia/Lord_Howe", "UTC"]),
)
def test_a_daily_schedule_runs_exactly_once_per_local_day(
    day: date, at: tuple[int, int], zone: str
) -> None:
    trigger = daily(zone, f"{at[0]:02d}:{at[1]:02d}")
    tz = ZoneInfo(zone)
    midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
    following = next_run_ms(trigger, int(midnight.timestamp() * 1000) - 1)
    assert following is not None
    when = datetime.fromtimestamp(following / 1000, tz=tz)
    assert when.date() == day
    after = next_run_ms(trigger, following)
    assert after is not None
    assert datetime.fromtimestamp(after / 1000, tz=tz).date() == day + timedelta(days=1)


def test_sunrise_and_sunset_with_an_offset() -> None:
    times = sun_times_ms(date(2026, 6, 21), 52.52, 13.405)
    assert times is not None
    # Berlin, midsummer: sunrise 04:43, sunset 21:33 CEST (almanac), within two minutes
    assert abs(times[0] - ms("2026-06-21T04:43+02:00")) < 2 * MINUTE_MS
    assert abs(times[1] - ms("2026-06-21T21:33+02:00")) < 2 * MINUTE_MS
    before_dusk = Trigger(
        TriggerKind.SUN,
        BERLIN,
        sun_event=SunEvent.SUNSET,
        offset_min=-30,
        latitude_deg=52.52,
        longitude_deg=13.405,
    )
    found = next_run_ms(before_dusk, ms("2026-06-21T12:00+02:00"))
    assert found is not None
    assert abs(found - (times[1] - 30 * MINUTE_MS)) < 1000
    assert sun_times_ms(date(2026, 6, 21), 80.0, 15.0) is None  # midnight sun


@pytest.mark.parametrize(
    ("trigger", "field"),
    [
        (Trigger(TriggerKind.DAILY, "Mars/Olympus"), "timezone"),
        (Trigger(TriggerKind.DAILY, BERLIN, daily_time="24:00"), "daily_time"),
        (Trigger(TriggerKind.CRON, BERLIN, cron="61 * * * *"), "cron"),
        (Trigger(TriggerKind.CRON, BERLIN, cron="* * *"), "cron"),
        # neither coordinate is fine (each device's location); one alone is not
        (
            Trigger(TriggerKind.SUN, BERLIN, sun_event=SunEvent.SUNRISE, latitude_deg=1),
            "latitude_deg",
        ),
        (
            Trigger(
                TriggerKind.SUN,
                BERLIN,
                sun_event=SunEvent.SUNRISE,
                latitude_deg=float("nan"),
                longitude_deg=0,
            ),
            "latitude_deg",
        ),
        (
            Trigger(
                TriggerKind.SUN,
                BERLIN,
                sun_event=SunEvent.SUNSET,
                latitude_deg=0,
                longitude_deg=float("inf"),
            ),
            "longitude_deg",
        ),
        (Trigger(TriggerKind.SUN, BERLIN), "sun_event"),
    ],
)
def test_bad_triggers_name_their_field(trigger: Trigger, field: str) -> None:
    problem = trigger_problem(trigger)
    assert problem is not None
    assert problem[0] == field


def schedule(trigger: Trigger, **changes: object) -> Schedule:
    base = Schedule("s1", "t", "lights", Target(tag="garden"), trigger, "relay_on")
    return replace(base, **changes)  # type: ignore[arg-type]


def test_missed_runs_are_skipped_or_run_once_late() -> None:
    trigger = daily(BERLIN, "18:00")
    planned = ms("2026-03-27T18:00+01:00")
    back = ms("2026-03-29T19:00+02:00")  # down for two days, back an hour after the third run
    skip = plan_tick(schedule(trigger, next_run_ms=planned), back)
    assert (skip.run, skip.skipped) == (False, 3)
    assert skip.next_run_ms == ms("2026-03-30T18:00+02:00")
    late = plan_tick(
        schedule(trigger, next_run_ms=planned, missed=MissedPolicy.LATE, late_window_s=7200), back
    )
    assert (late.run, late.run_for_ms, late.skipped) == (True, ms("2026-03-29T18:00+02:00"), 2)
    too_late = plan_tick(
        schedule(trigger, next_run_ms=planned, missed=MissedPolicy.LATE, late_window_s=1800), back
    )
    assert (too_late.run, too_late.skipped) == (False, 3)
    on_time = plan_tick(schedule(trigger, next_run_ms=planned), planned + 5_000)
    assert (on_time.run, on_time.skipped) == (True, 0)


@dataclass
class MemorySchedules:
    items: dict[str, Schedule] = field(default_factory=dict)

    def due(self, now_ms: int, limit: int = 500) -> list[Schedule]:
        return [
            s
            for s in self.items.values()
            if s.enabled and s.next_run_ms is not None and s.next_run_ms <= now_ms
        ][:limit]

    def record_run(
        self,
        schedule_id: str,
        *,
        tenant_id: str,
        planned_ms: int | None,
        last_run_ms: int | None,
        next_run_ms: int | None,
    ) -> bool:
        current = self.items[schedule_id]
        assert current.tenant_id == tenant_id
        if current.next_run_ms != planned_ms:
            return False
        self.items[schedule_id] = replace(
            current, next_run_ms=next_run_ms, last_run_ms=last_run_ms or current.last_run_ms
        )
        return True


@dataclass
class Devices:
    def list_devices(self, *, tenant_id: str) -> list[Device]:
        del tenant_id
        return [
            Device(
                f"lamp-{i}",
                "smart_plug",
                "1",
                (),
                0,
                None,
                ConnectionState.ONLINE,
                None,
                ("garden",) if i < 2 else (),
            )
            for i in range(3)
        ]


@dataclass
class Issued:
    commands: list[tuple[str, str, int]] = field(default_factory=list)

    def issue(  # noqa: PLR0917 - CommandIssuer's signature
        self,
        tenant_id: str,
        device_id: str,
        name: str,
        parameters: object,
        issuer: str,
        expires_at: int,
    ) -> str:
        del tenant_id, parameters, issuer
        self.commands.append((device_id, name, expires_at))
        return f"cmd-{len(self.commands)}"


@pytest.mark.parametrize(
    ("zone", "at", "day", "expected"),
    [
        (BERLIN, "02:30", "2026-03-29", "2026-03-29T03:30:00+02:00"),
        (BERLIN, "02:30", "2026-10-25", "2026-10-25T02:30:00+02:00"),
        (NEW_YORK, "02:30", "2026-03-08", "2026-03-08T03:30:00-04:00"),
        (NEW_YORK, "01:30", "2026-11-01", "2026-11-01T01:30:00-04:00"),
    ],
)
def test_the_scheduler_over_a_dst_night_with_an_injected_clock(
    zone: str, at: str, day: str, expected: str
) -> None:
    """A tick every minute from the evening before to the morning after: one run, at its time."""
    tz = ZoneInfo(zone)
    start = int(
        (datetime.fromisoformat(day).replace(tzinfo=tz) - timedelta(hours=6)).timestamp() * 1000
    )
    now = [start]
    store = MemorySchedules()
    trigger = daily(zone, at)
    store.items["s1"] = schedule(trigger, next_run_ms=next_run_ms(trigger, start))
    issued = Issued()
    scheduler = Scheduler(store, Devices(), issued, lambda: now[0])  # type: ignore[arg-type]
    run_times = []
    for _ in range(20 * 60):
        for run in scheduler.run_once():
            run_times.append(local(now[0], zone))
            assert run.command_ids == ("cmd-1", "cmd-2")[: len(run.command_ids)]
        now[0] += MINUTE_MS
    assert run_times == [expected]
    assert [d for d, _, _ in issued.commands] == ["lamp-0", "lamp-1"]
    assert all(expires == ms(expected) + 15 * MINUTE_MS for _, _, expires in issued.commands)


@given(
    expression=st.one_of(st.text(max_size=40), st.text("0123456789*/,- LW#?", max_size=40)),
    zone=st.one_of(st.text(max_size=30), st.sampled_from([BERLIN, "Europe", "../etc", ""])),
)
def test_any_text_gets_an_answer_never_an_exception(expression: str, zone: str) -> None:
    problem = trigger_problem(Trigger(TriggerKind.CRON, zone, cron=expression))
    if problem is None:
        next_run_ms(Trigger(TriggerKind.CRON, zone, cron=expression), 0)  # computes, no raise
    else:
        assert problem[0] in {"cron", "timezone"}
