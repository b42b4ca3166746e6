"""Query parameters: times, aggregates, fields. Pure; ValueError says why.

Intervals and time zones are the calendar's (`wattline.model.calendar`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from wattline.model.times import DAY_MS, iso_ms

AGGREGATES = ("avg", "min", "max", "sum", "count", "first", "last")
DEFAULT_AGGREGATES = ("avg", "min", "max", "count")


def parse_aggregates(text: str | None) -> tuple[str, ...]:
    if text is None or not text.strip():
        return DEFAULT_AGGREGATES
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in AGGREGATES]
    if unknown:
        raise ValueError(f"agg {', '.join(unknown)!r} is not one of {', '.join(AGGREGATES)}")
    return names


# The accepted range of query times, the same for every endpoint. datetime holds
# years 1..9999, and SQLite's and PostgreSQL's 64-bit integers far more; a day
# is kept spare at each end so that the local date of any accepted instant, in
# any time zone (offsets stay under a day), is still a valid date.
MIN_TIME_MS = -62_135_596_800_000 + DAY_MS  # 0001-01-02T00:00:00.000Z
MAX_TIME_MS = 253_402_300_800_000 - DAY_MS  # 9999-12-31T00:00:00.000Z
TIME_RANGE_TEXT = f"{iso_ms(MIN_TIME_MS)} .. {iso_ms(MAX_TIME_MS)}"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def parse_time_ms(text: str, name: str) -> int:
    """An RFC 3339 / ISO 8601 timestamp (UTC if no offset) or integer epoch milliseconds,
    within MIN_TIME_MS..MAX_TIME_MS."""
    stripped = text.strip()
    if re.fullmatch(r"-?\d{1,16}", stripped):
        ts_ms = int(stripped)
    else:
        try:
            parsed = datetime.fromisoformat(stripped)
        except ValueError:
            raise ValueError(
                f"{name}={excerpt(text)} is neither an ISO 8601 timestamp nor epoch milliseconds"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        # exact integer arithmetic: a float timestamp loses milliseconds near year 9999
        ts_ms = (parsed - _EPOCH) // _MS
    check_time_ms(ts_ms, name)
    return ts_ms


def check_time_ms(ts_ms: int, name: str) -> None:
    if not MIN_TIME_MS <= ts_ms <= MAX_TIME_MS:
        raise ValueError(f"{name} must be within {TIME_RANGE_TEXT}")


def default_start_ms(end_ms: int, window_ms: int) -> int:
    """``window_ms`` before ``end_ms``, but never before the accepted range."""
    return max(end_ms - window_ms, MIN_TIME_MS)


def check_bucket_range(start_ms: int, end_ms: int, longest_bucket_ms: int, interval: str) -> None:
    """Refuse a range whose bucket arithmetic would leave the accepted range.

    Planning looks at most two buckets and two days beyond either end: the first
    bucket starts before start_ms, the one after the last is computed, and a
    default end snaps to the end of the bucket holding "now". Everything within
    that reach must be a valid date in every time zone; checking it here, before
    any calendar arithmetic, keeps OverflowError out of the planners.
    """
    reach_ms = 2 * longest_bucket_ms + 2 * DAY_MS
    if start_ms - reach_ms < MIN_TIME_MS or end_ms + reach_ms > MAX_TIME_MS:
        raise ValueError(
            f"interval={excerpt(interval)}: the buckets around this range would leave"
            f" {TIME_RANGE_TEXT}; use a shorter interval or times further inside"
        )


def excerpt(value: object, max_chars: int = 64) -> str:
    """The repr of a client's input, cut short: error messages never echo a whole body."""
    text = repr(value)
    return text if len(text) <= max_chars else text[: max_chars - 3] + "..."


def parse_fields(text: str | None) -> list[str] | None:
    if text is None or not text.strip():
        return None
    return [name.strip() for name in text.split(",") if name.strip()]
