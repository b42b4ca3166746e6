"""Long and recent runs of raw points, read through ``raw_points`` alone.

Energy (which integrates power between consecutive readings), export (every
stored reading) and the live window (the newest readings of a metric) need
raw points, more than one page of them, or the newest before a time; rollup
tiers cannot answer those. These helpers page through the narrow
``PointReader`` port, so they work on every backend unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from wattline.storage.base import RawPoint
from wattline.storage.ports import PointReader

DEFAULT_PAGE = 10_000
# Looking back for the newest readings starts with this span and doubles it.
_FIRST_LOOKBACK_MS = 3_600_000
# Beyond this nothing older is looked for (about 16 years).
_MAX_LOOKBACK_MS = 2**39


def iter_points(  # noqa: PLR0913 - the raw_points query, then the page size
    store: PointReader,
    device_id: str,
    start_ms: int,
    end_ms: int,
    fields: Sequence[str] | None = None,
    *,
    page: int = DEFAULT_PAGE,
) -> Iterator[RawPoint]:
    """Every reading in [start_ms, end_ms) in time order, ``page`` readings per query."""
    cursor_ms = start_ms
    while cursor_ms < end_ms:
        points = store.raw_points(device_id, cursor_ms, end_ms, fields, page)
        yield from points
        if len(points) < page:
            return
        # raw_points limits whole timestamps, so the next page starts just after this one.
        cursor_ms = points[-1].ts_ms + 1


def recent_points(
    store: PointReader, device_id: str, metric: str, n: int, newest_ms: int
) -> list[RawPoint]:
    """The newest ``n`` readings of one metric at or before newest_ms, oldest first."""
    span_ms = _FIRST_LOOKBACK_MS
    while True:
        points = list(iter_points(store, device_id, newest_ms - span_ms, newest_ms + 1, [metric]))
        if len(points) >= n or span_ms >= _MAX_LOOKBACK_MS:
            return points[-n:]
        span_ms *= 4
