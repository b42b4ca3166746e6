"""Bucketed telemetry for the routers: parameters to a bucket plan, store buckets to JSON."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from fastapi import HTTPException, status

from wattline.api.params import (
    iso_ms,
    parse_aggregates,
    parse_interval,
    parse_time_ms,
    parse_tz,
)
from wattline.api.schemas import BucketOut, StatsOut
from wattline.storage.bucketing import (
    BucketPlan,
    Interval,
    SeriesBucket,
    TooManyBucketsError,
    enclosing_bucket,
    plan_buckets,
)
from wattline.storage.rollups import Aggregate

DEFAULT_WINDOW_MS = 24 * 3_600_000
# A response this size stays comfortably under a few MB of JSON.
MAX_BUCKETS = 50_000
_ENDS = frozenset({"first", "last"})


def bad_request(message: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, message)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def time_range(start: str | None, end: str | None) -> tuple[int, int]:
    """Raw points' range: default the last 24 h up to now."""
    try:
        end_ms = parse_time_ms(end, "end") if end else now_ms() + 1
        start_ms = parse_time_ms(start, "start") if start else end_ms - DEFAULT_WINDOW_MS
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    _check_order(start_ms, end_ms)
    return start_ms, end_ms


@dataclass(frozen=True, slots=True)
class SeriesRequest:
    plan: BucketPlan
    tz: ZoneInfo | None
    aggregates: tuple[str, ...]

    @property
    def with_ends(self) -> bool:
        return not _ENDS.isdisjoint(self.aggregates)


def series_request(
    start: str | None, end: str | None, interval: str, tz: str | None, agg: str | None
) -> SeriesRequest:
    """Parameters to a plan; every mistake is a 422 that names the parameter."""
    try:
        spec = parse_interval(interval)
        zone = parse_tz(tz)
        aggregates = parse_aggregates(agg)
        start_ms, end_ms = _bucket_range(start, end, spec, zone)
        _check_order(start_ms, end_ms)
        plan = plan_buckets(start_ms, end_ms, spec, zone, MAX_BUCKETS)
    except TooManyBucketsError:
        raise bad_request(
            f"{interval} buckets over this range exceed {MAX_BUCKETS}; widen the interval "
            "or shorten the range"
        ) from None
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    return SeriesRequest(plan, zone, aggregates)


def _bucket_range(
    start: str | None, end: str | None, spec: Interval, zone: ZoneInfo | None
) -> tuple[int, int]:
    """Given ends as they are; missing ones snap to bucket edges, so a rollup tier can answer."""
    end_ms = parse_time_ms(end, "end") if end else enclosing_bucket(now_ms(), spec, zone)[1]
    if start:
        return parse_time_ms(start, "start"), end_ms
    return enclosing_bucket(end_ms - DEFAULT_WINDOW_MS, spec, zone)[0], end_ms


def _check_order(start_ms: int, end_ms: int) -> None:
    if start_ms >= end_ms:
        raise bad_request(f"start ({iso_ms(start_ms)}) must be before end ({iso_ms(end_ms)})")


def buckets_out(buckets: Sequence[SeriesBucket], aggregates: Sequence[str]) -> list[BucketOut]:
    return [
        BucketOut(
            ts=iso_ms(bucket.start_ms),
            values={name: stats_out(a, aggregates) for name, a in bucket.metrics.items()},
        )
        for bucket in buckets
    ]


def stats_out(aggregate: Aggregate, aggregates: Sequence[str]) -> StatsOut:
    values: dict[str, float | int] = {
        "avg": aggregate.avg,
        "min": aggregate.min,
        "max": aggregate.max,
        "count": aggregate.count,
        "sum": aggregate.sum,
        "first": aggregate.first_value,
        "last": aggregate.last_value,
    }
    return StatsOut.model_validate({name: values[name] for name in aggregates})


def source_name(plan: BucketPlan) -> str:
    return "raw" if plan.source is None else plan.source.value
