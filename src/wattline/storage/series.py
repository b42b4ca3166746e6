"""Long and recent series read through ``TelemetryStore.raw_points`` alone.

Energy, export and the live window need more than one page of raw points and
the newest points before a time. These helpers page through the store
interface, so they work on every backend unchanged; once rollup tiers can
answer, callers may switch to them without touching the pure arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from wattline.storage.base import RawPoint, TelemetryStore

DEFAULT_PAGE = 10_000
# Looking back for the newest readings starts with this span and doubles it.
_FIRST_LOOKBACK_MS = 3_600_000
# Beyond this nothing older is looked for (about 16 years).
_MAX_LOOKBACK_MS = 2**39


def iter_points(  # noqa: PLR0913 - the raw_points query, then the page size
    store: TelemetryStore,
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
    store: TelemetryStore, device_id: str, metric: str, n: int, newest_ms: int
) -> list[RawPoint]:
    """The newest ``n`` readings of one metric at or before newest_ms, oldest first."""
    span_ms = _FIRST_LOOKBACK_MS
    while True:
        points = list(iter_points(store, device_id, newest_ms - span_ms, newest_ms + 1, [metric]))
        if len(points) >= n or span_ms >= _MAX_LOOKBACK_MS:
            return points[-n:]
        span_ms *= 4
