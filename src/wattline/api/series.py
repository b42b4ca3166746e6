"""Bucketed telemetry for the routers: parameters to a bucket plan, store buckets to JSON."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import orjson
from fastapi import HTTPException, Response, status

from wattline.api.params import (
    DEFAULT_AGGREGATES,
    check_bucket_range,
    default_start_ms,
    parse_aggregates,
    parse_time_ms,
)
from wattline.model.calendar import (
    Interval,
    TooManyBucketsError,
    enclosing_bucket,
    parse_interval,
    parse_tz,
)
from wattline.model.metrics import VALUE_STATISTICS, is_boolean, shown
from wattline.model.times import DAY_MS, iso_ms
from wattline.storage.bucketing import BucketPlan, SeriesBucket, plan_buckets
from wattline.storage.columns import Array, MetricColumns, SeriesColumns
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
        start_ms = (
            parse_time_ms(start, "start") if start else default_start_ms(end_ms, DEFAULT_WINDOW_MS)
        )
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
        start_ms, end_ms = _bucket_range(start, end, spec, zone, interval)
        _check_order(start_ms, end_ms)
        check_bucket_range(start_ms, end_ms, spec.longest_ms, interval)
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
    start: str | None, end: str | None, spec: Interval, zone: ZoneInfo | None, interval: str
) -> tuple[int, int]:
    """Given ends as they are; missing ones snap to bucket edges, so a rollup tier can answer."""

    def enclosing(ts_ms: int) -> tuple[int, int]:
        check_bucket_range(ts_ms, ts_ms, spec.longest_ms, interval)
        return enclosing_bucket(ts_ms, spec, zone)

    end_ms = parse_time_ms(end, "end") if end else enclosing(now_ms())[1]
    if start:
        return parse_time_ms(start, "start"), end_ms
    return enclosing(end_ms - DEFAULT_WINDOW_MS)[0], end_ms


def _check_order(start_ms: int, end_ms: int) -> None:
    if start_ms >= end_ms:
        raise bad_request(f"start ({iso_ms(start_ms)}) must be before end ({iso_ms(end_ms)})")


# How each ``agg`` name is read from an aggregate.
_STATS: dict[str, Callable[[Aggregate], float | int]] = {
    "avg": lambda a: a.sum / a.count,
    "min": lambda a: a.min,
    "max": lambda a: a.max,
    "count": lambda a: a.count,
    "sum": lambda a: a.sum,
    "first": lambda a: a.first_value,
    "last": lambda a: a.last_value,
}


def buckets_json(
    buckets: Sequence[SeriesBucket], aggregates: Sequence[str]
) -> list[dict[str, Any]]:
    """Buckets as the plain data of ``list[BucketOut]``, for ``json_response``.

    The bucket routes write their JSON directly: a day at one minute is
    thousands of ``StatsOut``, and building and serialising them as models was
    half of such a request (benchmarks/query.py). The models still document the
    response, and tests compare both shapes.
    """
    if any(is_boolean(metric) for bucket in buckets for metric in bucket.metrics):
        return _switches_shown(_buckets_json(buckets, aggregates))
    return _buckets_json(buckets, aggregates)


def _switches_shown(buckets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A switch's min, max, first and last as booleans (model.metrics)."""
    for bucket in buckets:
        for metric, stats in bucket["values"].items():
            if is_boolean(metric):
                for name in VALUE_STATISTICS.intersection(stats):
                    stats[name] = shown(metric, stats[name])
    return buckets


def _buckets_json(
    buckets: Sequence[SeriesBucket], aggregates: Sequence[str]
) -> list[dict[str, Any]]:
    if tuple(aggregates) == DEFAULT_AGGREGATES:
        # The common case spelled out: no per-value lookups, about half the time.
        return [
            {
                "ts": iso_ms(bucket.start_ms),
                "values": {
                    metric: {"avg": a.sum / a.count, "min": a.min, "max": a.max, "count": a.count}
                    for metric, a in bucket.metrics.items()
                },
            }
            for bucket in buckets
        ]
    stats = [(name, _STATS[name]) for name in aggregates]
    return [
        {
            "ts": iso_ms(bucket.start_ms),
            "values": {
                metric: {name: read(a) for name, read in stats}
                for metric, a in bucket.metrics.items()
            },
        }
        for bucket in buckets
    ]


def buckets_fragment(series: SeriesColumns | None, aggregates: Sequence[str]) -> orjson.Fragment:
    """``buckets_json`` column-wise, as the JSON text itself, byte for byte the same.

    Each statistic of each metric is one array printed by orjson in one call
    and split into its numbers; a bucket is then a few byte-string joins
    instead of a dict per bucket and per metric (benchmarks/query.py).
    """
    if series is None:
        return orjson.Fragment(b"[]")
    present = series.present()
    if not len(present):
        return orjson.Fragment(b"[]")
    times = _iso_texts(series.starts[present])
    names = list(aggregates)
    templates: list[bytes] = []
    columns: list[list[bytes]] = []
    rows_of: list[Array] = []
    for metric, metric_columns in series.metrics.items():
        has = metric_columns.count[present] > 0
        rows_of.append(has)
        columns.extend(_texts(metric, name, metric_columns, present[has]) for name in names)
        templates.append(
            orjson.dumps(metric).replace(b"%", b"%%")
            + b":{"
            + b",".join(orjson.dumps(name) + b":%b" for name in names)
            + b"}"
        )
    if all(has.all() for has in rows_of):
        # Every metric in every bucket (a day of a working device): one template per bucket.
        template = b'{"ts":"%b","values":{' + b",".join(templates) + b"}}"
        body = b",".join([template % row for row in zip(times, *columns, strict=True)])
        return orjson.Fragment(b"[" + body + b"]")
    values: list[list[bytes]] = [[] for _ in range(len(present))]
    width = len(names)
    for k, (template, has) in enumerate(zip(templates, rows_of, strict=True)):
        texts = columns[k * width : (k + 1) * width]
        into = [values[i] for i in np.flatnonzero(has).tolist()]
        for parts, cells in zip(into, zip(*texts, strict=True), strict=True):
            parts.append(template % cells)
    body = b",".join(
        b'{"ts":"%b","values":{%b}}' % (ts, b",".join(parts))
        for ts, parts in zip(times, values, strict=True)
    )
    return orjson.Fragment(b"[" + body + b"]")


def columns_fragment(series: SeriesColumns | None, aggregates: Sequence[str]) -> orjson.Fragment:
    """The same buckets as ``buckets_fragment``, column-wise (``layout=columns``).

    ``{"ts_ms": [...], "values": {metric: {statistic: [...]}}}``: one array per
    statistic and metric over the buckets with data, as a chart library takes
    them; where a metric has no data in a bucket its count is 0 and the rest
    null. Each array is printed by orjson in one call, with no text per number
    to split and join, so this costs a fraction of the bucket layout.
    """
    if series is None or not len(present := series.present()):
        return orjson.Fragment(b'{"ts_ms":[],"values":{}}')
    metrics = []
    for metric, metric_columns in series.metrics.items():
        has = metric_columns.count[present] > 0
        stats = b",".join(
            orjson.dumps(name) + b":" + _column_json(metric, name, metric_columns, present, has)
            for name in aggregates
        )
        metrics.append(orjson.dumps(metric) + b":{" + stats + b"}")
    ts = orjson.dumps(series.starts[present], option=orjson.OPT_SERIALIZE_NUMPY)
    return orjson.Fragment(b'{"ts_ms":' + ts + b',"values":{' + b",".join(metrics) + b"}}")


def _column_json(metric: str, name: str, columns: MetricColumns, rows: Array, has: Array) -> bytes:
    """One statistic over the chosen buckets as a JSON array; null where the metric has no data."""
    column = _statistic(name, columns, rows)
    if name == "count":
        return orjson.dumps(column, option=orjson.OPT_SERIALIZE_NUMPY)
    if is_boolean(metric) and name in VALUE_STATISTICS:
        pairs = zip(column.tolist(), has.tolist(), strict=True)
        flags = [bool(v != 0.0) if h else None for v, h in pairs]
        return orjson.dumps(flags)
    if not has.all():
        column = np.where(has, column, np.nan)  # NaN prints as null
    return orjson.dumps(column, option=orjson.OPT_SERIALIZE_NUMPY)


# Instants NumPy prints as ``iso_ms`` does: years 1 to 9999.
_ISO_RANGE = (-62_135_596_800_000, 253_402_300_800_000)


def _iso_texts(starts: Array) -> list[bytes]:
    """``iso_ms`` of each start, as bytes.

    Buckets within one day on whole minutes (a day at one minute, the common
    chart) print their date once and take their times of day from a table: 0.22
    ms for 1,440 instead of 0.55 (benchmarks/query.py). Other instants are
    printed by NumPy in one call.
    """
    if not len(starts) or starts.min() < _ISO_RANGE[0] or starts.max() >= _ISO_RANGE[1]:
        return [iso_ms(ts).encode() for ts in starts.tolist()]
    days, of_day = np.divmod(starts, DAY_MS)
    minutes, odd = np.divmod(of_day, _MINUTE_MS)
    if days.min() == days.max() and not odd.any():
        date = np.datetime_as_string(days[:1].astype("datetime64[D]"))[0].encode()
        clock = _minute_texts()
        return [date + clock[m] for m in minutes.tolist()]
    text = np.datetime_as_string(starts.astype("datetime64[ms]"), unit="ms")
    return [t.encode() + b"Z" for t in text.tolist()]


_MINUTE_MS = 60_000


@functools.cache
def _minute_texts() -> list[bytes]:
    """``T08:05:00.000Z`` for each minute of the day, as ``iso_ms`` ends."""
    return [f"T{m // 60:02d}:{m % 60:02d}:00.000Z".encode() for m in range(24 * 60)]


def _texts(metric: str, name: str, columns: MetricColumns, rows: Array) -> list[bytes]:
    """One statistic of the chosen buckets as JSON numbers (booleans for a switch's values)."""
    column = _statistic(name, columns, rows)
    if is_boolean(metric) and name in VALUE_STATISTICS:
        return [b"true" if on else b"false" for on in (column != 0.0).tolist()]
    if not len(column):
        return []
    return orjson.dumps(column, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1].split(b",")


def _statistic(name: str, columns: MetricColumns, rows: Array) -> Array:
    """One ``agg`` statistic of the chosen buckets as an array (avg is sum / count)."""
    if name == "avg":
        with np.errstate(all="ignore"):  # inf / n and NaN / n, as Python divides them
            return columns.sum[rows] / columns.count[rows]
    return getattr(columns, _COLUMN[name])[rows]


# Which column each ``agg`` name reads (avg is sum / count).
_COLUMN = {
    "min": "min",
    "max": "max",
    "count": "count",
    "sum": "sum",
    "first": "first",
    "last": "last",
}


def json_response(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def source_name(plan: BucketPlan) -> str:
    return "raw" if plan.source is None else plan.source.value
