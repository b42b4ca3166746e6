"""Deleting rows older than a cutoff, in chunks small enough not to stall ingest.

Each chunk is one (device, metric) series and at most one UTC day, in a
transaction of its own: a primary-key range delete (the key is device, metric,
time) that holds the SQLite write lock only briefly, so a collector's commit
waits milliseconds, not minutes, even on the first run over years of data.
"""

from __future__ import annotations

from sqlalchemy import Column, Engine, Table, delete, func, select, union

from wattline.storage import schema
from wattline.storage.rollups import DAY_MS

# The table and time column each retention tier trims.
TIER_TABLES: dict[str, tuple[Table, str]] = {
    "raw": (schema.samples, "ts_ms"),
    "1m": (schema.rollup_1m, "bucket_ms"),
    "1h": (schema.rollup_1h, "bucket_ms"),
    "1d": (schema.rollup_1d, "bucket_ms"),
}


def delete_before(engine: Engine, tier: str, cutoff_ms: int) -> int:
    """Rows of ``tier`` with a time before ``cutoff_ms`` deleted; returns how many."""
    table, column_name = TIER_TABLES[tier]
    at: Column[int] = table.c[column_name]
    removed = 0
    for device_id, metric in _series(engine):
        same = [table.c.device_id == device_id, table.c.metric == metric]
        with engine.connect() as conn:
            oldest_ms = conn.scalar(select(func.min(at)).where(*same))
        if oldest_ms is None or oldest_ms >= cutoff_ms:
            continue
        lower_ms = oldest_ms
        while lower_ms < cutoff_ms:
            upper_ms = min(lower_ms - lower_ms % DAY_MS + DAY_MS, cutoff_ms)
            with engine.begin() as conn:
                result = conn.execute(
                    delete(table)
                    .where(*same, at < upper_ms)
                    .execution_options(preserve_rowcount=True)
                )
                removed += result.rowcount
            lower_ms = upper_ms
    return removed


def _series(engine: Engine) -> list[tuple[str, str]]:
    """Every (device, metric) with data: ``latest`` names all that ever reported, and the
    daily tier those whose ``latest`` row is gone."""
    daily = schema.rollup_1d.c
    latest = schema.latest.c
    query = union(
        select(latest.device_id, latest.metric),
        select(daily.device_id, daily.metric).distinct(),
    )
    with engine.connect() as conn:
        return [(row[0], row[1]) for row in conn.execute(query)]
