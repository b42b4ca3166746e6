"""Bucket edges in a site's time zone, DST days included."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from wattline.analytics.buckets import (
    MAX_BUCKETS,
    Interval,
    bucket_edges,
    parse_interval,
    parse_tz,
)

LONDON = ZoneInfo("Europe/London")
H_MS = 3_600_000


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1h", Interval(1, "h")),
        ("15m", Interval(15, "m")),
        ("1d", Interval(1, "d")),
        ("1w", Interval(1, "w")),
        ("1mo", Interval(1, "mo")),
        ("3mo", Interval(3, "mo")),
    ],
)
def test_parse_interval(text: str, expected: Interval) -> None:
    assert parse_interval(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize("text", ["", "0d", "1y", "d", "1.5h", "-1h", "1 mo", "99999h"])
def test_bad_intervals_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="positive whole number"):
        parse_interval(text)


@pytest.mark.parametrize("name", ["Mars/Olympus", "../etc/passwd", "", "Europe/"])
def test_unknown_time_zones_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        parse_tz(name)


@pytest.mark.parametrize(
    ("day", "hours"),
    [("2026-03-29", 23), ("2026-10-25", 25), ("2026-06-01", 24), ("2026-01-15", 24)],
)
def test_local_days_last_23_24_or_25_hours(day: str, hours: int) -> None:
    noon = datetime.fromisoformat(f"{day}T12:00:00").replace(tzinfo=LONDON)
    start = int(noon.timestamp() * 1000)
    days = bucket_edges(start, start + 1, Interval(1, "d"), LONDON)
    assert len(days) == 2
    assert days[1] - days[0] == hours * H_MS
    hourly = bucket_edges(days[0], days[1], Interval(1, "h"), LONDON)
    assert len(hourly) - 1 == hours


def test_day_edges_are_local_midnights_across_the_spring_change() -> None:
    edges = bucket_edges(
        ms("2026-03-28T12:00:00+00:00"), ms("2026-03-30T12:00:00+01:00"), Interval(1, "d"), LONDON
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
    edges = bucket_edges(ms(start), ms(end), parse_interval(interval), LONDON)
    assert edges == [ms(e) for e in expected]


def test_hours_follow_local_hours_in_a_half_hour_zone() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")
    edges = bucket_edges(
        ms("2026-01-01T10:10:00+05:30"), ms("2026-01-01T11:00:00+05:30"), Interval(1, "h"), kolkata
    )
    local = [datetime.fromtimestamp(e / 1000, tz=UTC).astimezone(kolkata) for e in edges]
    assert [(t.hour, t.minute) for t in local] == [(10, 0), (11, 0)]


def test_too_many_buckets_and_empty_ranges_are_refused() -> None:
    with pytest.raises(ValueError, match=f"more than {MAX_BUCKETS}"):
        bucket_edges(0, (MAX_BUCKETS + 1) * 60_000, Interval(1, "m"), LONDON)
    with pytest.raises(ValueError, match="before end"):
        bucket_edges(10, 10, Interval(1, "d"), LONDON)
