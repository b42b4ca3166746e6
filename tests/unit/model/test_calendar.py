"""The one calendar: bucket edges in a site's time zone, DST days included."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattline.model.calendar import (
    Interval,
    Unit,
    bucket_edges,
    bucket_starts,
    parse_interval,
    parse_tz,
)

LONDON = ZoneInfo("Europe/London")
H_MS = 3_600_000
MAX_BUCKETS = 50_000
DAY = Interval(Unit.DAY, 1)


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1s", Interval(Unit.FIXED, 1_000)),
        ("1h", Interval(Unit.FIXED, H_MS)),
        ("15m", Interval(Unit.FIXED, 900_000)),
        ("1d", Interval(Unit.DAY, 1)),
        ("1w", Interval(Unit.WEEK, 1)),
        ("1mo", Interval(Unit.MONTH, 1)),
        ("3mo", Interval(Unit.MONTH, 3)),
    ],
)
def test_parse_interval(text: str, expected: Interval) -> None:
    assert parse_interval(text) == expected


@pytest.mark.parametrize("text", ["", "0d", "1y", "d", "1.5h", "-1h", "1 mo", "9999999h"])
def test_bad_intervals_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="positive whole number"):
        parse_interval(text)


@pytest.mark.parametrize("name", ["Mars/Olympus", "../etc/passwd", "", "Europe/"])
def test_unknown_time_zones_are_refused(name: str) -> None:
    if not name:
        assert parse_tz(name) is None  # absent: UTC, chosen by the caller
        return
    with pytest.raises(ValueError, match="not an IANA time zone"):
        parse_tz(name)


@pytest.mark.parametrize(
    ("day", "hours"),
    [("2026-03-29", 23), ("2026-10-25", 25), ("2026-06-01", 24), ("2026-01-15", 24)],
)
def test_local_days_last_23_24_or_25_hours(day: str, hours: int) -> None:
    noon = datetime.fromisoformat(f"{day}T12:00:00").replace(tzinfo=LONDON)
    start = int(noon.timestamp() * 1000)
    days = bucket_edges(start, start + 1, DAY, LONDON, MAX_BUCKETS)
    assert len(days) == 2
    assert days[1] - days[0] == hours * H_MS
    hourly = bucket_edges(days[0], days[1], Interval(Unit.FIXED, H_MS), LONDON, MAX_BUCKETS)
    assert len(hourly) - 1 == hours


def test_day_edges_are_local_midnights_across_the_spring_change() -> None:
    edges = bucket_edges(
        ms("2026-03-28T12:00:00+00:00"),
        ms("2026-03-30T12:00:00+01:00"),
        DAY,
        LONDON,
        MAX_BUCKETS,
    )
    assert edges == [
        ms("2026-03-28T00:00:00+00:00"),
        ms("2026-03-29T00:00:00+00:00"),
        ms("2026-03-30T00:00:00+01:00"),
        ms("2026-03-31T00:00:00+01:00"),
    ]


@pytest.mark.parametrize(
    ("interval", "start", "end", "expected"),
    [
        # ISO weeks start on Monday, local midnight
        (
            "1w",
            "2026-10-21T10:00:00+01:00",
            "2026-10-27T00:00:00+00:00",
            ["2026-10-19T00:00:00+01:00", "2026-10-26T00:00:00+00:00", "2026-11-02T00:00:00+00:00"],
        ),
        (
            "1mo",
            "2026-03-15T00:00:00+00:00",
            "2026-04-02T00:00:00+01:00",
            ["2026-03-01T00:00:00+00:00", "2026-04-01T00:00:00+01:00", "2026-05-01T00:00:00+01:00"],
        ),
        (
            "3mo",
            "2026-05-15T00:00:00+01:00",
            "2026-07-01T00:00:00+01:00",
            ["2026-04-01T00:00:00+01:00", "2026-07-01T00:00:00+01:00"],
        ),
        (
            "1mo",
            "2026-12-05T00:00:00+00:00",
            "2027-01-02T00:00:00+00:00",
            ["2026-12-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00", "2027-02-01T00:00:00+00:00"],
        ),
        (
            "15m",
            "2026-03-29T00:20:00+00:00",
            "2026-03-29T01:00:00+00:00",
            [
                "2026-03-29T00:15:00+00:00",
                "2026-03-29T00:30:00+00:00",
                "2026-03-29T00:45:00+00:00",
                "2026-03-29T01:00:00+00:00",
            ],
        ),
    ],
)
def test_calendar_and_fixed_edges(interval: str, start: str, end: str, expected: list[str]) -> None:
    edges = bucket_edges(ms(start), ms(end), parse_interval(interval), LONDON, MAX_BUCKETS)
    assert edges == [ms(e) for e in expected]


def test_hours_follow_local_hours_in_a_half_hour_zone() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")
    edges = bucket_edges(
        ms("2026-01-01T10:10:00+05:30"),
        ms("2026-01-01T11:00:00+05:30"),
        Interval(Unit.FIXED, H_MS),
        kolkata,
        MAX_BUCKETS,
    )
    local = [datetime.fromtimestamp(e / 1000, tz=UTC).astimezone(kolkata) for e in edges]
    assert [(t.hour, t.minute) for t in local] == [(10, 0), (11, 0)]


def test_too_many_buckets_and_empty_ranges_are_refused() -> None:
    with pytest.raises(ValueError, match=f"more than {MAX_BUCKETS}"):
        bucket_edges(
            0, (MAX_BUCKETS + 1) * 60_000, Interval(Unit.FIXED, 60_000), LONDON, MAX_BUCKETS
        )
    with pytest.raises(ValueError, match="before end"):
        bucket_edges(10, 10, DAY, LONDON, MAX_BUCKETS)


@pytest.mark.parametrize(
    ("interval", "start", "first"),
    [
        # issue 9: energy started these on the query's first day (or aligned months to
        # the year), telemetry on a grid: days since 1970-01-01, weeks since Monday
        # 1970-01-05, months since year 0
        ("2d", "2026-03-05T12:00:00+00:00", "2026-03-04T00:00:00+00:00"),
        ("2d", "2026-03-06T12:00:00+00:00", "2026-03-06T00:00:00+00:00"),
        ("2w", "2026-03-09T12:00:00+00:00", "2026-03-02T00:00:00+00:00"),
        ("5mo", "2026-03-04T12:00:00+00:00", "2025-11-01T00:00:00+00:00"),
        ("5mo", "2026-11-04T12:00:00+00:00", "2026-09-01T00:00:00+01:00"),
        ("5mo", "2027-02-04T12:00:00+00:00", "2027-02-01T00:00:00+00:00"),
        ("3mo", "2026-05-15T12:00:00+01:00", "2026-04-01T00:00:00+01:00"),
    ],
)
def test_multiples_align_to_a_fixed_grid_not_to_the_query(
    interval: str, start: str, first: str
) -> None:
    edges = bucket_edges(ms(start), ms(start) + 1, parse_interval(interval), LONDON, MAX_BUCKETS)
    assert edges[0] == ms(first)


INTERVALS = st.sampled_from(
    ["15m", "1h", "6h", "1d", "2d", "3d", "1w", "2w", "1mo", "3mo", "5mo", "12mo"]
)
ZONES = st.sampled_from(
    [None, "UTC", "Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
)
INSTANTS = st.integers(946_684_800_000, 4_102_444_800_000)


@given(interval=INTERVALS, zone=ZONES, a=INSTANTS, b=INSTANTS)
def test_any_instant_lies_in_the_same_bucket_whatever_the_range(
    interval: str, zone: str | None, a: int, b: int
) -> None:
    """Buckets are a grid: asking from a or from b, the buckets they share are the same."""
    spec, tz = parse_interval(interval), parse_tz(zone)
    start, end = min(a, b), max(a, b) + 1
    if (end - start) // spec.shortest_ms > 2_000:
        end = start + 2_000 * spec.shortest_ms
    whole = bucket_starts(start, end, spec, tz)
    middle = (start + end) // 2
    tail = bucket_starts(middle, end, spec, tz)
    assert whole[-len(tail) :] == tail
    assert whole == sorted(set(whole))
