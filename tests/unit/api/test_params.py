from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattline.api.params import iso_ms, parse_fields, parse_interval_ms, parse_time_ms


@pytest.mark.parametrize(
    ("text", "expected_ms"),
    [
        ("1s", 1_000),
        ("1m", 60_000),
        ("15m", 900_000),
        ("1h", 3_600_000),
        ("1d", 86_400_000),
        ("1w", 604_800_000),
    ],
)
def test_intervals(text: str, expected_ms: int) -> None:
    assert parse_interval_ms(text) == expected_ms


@pytest.mark.parametrize("text", ["", "m", "1", "1y", "0s", "-1m", "1.5h", "15 minutes"])
def test_bad_intervals_explain_the_format(text: str) -> None:
    with pytest.raises(ValueError, match="interval"):
        parse_interval_ms(text)


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
