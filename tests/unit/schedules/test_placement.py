"""Sun schedules at each device's location: which devices run when. Pure."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from wattline.model.devices import Device, Location, location_problem
from wattline.model.messages import ConnectionState
from wattline.model.schedules import MissedPolicy, Schedule, SunEvent, Trigger, TriggerKind
from wattline.model.solar import sun_times_ms
from wattline.model.targets import Target
from wattline.schedules.placement import (
    RECHECK_MS,
    next_run_of,
    plan_device_tick,
    upcoming_of,
    uses_device_location,
)

MINUTE_MS = 60_000
SUNSET = Trigger(TriggerKind.SUN, "Europe/Berlin", sun_event=SunEvent.SUNSET)
BERLIN = Location(52.52, 13.40)
LISBON = Location(38.72, -9.14)


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def device(device_id: str, location: Location | None) -> Device:
    return Device(device_id, "plug", None, (), 0, None, ConnectionState.ONLINE, None, (), location)


def schedule(next_run_ms: int | None, missed: MissedPolicy = MissedPolicy.SKIP) -> Schedule:
    return Schedule(
        "s1", "t", "dusk", Target(tag="garden"), SUNSET, "relay_on",
        missed=missed, late_window_s=20 * 60, next_run_ms=next_run_ms,
    )  # fmt: skip


def sunset_ms(day: date, where: Location) -> int:
    times = sun_times_ms(day, where.latitude_deg, where.longitude_deg)
    assert times is not None
    return times[1]


def test_only_a_sun_trigger_without_coordinates_uses_device_locations() -> None:
    assert uses_device_location(SUNSET)
    placed = Trigger(
        TriggerKind.SUN, "UTC", sun_event=SunEvent.SUNSET, latitude_deg=1, longitude_deg=2
    )
    assert not uses_device_location(placed)
    assert not uses_device_location(Trigger(TriggerKind.DAILY, "UTC", daily_time="10:00"))


def test_next_run_is_the_earliest_device_and_each_runs_at_its_own_sunset() -> None:
    devices = [device("ber", BERLIN), device("lis", LISBON), device("nowhere", None)]
    now = ms("2026-06-01T12:00+02:00")
    first = next_run_of(SUNSET, devices, now)
    assert first == sunset_ms(date(2026, 6, 1), BERLIN)
    tick = plan_device_tick(schedule(first), devices, first + 10_000)
    assert [d.device_id for d in tick.run] == ["ber"]
    assert tick.skipped[0][0] == "nowhere"
    lisbon = sunset_ms(date(2026, 6, 1), LISBON)
    # stored: the next run, or sooner the next look for devices that changed
    assert tick.next_run_ms == min(lisbon, first + 10_000 + RECHECK_MS)
    looked = plan_device_tick(schedule(tick.next_run_ms), devices, tick.next_run_ms)
    assert looked.run == ()
    assert looked.skipped == ()  # nothing due: no reasons repeated every look
    later = plan_device_tick(schedule(lisbon), devices, lisbon + 10_000)
    assert [d.device_id for d in later.run] == ["lis"]
    assert next_run_of(SUNSET, devices, lisbon + 10_000) == sunset_ms(date(2026, 6, 2), BERLIN)


def test_runs_missed_while_down_follow_the_policy_per_device() -> None:
    devices = [device("ber", BERLIN), device("lis", LISBON)]
    planned = sunset_ms(date(2026, 6, 1), BERLIN)
    now = sunset_ms(date(2026, 6, 1), LISBON) + 10 * MINUTE_MS  # both missed, Lisbon recently
    skip = plan_device_tick(schedule(planned), devices, now)
    assert skip.run == ()
    assert {d for d, _ in skip.skipped} == {"ber", "lis"}
    late = plan_device_tick(schedule(planned, MissedPolicy.LATE), devices, now)
    assert now - planned > 20 * MINUTE_MS  # Berlin's run is beyond the late window
    assert [d.device_id for d in late.run] == ["lis"]


def test_a_polar_summer_has_no_sunset_until_august_and_the_pole_none_at_all() -> None:
    svalbard = device("lyr", Location(78.22, 15.65))
    midsummer = ms("2026-06-21T12:00+02:00")
    found = next_run_of(SUNSET, [svalbard], midsummer)
    assert found is not None
    assert datetime.fromtimestamp(found / 1000, tz=UTC).date() > date(2026, 8, 15)
    pole = device("pole", Location(90.0, 0.0))
    assert next_run_of(SUNSET, [pole], midsummer) is None
    tick = plan_device_tick(schedule(midsummer), [pole], midsummer + 1)
    assert "does not set" in tick.skipped[0][1]


def test_sunsets_over_the_spring_change_move_by_minutes_not_an_hour() -> None:
    runs = upcoming_of(SUNSET, [device("ber", BERLIN)], ms("2026-03-27T12:00+01:00"), 4)
    gaps_min = [(b - a) / MINUTE_MS for a, b in itertools.pairwise(runs)]
    assert all(24 * 60 < gap < 24 * 60 + 5 for gap in gaps_min)  # a day and a minute or two
    local = [datetime.fromtimestamp(r / 1000, tz=ZoneInfo("Europe/Berlin")) for r in runs]
    assert [t.utcoffset().total_seconds() / 3600 for t in local if t.utcoffset()] == [1, 1, 2, 2]
    assert local[2].hour == local[1].hour + 1  # the local time jumps with the clocks


EDGES = st.sampled_from([-180.0, -90.0, 0.0, 90.0, 180.0, math.nextafter(90.0, 91.0),
                         math.nextafter(-90.0, -91.0), math.nextafter(180.0, 181.0),
                         math.nextafter(-180.0, -181.0)])  # fmt: skip
ANY = st.one_of(EDGES, st.floats(allow_nan=True, allow_infinity=True))


@given(latitude=ANY, longitude=ANY)
def test_a_location_is_valid_exactly_in_range(latitude: float, longitude: float) -> None:
    valid = (
        math.isfinite(latitude)
        and math.isfinite(longitude)
        and abs(latitude) <= 90
        and abs(longitude) <= 180
    )
    assert (location_problem(latitude, longitude) is None) == valid
