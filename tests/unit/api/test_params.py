from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattline.api.params import (
    MAX_TIME_MS,
    MIN_TIME_MS,
    check_bucket_range,
    excerpt,
    parse_fields,
    parse_time_ms,
)
from wattline.model.times import iso_ms


@pytest.mark.parametrize(
    ("text", "expected_ms"),
    [
        ("1764057600000", 1_764_057_600_000),
        ("2025-11-25T08:00:00Z", 1_764_057_600_000),
        ("2025-11-25T08:00:00", 1_764_057_600_000),
        ("2025-11-25T10:00:00+02:00", 1_764_057_600_000),
        ("2025-11-25", 1_764_028_800_000),
    ],
)
def test_times(text: str, expected_ms: int) -> None:
    assert parse_time_ms(text, "start") == expected_ms


def test_bad_time_names_the_parameter() -> None:
    with pytest.raises(ValueError, match=r"end='soon' is neither"):
        parse_time_ms("soon", "end")


def test_iso_rendering_is_utc_with_milliseconds() -> None:
    assert iso_ms(1_764_057_600_042) == "2025-11-25T08:00:00.042Z"


def test_fields() -> None:
    assert parse_fields(None) is None
    assert parse_fields(" ") is None
    assert parse_fields("power_w, voltage_v,") == ["power_w", "voltage_v"]


@given(st.integers(min_value=-(10**12), max_value=4_102_444_799_999))
def test_iso_rendering_matches_the_datetime_library(ts_ms: int) -> None:
    moment = datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
    assert iso_ms(ts_ms) == moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts_ms % 1000:03d}Z"


@given(
    st.integers(min_value=-(10**12), max_value=4_102_444_799_999),
    st.lists(st.integers(min_value=-2_500, max_value=2_500), min_size=1, max_size=30),
)
def test_iso_rendering_of_times_sharing_seconds(start_ms: int, offsets: list[int]) -> None:
    # consecutive calls within a few seconds: the remembered second is reused,
    # replaced, and reused again, and never lends its text to another second
    for ts_ms in (start_ms + offset for offset in offsets):
        moment = datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
        assert iso_ms(ts_ms) == moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts_ms % 1000:03d}Z"


@pytest.mark.parametrize(
    ("ts_ms", "text"),
    [
        (MIN_TIME_MS, "0001-01-02T00:00:00.000Z"),
        (MAX_TIME_MS, "9999-12-31T00:00:00.000Z"),
        (-62_135_596_800_000, "0001-01-01T00:00:00.000Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
    ],
)
def test_iso_rendering_has_four_digit_years(ts_ms: int, text: str) -> None:
    assert iso_ms(ts_ms) == text


@given(st.integers(min_value=MIN_TIME_MS, max_value=MAX_TIME_MS))
def test_every_accepted_time_round_trips(ts_ms: int) -> None:
    assert parse_time_ms(iso_ms(ts_ms), "start") == ts_ms
    assert parse_time_ms(str(ts_ms), "start") == ts_ms


@pytest.mark.parametrize(
    "text",
    [
        "253402300800000",
        "-9999999999999999",
        "0001-01-01",
        "9999-12-31T00:00:00.001Z",
        "0001-01-01T23:59:59.999Z",
        "0001-01-02T00:00:00+00:01",
    ],
)
def test_times_outside_the_accepted_range_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"start must be within 0001-01-02T00:00:00.000Z \.\. "):
        parse_time_ms(text, "start")


@pytest.mark.parametrize(
    ("start_ms", "end_ms", "longest_ms"),
    [
        (MIN_TIME_MS, MIN_TIME_MS + 1, 1_000),  # the planner's look-around leaves year 1
        (MAX_TIME_MS - 30 * 86_400_000, MAX_TIME_MS, 7 * 86_400_000),
        (0, 1, 10**15),  # a bucket of 30,000 years
    ],
)
def test_bucket_ranges_leaving_the_accepted_range_are_refused(
    start_ms: int, end_ms: int, longest_ms: int
) -> None:
    with pytest.raises(ValueError, match="buckets around this range would leave"):
        check_bucket_range(start_ms, end_ms, longest_ms, "1w")


def test_excerpts_are_short() -> None:
    assert excerpt("x" * 10_000) == "'" + "x" * 60 + "..."
    assert excerpt(float("nan")) == "nan"
