"""The one calendar: intervals, time zones and bucket edges, for every query. Pure.

Telemetry, fleet telemetry, energy and export all cut time with these rules, so
a user comparing kWh per day with a power chart per day sees the same days.

- Fixed intervals (``Ns``, ``Nm``, ``Nh``) without a time zone align to the epoch.
- With a time zone, a fixed interval must divide 24 h: its buckets are that much
  elapsed time from each local midnight, the day's last one cut at the next
  midnight (a 25 h day has 25 hourly buckets; 6 h buckets give 0, 6, 12, 18 and
  a last one of 1 h).
- Days, weeks (Monday first) and calendar months start at local midnight (UTC
  without a zone), so a local day lasts 23 h or 25 h when clocks change. Multiples
  align to a grid fixed in the calendar, not to the query: ``2d`` to days since
  1970-01-01, ``2w`` to weeks since Monday 1970-01-05, ``Nmo`` to months since
  year 0, which makes ``3mo`` calendar quarters and ``12mo`` calendar years. The
  same instant therefore falls in the same bucket whatever range is asked for.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wattline.model.times import DAY_MS

HOUR_MS = 3_600_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(1970, 1, 1)
_FIRST_MONDAY = date(1970, 1, 5)
_MS = timedelta(milliseconds=1)

_INTERVAL_RE = re.compile(r"(\d{1,6})(mo|s|m|h|d|w)")
_FIXED_UNIT_MS = {"s": 1_000, "m": 60_000, "h": HOUR_MS}


class Unit(StrEnum):
    FIXED = "fixed"  # a number of milliseconds
    DAY = "d"
    WEEK = "w"
    MONTH = "mo"


@dataclass(frozen=True, slots=True)
class Interval:
    unit: Unit
    count: int  # milliseconds for FIXED, else days, weeks or months

    @property
    def shortest_ms(self) -> int:
        """A lower bound on one bucket's length (a DST day is an hour short)."""
        if self.unit is Unit.FIXED:
            return self.count
        days = {Unit.DAY: 1, Unit.WEEK: 7, Unit.MONTH: 28}[self.unit] * self.count
        return days * DAY_MS - HOUR_MS

    @property
    def longest_ms(self) -> int:
        """An upper bound on one bucket's length (a DST day is an hour long)."""
        if self.unit is Unit.FIXED:
            return self.count
        days = {Unit.DAY: 1, Unit.WEEK: 7, Unit.MONTH: 31}[self.unit] * self.count
        return days * DAY_MS + HOUR_MS


def parse_interval(text: str) -> Interval:
    """``15m``, ``1h`` (fixed); ``1d``, ``1w``, ``1mo`` (local days, Monday weeks, months).

    Raises ValueError with a message fit for a 422.
    """
    match = _INTERVAL_RE.fullmatch(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(
            f"interval {text[:40]!r} must be a positive whole number followed by "
            "s, m, h, d, w or mo (e.g. 15m, 1h, 1d, 1w, 1mo)"
        )
    count, unit = int(match.group(1)), match.group(2)
    if unit in _FIXED_UNIT_MS:
        return Interval(Unit.FIXED, count * _FIXED_UNIT_MS[unit])
    return Interval(Unit(unit), count)


def parse_tz(text: str | None) -> ZoneInfo | None:
    """An IANA time zone, None when absent; ValueError with a message fit for a 422."""
    if text is None or not text.strip():
        return None
    try:
        return ZoneInfo(text.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"tz={text[:64]!r} is not an IANA time zone name (e.g. Europe/London, UTC)"
        ) from None


def bucket_starts(start_ms: int, end_ms: int, interval: Interval, tz: ZoneInfo | None) -> list[int]:
    """Nominal starts of the buckets overlapping [start_ms, end_ms), in order.

    The first may precede start_ms (the bucket holding it); every later one is
    inside the range.
    """
    if interval.unit is Unit.FIXED and tz is None:
        first = start_ms - start_ms % interval.count
        return list(range(first, end_ms, interval.count))
    zone = tz or ZoneInfo("UTC")
    if interval.unit is Unit.FIXED:
        return _sub_day_starts(start_ms, end_ms, interval.count, zone)
    period = _period_of(_local_date(start_ms, zone), interval)
    starts: list[int] = []
    while (edge := local_midnight_ms(period, zone)) < end_ms:
        starts.append(edge)
        period = _next_period(period, interval)
    return starts


def bucket_edges(
    start_ms: int, end_ms: int, interval: Interval, tz: ZoneInfo | None, max_buckets: int
) -> list[int]:
    """Edges of the whole buckets covering [start_ms, end_ms): the starts, then the last's end.

    The first edge is at or before start_ms and the last at or after end_ms, so
    "this day" always means the whole day.
    """
    if start_ms >= end_ms:
        raise ValueError("start must be before end")
    if (end_ms - start_ms) // interval.shortest_ms > max_buckets:
        raise TooManyBucketsError(max_buckets)
    starts = bucket_starts(start_ms, end_ms, interval, tz)
    if len(starts) > max_buckets:
        raise TooManyBucketsError(max_buckets)
    return [*starts, enclosing_bucket(starts[-1], interval, tz)[1]]


class TooManyBucketsError(ValueError):
    def __init__(self, max_buckets: int) -> None:
        super().__init__(
            f"more than {max_buckets} buckets over this range; widen the interval "
            "or shorten the range"
        )


def enclosing_bucket(ts_ms: int, interval: Interval, tz: ZoneInfo | None) -> tuple[int, int]:
    """[start, end) of the bucket holding ``ts_ms``."""
    reach_ms = 2 * interval.shortest_ms + 2 * DAY_MS  # past the bucket's end, whatever its kind
    first, following = bucket_starts(ts_ms, ts_ms + reach_ms, interval, tz)[:2]
    return first, following


def local_midnight_ms(day: date, zone: ZoneInfo) -> int:
    """The first instant of ``day`` in ``zone``: where midnight does not exist, the DST jump."""
    return (datetime.combine(day, time(), tzinfo=zone) - _EPOCH) // _MS


def _local_date(ts_ms: int, zone: ZoneInfo) -> date:
    return (_EPOCH + ts_ms * _MS).astimezone(zone).date()


def _period_of(day: date, interval: Interval) -> date:
    """The first day of the day/week/month bucket holding ``day``."""
    n = interval.count
    if interval.unit is Unit.DAY:
        index = (day - _EPOCH_DAY).days
        return _EPOCH_DAY + timedelta(days=index - index % n)
    if interval.unit is Unit.WEEK:
        week = (day - _FIRST_MONDAY).days // 7
        return _FIRST_MONDAY + timedelta(weeks=week - week % n)
    month = day.year * 12 + day.month - 1
    month -= month % n
    return date(month // 12, month % 12 + 1, 1)


def _next_period(day: date, interval: Interval) -> date:
    if interval.unit is Unit.DAY:
        return day + timedelta(days=interval.count)
    if interval.unit is Unit.WEEK:
        return day + timedelta(weeks=interval.count)
    month = day.year * 12 + day.month - 1 + interval.count
    return date(month // 12, month % 12 + 1, 1)


def _sub_day_starts(start_ms: int, end_ms: int, interval_ms: int, zone: ZoneInfo) -> list[int]:
    """Buckets of elapsed time from each local midnight, so a 23 h day has 23 hourly buckets."""
    if interval_ms > DAY_MS or DAY_MS % interval_ms:
        raise ValueError("with tz, an interval under a day must divide 24h (e.g. 15m, 1h, 6h)")
    day = _local_date(start_ms, zone)
    starts: list[int] = []
    while (midnight := local_midnight_ms(day, zone)) < end_ms:
        day += timedelta(days=1)
        starts.extend(range(midnight, min(local_midnight_ms(day, zone), end_ms), interval_ms))
    # from the bucket holding start_ms on; the local midnight before it is <= start_ms
    return starts[bisect_right(starts, start_ms) - 1 :]
