"""Query parameters: times, intervals, time zones, aggregates. Pure; ValueError says why."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wattline.storage.bucketing import Interval, Unit

_INTERVAL_RE = re.compile(r"(\d{1,6})(s|m|h|d|w)")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
MIN_INTERVAL_MS = 1_000


def parse_interval_ms(text: str) -> int:
    """``15m`` -> 900000. Units: s, m, h, d, w."""
    match = _INTERVAL_RE.fullmatch(text.strip())
    if not match:
        raise ValueError(
            f"interval {text!r} must be a whole number followed by s, m, h, d or w (e.g. 15m)"
        )
    interval_ms = int(match.group(1)) * _UNIT_MS[match.group(2)]
    if interval_ms < MIN_INTERVAL_MS:
        raise ValueError(f"interval {text!r} must be at least 1s")
    return interval_ms


_BUCKET_RE = re.compile(r"(\d{1,6})(mo|s|m|h|d|w)")
AGGREGATES = ("avg", "min", "max", "sum", "count", "first", "last")
DEFAULT_AGGREGATES = ("avg", "min", "max", "count")


def parse_interval(text: str) -> Interval:
    """``15m``, ``1h`` (fixed); ``1d``, ``1w``, ``1mo`` (local days, Monday weeks, months)."""
    match = _BUCKET_RE.fullmatch(text.strip())
    if not match:
        raise ValueError(
            f"interval {text!r} must be a whole number followed by s, m, h, d, w or mo (e.g. 15m)"
        )
    count, unit = int(match.group(1)), match.group(2)
    if count == 0:
        raise ValueError(f"interval {text!r} must be at least 1s")
    if unit in {"d", "w", "mo"}:
        return Interval(Unit(unit), count)
    return Interval(Unit.FIXED, count * _UNIT_MS[unit])


def parse_tz(text: str | None) -> ZoneInfo | None:
    if text is None or not text.strip():
        return None
    try:
        return ZoneInfo(text.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"tz={text!r} is not an IANA time zone name (e.g. Europe/London, UTC)"
        ) from None


def parse_aggregates(text: str | None) -> tuple[str, ...]:
    if text is None or not text.strip():
        return DEFAULT_AGGREGATES
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in AGGREGATES]
    if unknown:
        raise ValueError(f"agg {', '.join(unknown)!r} is not one of {', '.join(AGGREGATES)}")
    return names


def parse_time_ms(text: str, name: str) -> int:
    """An RFC 3339 / ISO 8601 timestamp (UTC if no offset) or integer epoch milliseconds."""
    stripped = text.strip()
    if re.fullmatch(r"-?\d{1,16}", stripped):
        return int(stripped)
    try:
        parsed = datetime.fromisoformat(stripped)
    except ValueError:
        raise ValueError(
            f"{name}={text!r} is neither an ISO 8601 timestamp nor epoch milliseconds"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


_DAY_MS = 86_400_000


def iso_ms(ts_ms: int) -> str:
    """Epoch milliseconds -> ``2026-11-25T08:00:00.000Z``.

    Responses print thousands of these (a day at one minute is 1,440), so the
    date is formatted once per day and the time of day by integer arithmetic.
    """
    day_ms = ts_ms - ts_ms % _DAY_MS
    hours, rest = divmod(ts_ms - day_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{_iso_date(day_ms)}T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"


@functools.lru_cache(maxsize=4096)
def _iso_date(day_ms: int) -> str:
    return datetime.fromtimestamp(day_ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def parse_fields(text: str | None) -> list[str] | None:
    if text is None or not text.strip():
        return None
    return [name.strip() for name in text.split(",") if name.strip()]
