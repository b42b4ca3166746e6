"""An independent reading of stored samples: per-bucket statistics grouped in SQL.

The store has no such query (the API reads buckets from the rollup tiers); the
contract tests use this one to check what the samples table holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from wattline.storage import schema
from wattline.storage.sql import SqlStore


@dataclass(frozen=True, slots=True)
class MetricStats:
    avg: float
    min: float
    max: float
    count: int


@dataclass(frozen=True, slots=True)
class Bucket:
    start_ms: int
    metrics: dict[str, MetricStats]


def raw_buckets(  # noqa: PLR0917 - the same call shape as raw_points
    store: SqlStore,
    device_id: str,
    start_ms: int,
    end_ms: int,
    interval_ms: int,
    fields: Sequence[str] | None,
) -> list[Bucket]:
    """Buckets aligned to the epoch (UTC) of the raw samples in [start_ms, end_ms)."""
    s = schema.samples.c
    bucket = (s.ts_ms // interval_ms * interval_ms).label("bucket")
    query = (
        select(
            bucket, s.metric, func.avg(s.value), func.min(s.value), func.max(s.value), func.count()
        )
        .where(s.device_id == device_id, s.ts_ms >= start_ms, s.ts_ms < end_ms)
        .group_by(bucket, s.metric)
        .order_by(bucket, s.metric)
    )
    if fields:
        query = query.where(s.metric.in_(list(fields)))
    buckets: list[Bucket] = []
    with store.engine.connect() as conn:
        for start, metric, avg, low, high, count in conn.execute(query):
            if not buckets or buckets[-1].start_ms != start:
                buckets.append(Bucket(start_ms=int(start), metrics={}))
            buckets[-1].metrics[metric] = MetricStats(
                avg=float(avg), min=float(low), max=float(high), count=int(count)
            )
    return buckets
