"""Bucket edges in UTC and in a time zone, and which tier answers them exactly."""

from __future__ import annotations

import functools
import math
from datetime import UTC, datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from wattline.model.calendar import (
    Interval,
    TooManyBucketsError,
    Unit,
    bucket_starts,
    enclosing_bucket,
)
from wattline.storage.bucketing import (
    Cell,
    _grid,
    _spacing,
    answers_exactly,
    assemble,
    choose_source,
    plan_buckets,
)
from wattline.storage.rollups import DAY_MS, HOUR_MS, MINUTE_MS, TIERS, Aggregate, Tier

LONDON = ZoneInfo("Europe/London")
KOLKATA = ZoneInfo("Asia/Kolkata")  # UTC+05:30 all year
KATHMANDU = ZoneInfo("Asia/Kathmandu")  # UTC+05:45


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp() * 1000)


def fixed(width_ms: int) -> Interval:
    return Interval(Unit.FIXED, width_ms)


DAY, WEEK, MONTH = Interval(Unit.DAY, 1), Interval(Unit.WEEK, 1), Interval(Unit.MONTH, 1)
JAN = ms("2026-01-01T00:00:00+00:00")


@pytest.mark.parametrize(
    ("start", "end", "interval", "tz", "source"),
    [
        # UTC, aligned: the coarsest tier whose width divides the interval
        (JAN, JAN + 7 * DAY_MS, DAY, None, Tier.D1),
        (JAN, JAN + DAY_MS, fixed(6 * HOUR_MS), None, Tier.H1),
        (JAN, JAN + DAY_MS, fixed(15 * MINUTE_MS), None, Tier.M1),
        (JAN, JAN + 2 * DAY_MS, fixed(90 * MINUTE_MS), None, Tier.M1),
        (JAN, JAN + 3_600_000, fixed(30_000), None, None),  # sub-minute: raw only
        # an unaligned end or start falls back to the tier it is aligned to
        (JAN, JAN + DAY_MS + MINUTE_MS, DAY, None, Tier.M1),
        (JAN + 1, JAN + DAY_MS, DAY, None, None),
        # calendar months and Monday weeks in UTC are whole days
        (JAN, ms("2026-04-01T00:00:00+00:00"), MONTH, None, Tier.D1),
        (ms("2026-01-05T00:00:00+00:00"), ms("2026-02-02T00:00:00+00:00"), WEEK, None, Tier.D1),
        # London in winter is UTC; across BST its midnights are 23:00 UTC: hours
        (JAN, JAN + 31 * DAY_MS, DAY, LONDON, Tier.D1),
        (ms("2026-03-01T00:00:00+00:00"), ms("2026-05-01T00:00:00+01:00"), DAY, LONDON, Tier.H1),
        # +05:30: local midnights and local hours sit at :30 UTC, so only minutes serve
        (ms("2026-01-01T00:00:00+05:30"), ms("2026-01-03T00:00:00+05:30"), DAY, KOLKATA, Tier.M1),
        (
            ms("2026-01-01T00:00:00+05:30"),
            ms("2026-01-02T00:00:00+05:30"),
            fixed(HOUR_MS),
            KOLKATA,
            Tier.M1,
        ),
        (
            ms("2026-01-01T00:00:00+05:45"),
            ms("2026-01-02T00:00:00+05:45"),
            fixed(HOUR_MS),
            KATHMANDU,
            Tier.M1,
        ),
    ],
)
def test_tier_selection(
    start: int, end: int, interval: Interval, tz: ZoneInfo | None, source: Tier | None
) -> None:
    assert plan_buckets(start, end, interval, tz, 10_000).source == source


def test_a_tier_is_never_forced_where_it_is_inexact() -> None:
    plan = plan_buckets(JAN, JAN + DAY_MS, fixed(15 * MINUTE_MS), None, 1000)
    assert plan.with_source(None).source is None
    with pytest.raises(ValueError, match="1h tier cannot answer"):
        plan.with_source(Tier.H1)
    assert choose_source(JAN, JAN + 1, [JAN]) is None


# Europe/London 2026: clocks go forward on 29 March (01:00 UTC) and back on 25 October (01:00 UTC).
SPRING = ms("2026-03-29T00:00:00+00:00")
AUTUMN = ms("2026-10-25T00:00:00+01:00")


def test_london_spring_forward_day_is_23_hours() -> None:
    starts = bucket_starts(SPRING - HOUR_MS, SPRING + 2 * DAY_MS, DAY, LONDON)
    assert starts == [SPRING - DAY_MS, SPRING, SPRING + 23 * HOUR_MS, SPRING + 47 * HOUR_MS]
    hours = bucket_starts(SPRING, SPRING + 23 * HOUR_MS, fixed(HOUR_MS), LONDON)
    assert len(hours) == 23
    assert choose_source(SPRING, SPRING + 23 * HOUR_MS, [SPRING]) is Tier.H1


def test_london_fall_back_day_is_25_hours() -> None:
    starts = bucket_starts(AUTUMN, AUTUMN + 50 * HOUR_MS, DAY, LONDON)
    assert starts == [AUTUMN, AUTUMN + 25 * HOUR_MS, AUTUMN + 49 * HOUR_MS]
    assert ms("2026-10-24T23:00:00+00:00") == AUTUMN
    hours = bucket_starts(AUTUMN, AUTUMN + 25 * HOUR_MS, fixed(HOUR_MS), LONDON)
    assert len(hours) == 25
    # six hours of elapsed time from local midnight: the 25 h day ends with a 1 h bucket
    quarters = bucket_starts(AUTUMN, AUTUMN + 25 * HOUR_MS, fixed(6 * HOUR_MS), LONDON)
    assert [(b - AUTUMN) // HOUR_MS for b in quarters] == [0, 6, 12, 18, 24]


def test_weeks_start_on_monday_and_months_on_the_first_local_midnight() -> None:
    wednesday = ms("2026-07-15T12:00:00+01:00")
    assert enclosing_bucket(wednesday, WEEK, LONDON) == (
        ms("2026-07-13T00:00:00+01:00"),
        ms("2026-07-20T00:00:00+01:00"),
    )
    assert enclosing_bucket(wednesday, MONTH, LONDON) == (
        ms("2026-07-01T00:00:00+01:00"),
        ms("2026-08-01T00:00:00+01:00"),
    )
    quarter = Interval(Unit.MONTH, 3)
    assert enclosing_bucket(wednesday, quarter, None) == (
        ms("2026-07-01T00:00:00+00:00"),
        ms("2026-10-01T00:00:00+00:00"),
    )


def test_fixed_intervals_without_tz_stay_epoch_aligned() -> None:
    assert bucket_starts(7 * MINUTE_MS + 1, 21 * MINUTE_MS, fixed(7 * MINUTE_MS), None) == [
        7 * MINUTE_MS,
        14 * MINUTE_MS,
    ]


def test_limits_and_bad_sub_day_intervals() -> None:
    with pytest.raises(TooManyBucketsError):
        plan_buckets(0, 10**12, fixed(MINUTE_MS), None, 1000)
    with pytest.raises(ValueError, match="must divide 24h"):
        plan_buckets(JAN, JAN + DAY_MS, fixed(7 * MINUTE_MS), LONDON, 1000)


def test_cells_are_merged_into_uneven_buckets() -> None:
    # a 25 h day answered from hourly cells: 25 cells, one bucket
    starts = (AUTUMN, AUTUMN + 25 * HOUR_MS)
    cells = [
        Cell("d", "p", AUTUMN + h * HOUR_MS, Aggregate.of(AUTUMN + h * HOUR_MS, float(h)))
        for h in range(26)
    ]
    [day, next_day] = assemble(cells, starts)["d"]
    assert (day.start_ms, day.metrics["p"].count, day.metrics["p"].last_value) == (AUTUMN, 25, 24.0)
    assert (next_day.start_ms, next_day.metrics["p"].count) == (AUTUMN + 25 * HOUR_MS, 1)


def _every_edge_on(width_ms: int, start_ms: int, end_ms: int, starts: list[int]) -> bool:
    """The definition, edge by edge."""
    return (
        start_ms % width_ms == 0
        and end_ms % width_ms == 0
        and all(edge % width_ms == 0 for edge in starts[1:])
    )


# Edges on whole seconds, minutes, hours or days, as calendars make them, and odd ones.
_edge_units = st.sampled_from([1, 1_000, MINUTE_MS, HOUR_MS, DAY_MS])


@given(
    st.tuples(st.integers(0, 100_000), _edge_units),
    st.lists(st.tuples(st.integers(1, 90), _edge_units), min_size=0, max_size=40),
    st.tuples(st.integers(1, 90), _edge_units),
)
# The first inner edge on the minute, a later one not: the step's divisor must say so.
@example((0, MINUTE_MS), [(1, MINUTE_MS), (30, 1_000), (30, 1_000)], (1, MINUTE_MS))
def test_tiers_and_grid_agree_with_the_edge_by_edge_definition(
    first: tuple[int, int], steps: list[tuple[int, int]], last: tuple[int, int]
) -> None:
    """The divisor of the steps stands for testing every edge; the grid holds every edge."""
    start_ms = first[0] * first[1]
    starts = [start_ms]
    for count, unit in steps:
        starts.append(starts[-1] + count * unit)
    end_ms = starts[-1] + last[0] * last[1]
    want = next(
        (t for t in reversed(TIERS) if _every_edge_on(t.width_ms, start_ms, end_ms, starts)), None
    )
    assert choose_source(start_ms, end_ms, starts) == want
    assert all(answers_exactly(t, start_ms, end_ms, starts) == _every_edge_on(
        t.width_ms, start_ms, end_ms, starts) for t in TIERS)  # fmt: skip
    phase_ms, step_ms = _grid(start_ms, end_ms, starts, _spacing(starts))
    assert phase_ms <= start_ms
    assert all((edge - phase_ms) % step_ms == 0 for edge in starts[1:])
    if len(starts) >= 3:  # the grid is the coarsest that holds every edge
        assert step_ms == functools.reduce(math.gcd, (b - a for a, b in pairwise(starts[1:])))
