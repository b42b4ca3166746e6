"""The one way Wattline prints an instant: ISO 8601 UTC with milliseconds, ``...T08:00:00.000Z``.

The API, the CLI and exported files all use it, so a time read in one place
can be pasted into a query anywhere else. Years are always four digits
(``0001-01-02T...``): ``strftime("%Y")`` prints year 1 as ``1`` on glibc.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

DAY_MS = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_ms(ts_ms: int) -> str:
    """Epoch milliseconds -> ``2026-11-25T08:00:00.000Z``.

    Responses print thousands of these (a day at one minute is 1,440), so the
    date is formatted once per day and the time of day by integer arithmetic.
    """
    day_ms = ts_ms - ts_ms % DAY_MS
    hours, rest = divmod(ts_ms - day_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{_iso_date(day_ms)}T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"


def iso_datetime(moment: datetime) -> str:
    """An aware datetime in the same format (its microseconds cut to milliseconds)."""
    return iso_ms((moment - _EPOCH) // timedelta(milliseconds=1))


@functools.lru_cache(maxsize=4096)
def _iso_date(day_ms: int) -> str:
    day = (_EPOCH + timedelta(milliseconds=day_ms)).date()
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"
