"""Time buckets in a site's time zone: 15m, 1h, 1d, 1w, 1mo. Pure.

Edges are computed on the local wall clock and converted to UTC epoch
milliseconds, so a local day is a day even when it lasts 23 or 25 hours
(DST changes). Minute and hour buckets step in absolute time from local
midnight: on the day clocks go forward there are 23 hourly buckets, on the
day they go back 25.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_INTERVAL_RE = re.compile(r"(\d{1,4})(mo|m|h|d|w)")
_FIXED_MS = {"m": 60_000, "h": 3_600_000}
# A response of this many buckets is still a few MB of JSON at most.
MAX_BUCKETS = 50_000


@dataclass(frozen=True, slots=True)
class Interval:
    count: int
    unit: str  # m, h, d, w or mo

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"

    @property
    def longest_ms(self) -> int:
        """An upper bound on one bucket's length (a DST day is an hour long)."""
        if self.unit in _FIXED_MS:
            return self.count * _FIXED_MS[self.unit]
        days = {"d": 1, "w": 7, "mo": 31}[self.unit] * self.count
        return days * 86_400_000 + 3_600_000


def parse_interval(text: str) -> Interval:
    """``1d`` -> Interval(1, "d"). Raises ValueError with a message fit for a 422."""
    match = _INTERVAL_RE.fullmatch(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(
            f"interval {text!r} must be a positive whole number followed by m, h, d, w or mo "
            "(e.g. 15m, 1h, 1d, 1w, 1mo)"
        )
    return Interval(int(match.group(1)), match.group(2))


def parse_tz(name: str) -> ZoneInfo:
    """An IANA time zone; ValueError with a message fit for a 422 otherwise."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name[:64]!r}: use an IANA name such as Europe/London or UTC"
        ) from None


def bucket_edges(start_ms: int, end_ms: int, interval: Interval, tz: ZoneInfo) -> list[int]:
    """Edges (UTC epoch ms) of the buckets covering [start_ms, end_ms).

    The first edge is at or before start_ms and the last at or after end_ms:
    the range is widened to whole buckets, so "this day" always means the
    whole local day.
    """
    if start_ms >= end_ms:
        raise ValueError("start must be before end")
    if interval.unit in _FIXED_MS:
        edges = _fixed_edges(start_ms, end_ms, interval.count * _FIXED_MS[interval.unit], tz)
    else:
        edges = _calendar_edges(start_ms, end_ms, interval, tz)
    return edges


def _local_midnight_ms(day: date, tz: ZoneInfo) -> int:
    return int(datetime.combine(day, time(0), tzinfo=tz).timestamp()) * 1000


def _local_date(ts_ms: int, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).astimezone(tz).date()


def _fixed_edges(start_ms: int, end_ms: int, step_ms: int, tz: ZoneInfo) -> list[int]:
    # Aligned to local midnight of the start day, so 1h buckets follow the local
    # hours in zones with half-hour offsets too.
    origin_ms = _local_midnight_ms(_local_date(start_ms, tz), tz)
    first_ms = origin_ms + (start_ms - origin_ms) // step_ms * step_ms
    count = -(-(end_ms - first_ms) // step_ms)
    _check_count(count)
    return [first_ms + i * step_ms for i in range(count + 1)]


def _calendar_edges(start_ms: int, end_ms: int, interval: Interval, tz: ZoneInfo) -> list[int]:
    day = _floor_day(_local_date(start_ms, tz), interval)
    edges = [_local_midnight_ms(day, tz)]
    while edges[-1] < end_ms:
        day = _next_day(day, interval)
        edges.append(_local_midnight_ms(day, tz))
        _check_count(len(edges) - 1)
    return edges


def _floor_day(day: date, interval: Interval) -> date:
    if interval.unit == "w":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    if interval.unit == "mo":
        # Multi-month buckets align to the year: 3mo gives calendar quarters.
        month0 = (day.month - 1) // interval.count * interval.count
        return date(day.year, month0 + 1, 1)
    return day


def _next_day(day: date, interval: Interval) -> date:
    if interval.unit == "d":
        return day + timedelta(days=interval.count)
    if interval.unit == "w":
        return day + timedelta(weeks=interval.count)
    month0 = day.year * 12 + day.month - 1 + interval.count
    return date(month0 // 12, month0 % 12 + 1, 1)


def _check_count(count: int) -> None:
    if count > MAX_BUCKETS:
        raise ValueError(
            f"more than {MAX_BUCKETS} buckets over this range; widen the interval "
            "or shorten the range"
        )
