"""Deleting rows older than a cutoff, set-based, in chunks small enough not to stall ingest.

Each chunk is one DELETE over a slice of devices (``DEVICES_PER_CHUNK``) and
at most ``WINDOW_MS`` of time, in a transaction of its own. The statement names
the slice's device ids and every metric (``device_id IN (..) AND metric IN (..)
AND time < upper``) so both SQLite and PostgreSQL seek the primary key
(device, metric, time) per series instead of scanning the table; a SQLite
row-value ``(device_id, metric) IN (..)`` DELETE scans instead, measured with
EXPLAIN QUERY PLAN on 3.40. Between chunks a stop event is checked, so a
shutdown waits for one chunk, never for a whole run.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Column, ColumnElement, Connection, Engine, Table, delete, func, select, union

from wattline.storage import schema
from wattline.storage.retention import Progress, RetentionProgress
from wattline.storage.rollups import DAY_MS
from wattline.storage.series_numbers import numbers_of

# The table and time column each retention tier trims.
TIER_TABLES: dict[str, tuple[Table, str]] = {
    "raw": (schema.sample_rows, "ts_ms"),
    "1m": (schema.rollup_1m, "bucket_ms"),
    "1h": (schema.rollup_1h, "bucket_ms"),
    "1d": (schema.rollup_1d, "bucket_ms"),
}
# Compacted days of a tier (ADR 0018); their day_ms is a UTC day start, as cutoffs are.
TIER_BLOCKS: dict[str, Table] = {"raw": schema.sample_blocks, "1m": schema.rollup_1m_blocks}
# A chunk's bounds. At one reading a minute with five metrics, 100 devices x 6 h
# is 180,000 rows: a delete of well under a second on SQLite, so the write lock
# a collector's commit waits on, and a stop request, wait that long at most.
DEVICES_PER_CHUNK = 100
WINDOW_MS = 6 * 3_600_000


@dataclass(frozen=True, slots=True)
class SeriesKeys:
    """Every device and every metric that has data (retention's reach)."""

    device_ids: list[str]
    metrics: list[str]


def series_keys(engine: Engine) -> SeriesKeys:
    """``latest`` names every series that ever reported, the daily tier those whose
    ``latest`` row is gone; two set queries, whatever the number of devices."""
    daily = schema.rollup_1d.c
    latest = schema.latest.c
    devices = union(select(latest.device_id), select(daily.device_id).distinct())
    metrics = union(select(latest.metric), select(daily.metric).distinct())
    with engine.connect() as conn:
        return SeriesKeys(
            device_ids=sorted(conn.scalars(devices)), metrics=sorted(conn.scalars(metrics))
        )


def delete_before(  # noqa: PLR0913 - the tier, its reach, and the run's controls
    engine: Engine,
    tier: str,
    cutoff_ms: int,
    keys: SeriesKeys,
    *,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
) -> int:
    """Rows of ``tier`` with a time before ``cutoff_ms`` deleted; returns how many.

    Returns early, between two chunks, once ``stop`` is set.
    """
    table, column_name = TIER_TABLES[tier]
    at: Column[int] = table.c[column_name]
    removed = 0
    if tier in TIER_BLOCKS:
        removed += _delete_blocks(engine, TIER_BLOCKS[tier], cutoff_ms)
    total = len(keys.device_ids)
    for first in range(0, total, DEVICES_PER_CHUNK):
        devices = keys.device_ids[first : first + DEVICES_PER_CHUNK]
        same = _of_series(table, devices, keys.metrics)
        removed += _delete_slice(engine, table, at, same, cutoff_ms, stop=stop)
        if progress is not None:
            progress(RetentionProgress(tier, first + len(devices), total, removed))
        if stop is not None and stop.is_set():
            break
    return removed


def _of_series(
    table: Table, device_ids: Sequence[str], metrics: Sequence[str]
) -> list[ColumnElement[bool]]:
    """Rows of these devices' series of these metrics: by name, or for ``sample_rows``
    by the numbers of those series (ADR 0036)."""
    if table is schema.sample_rows:
        s = schema.series.c
        numbers = numbers_of(s.device_id.in_(device_ids), s.metric.in_(metrics))
        return [table.c.series_id.in_(numbers)]
    return [table.c.device_id.in_(device_ids), table.c.metric.in_(metrics)]


def _delete_blocks(engine: Engine, blocks: Table, cutoff_ms: int) -> int:
    """Blocks of days wholly before the cutoff; returns the rows they held.

    One row per series-day, so a single statement stays small: a year of
    20,000 series is 7 M samples but only 20,000 blocks a day of cutoff.
    """
    b = blocks.c
    whole_days = b.day_ms + DAY_MS <= cutoff_ms
    with engine.begin() as conn:
        held = conn.scalar(select(func.coalesce(func.sum(b.row_count), 0)).where(whole_days))
        conn.execute(delete(blocks).where(whole_days))
    return int(held or 0)


def _delete_slice(  # noqa: PLR0913 - one slice of one tier
    engine: Engine,
    table: Table,
    at: Column[int],
    same: Sequence[ColumnElement[bool]],
    cutoff_ms: int,
    *,
    stop: threading.Event | None,
) -> int:
    """The slice's rows before the cutoff, ``WINDOW_MS`` at a time from its oldest."""
    removed = 0
    with engine.connect() as conn:
        oldest_ms = _oldest(conn, at, same, cutoff_ms)
    while oldest_ms is not None and not (stop is not None and stop.is_set()):
        upper_ms = min(oldest_ms - oldest_ms % WINDOW_MS + WINDOW_MS, cutoff_ms)
        with engine.begin() as conn:
            result = conn.execute(
                delete(table).where(*same, at < upper_ms).execution_options(preserve_rowcount=True)
            )
            removed += result.rowcount
            # Found after the delete, so an empty stretch of time costs one seek, not a loop.
            oldest_ms = _oldest(conn, at, same, cutoff_ms)
    return removed


def _oldest(
    conn: Connection, at: Column[int], same: Sequence[ColumnElement[bool]], cutoff_ms: int
) -> int | None:
    # Bounded by the cutoff: each series' seek reads only rows about to go.
    value = conn.scalar(select(func.min(at)).where(*same, at < cutoff_ms))
    return None if value is None else int(value)
