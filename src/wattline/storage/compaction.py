"""The compaction job: closed days of raw samples and of the 1-minute tier packed into blocks.

Recent days stay rows, where a commit's idempotent insert is cheapest; a day
older than the cutoff (``compact_after_days``, whole UTC days, at least one)
becomes one block per series (``block_tables.compact_day``). Consecutive days
of a series share a transaction until it has moved ``ROWS_PER_TRANSACTION``
rows: one fsync per day made the first compaction of a year of data take most
of its time committing, while a bound on rows keeps the wait of a live commit
behind it (SQLite has one writer) to a few days' packing. A late reading
or a correction into such a day reopens the block (``block_tables.reopen``);
the next run packs the day again.

Runs after retention in the retention scheduler's thread. Several processes
may run it at once: each series-day is packed under the daily-tier row lock,
and a second packer finds no rows left to move.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, select

from wattline.storage import schema
from wattline.storage.block_tables import PACKINGS, InsertFactory, Packing, compact_day
from wattline.storage.rollups import DAY_MS

log = logging.getLogger("wattline.compaction")

# About two weeks of one series at a reading a minute (raw and 1-minute rows
# are counted separately): ~0.1 s of packing on a quiet laptop core.
ROWS_PER_TRANSACTION = 20_000


@dataclass(frozen=True, slots=True)
class Compacted:
    series_days: int = 0  # blocks written or rewritten
    rows: int = 0  # rows moved into them (raw and 1-minute together)


def compact_before(
    engine: Engine,
    insert: InsertFactory,
    cutoff_ms: int,
    *,
    stop: threading.Event | None = None,
) -> Compacted:
    """Every series-day before ``cutoff_ms`` (a UTC day start) still held as rows, packed."""
    if cutoff_ms % DAY_MS:
        raise ValueError("the compaction cutoff must be a UTC day start")
    with engine.connect() as conn:
        latest = schema.latest.c
        series = conn.execute(select(latest.device_id, latest.metric).order_by(*latest)).all()
    done = Compacted()
    for device_id, metric in series:
        for packing in PACKINGS:
            if stop is not None and stop.is_set():
                return done
            done = _compact_series(engine, insert, packing, (device_id, metric), cutoff_ms, done)
    return done


def _compact_series(  # noqa: PLR0913, PLR0917 - one series of one table, and the running total
    engine: Engine,
    insert: InsertFactory,
    packing: Packing,
    series: tuple[str, str],
    cutoff_ms: int,
    done: Compacted,
) -> Compacted:
    device_id, metric = series
    with engine.connect() as conn:
        oldest = _oldest_row(conn, packing, series, 0, cutoff_ms)
    while oldest is not None:
        days = rows = 0
        with engine.begin() as conn:
            while oldest is not None and rows < ROWS_PER_TRANSACTION:
                day_ms = oldest - oldest % DAY_MS
                moved = compact_day(conn, insert, packing, (device_id, metric, day_ms))
                oldest = _oldest_row(conn, packing, series, day_ms + DAY_MS, cutoff_ms)
                days, rows = days + (moved > 0), rows + moved
        # Counted once the transaction has committed.
        done = Compacted(done.series_days + days, done.rows + rows)
    return done


def _oldest_row(
    conn: Connection, packing: Packing, series: tuple[str, str], from_ms: int, cutoff_ms: int
) -> int | None:
    at = packing.rows.c[packing.time]
    value = conn.scalar(
        select(func.min(at)).where(*packing.of_series(*series), at >= from_ms, at < cutoff_ms)
    )
    return None if value is None else int(value)
