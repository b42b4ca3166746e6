"""Buckets column-wise: one NumPy array per statistic and metric instead of an object per bucket.

A day at one minute is 1,440 buckets x 4 metrics; as ``SeriesBucket`` and
``Aggregate`` objects that is ~6,000 objects built, merged and read back one by
one. Here grid cells arrive as arrays (tier rows fetched as tuples, blocks
decoded), are placed into the plan's buckets with ``searchsorted`` and merged
with ``ufunc.at``, with the same rules as ``rollups.merge``: counts and sums
add in arrival order, extremes win, the earliest first and the latest last win
(ties to the earlier arrival).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from wattline.storage.bucketing import SeriesBucket

# A series' grid cells as arrays of equal length, in this order (Aggregate's fields after the cell).
CELL_COLUMNS = ("cell", "count", "sum", "min", "max", "first_ts", "first", "last_ts", "last")
Array = Any  # numpy.ndarray; numpy's stubs make strict mypy noisy for little gain here


@dataclass(frozen=True, slots=True)
class CellColumns:
    """Some grid cells of one series, column-wise (``CELL_COLUMNS``)."""

    device_id: str
    metric: str
    columns: tuple[Array, ...]


@dataclass(frozen=True, slots=True)
class MetricColumns:
    """One metric's aggregate per bucket of the plan; ``count == 0`` where it has no data."""

    count: Array  # int64
    sum: Array
    min: Array
    max: Array
    first_ts: Array  # int64
    first: Array
    last_ts: Array  # int64
    last: Array


@dataclass(frozen=True, slots=True)
class SeriesColumns:
    """One device's buckets: the plan's nominal starts and each metric's columns over them.

    Metrics are in name order: the order in which ``assemble`` meets them when
    rows come in key order and blocks in (device, metric, day) order, made certain.
    """

    starts: Array  # int64, the plan's nominal bucket starts
    metrics: dict[str, MetricColumns]

    def present(self) -> Array:
        """Indexes of the buckets with data in any metric (``assemble`` leaves the others out)."""
        if not self.metrics:
            return np.zeros(0, np.int64)
        any_data = np.zeros(len(self.starts), bool)
        for columns in self.metrics.values():
            any_data |= columns.count > 0
        return np.flatnonzero(any_data)


def assemble_columns(
    parts: Iterable[CellColumns], starts: Sequence[int]
) -> dict[str, SeriesColumns]:
    """``bucketing.assemble`` column-wise: grid cells merged into the plan's buckets per device."""
    collected: dict[str, dict[str, list[tuple[Array, ...]]]] = {}
    for part in parts:
        if len(part.columns[0]):
            by_metric = collected.setdefault(part.device_id, {})
            by_metric.setdefault(part.metric, []).append(part.columns)
    edges = np.asarray(starts, np.int64)
    return {
        device_id: SeriesColumns(
            edges, {metric: _merged(by_metric[metric], edges) for metric in sorted(by_metric)}
        )
        for device_id, by_metric in collected.items()
    }


def _merged(chunks: list[tuple[Array, ...]], edges: Array) -> MetricColumns:
    # NaN and infinities merge as IEEE arithmetic does, without NumPy's warnings.
    with np.errstate(all="ignore"):
        return _merged_quietly(chunks, edges)


def _merged_quietly(chunks: list[tuple[Array, ...]], edges: Array) -> MetricColumns:
    joined = (np.concatenate(c) if len(chunks) > 1 else c[0] for c in zip(*chunks, strict=True))
    cell, count, total, lo, hi, f_ts, f_v, l_ts, l_v = joined
    # A cell before the first edge belongs to the first bucket: the query clipped it.
    index = np.maximum(np.searchsorted(edges, cell, side="right") - 1, 0)
    size = len(edges)
    if len(index) < 2 or bool(np.all(index[1:] > index[:-1])):
        # At most one cell per bucket, as when the buckets are the grid (a day at
        # 1 minute): nothing to merge, each cell is its bucket's aggregate.
        return _placed(size, index, (count, total, lo, hi, f_ts, f_v, l_ts, l_v))
    out_count, out_sum, out_min, out_max, out_f_ts, out_f_v, out_l_ts, out_l_v = _empty(size)
    np.add.at(out_count, index, count)
    np.add.at(out_sum, index, total)
    np.minimum.at(out_min, index, lo)
    np.maximum.at(out_max, index, hi)
    arrival = np.arange(len(index))
    # The earliest first per bucket, ties to the earlier arrival: the first row of its run.
    order = np.lexsort((arrival, f_ts, index))
    first_rows = order[_run_starts(index[order])]
    # The latest last per bucket, ties to the earlier arrival: the last row of its run.
    order = np.lexsort((-arrival, l_ts, index))
    last_rows = order[_run_ends(index[order])]
    out_f_ts[index[first_rows]] = f_ts[first_rows]
    out_f_v[index[first_rows]] = f_v[first_rows]
    out_l_ts[index[last_rows]] = l_ts[last_rows]
    out_l_v[index[last_rows]] = l_v[last_rows]
    return MetricColumns(out_count, out_sum, out_min, out_max, out_f_ts, out_f_v, out_l_ts, out_l_v)


# A bucket without data, column by column (MetricColumns' order): each the identity
# of its merge. -0.0 for sums (0.0 + -0.0 is 0.0): a lone cell's sum stays its own.
_EMPTY = (
    (0, np.int64),
    (-0.0, np.float64),
    (np.inf, np.float64),
    (-np.inf, np.float64),
    (0, np.int64),
    (np.nan, np.float64),
    (0, np.int64),
    (np.nan, np.float64),
)


def _empty(size: int) -> list[Array]:
    return [np.full(size, value, kind) for value, kind in _EMPTY]


def _placed(size: int, index: Array, cells: tuple[Array, ...]) -> MetricColumns:
    columns = _empty(size)
    for out, values in zip(columns, cells, strict=True):
        out[index] = values
    return MetricColumns(*columns)


def _run_starts(sorted_index: Array) -> Array:
    return np.flatnonzero(np.diff(sorted_index, prepend=-1))


def _run_ends(sorted_index: Array) -> Array:
    return np.flatnonzero(np.diff(sorted_index, append=np.iinfo(np.int64).max))


def rows_to_parts(rows: Iterable[Sequence[Any]], with_ends: bool) -> list[CellColumns]:
    """Cell rows ``(device, metric, cell, n, s, lo, hi, first_ts, last_ts[, first, last])``
    as column-wise parts, one per series in order of first arrival."""
    grouped: dict[tuple[str, str], list[Sequence[Any]]] = {}
    for row in rows:
        grouped.setdefault((row[0], row[1]), []).append(row)
    parts = []
    for (device_id, metric), series in grouped.items():
        columns = list(zip(*series, strict=True))
        cell, n, s, lo, hi, f_ts, l_ts = (columns[i] for i in range(2, 9))
        if with_ends:
            f_v = np.asarray(columns[9], np.float64)
            l_v = np.asarray(columns[10], np.float64)
        else:
            f_v = l_v = np.full(len(series), np.nan)
        parts.append(
            CellColumns(
                device_id,
                metric,
                (
                    np.asarray(cell, np.int64),
                    np.asarray(n, np.int64),
                    np.asarray(s, np.float64),
                    np.asarray(lo, np.float64),
                    np.asarray(hi, np.float64),
                    np.asarray(f_ts, np.int64),
                    f_v,
                    np.asarray(l_ts, np.int64),
                    l_v,
                ),
            )
        )
    return parts


def columns_from_buckets(buckets: Sequence[SeriesBucket], starts: Sequence[int]) -> SeriesColumns:
    """Object-wise buckets as columns over ``starts`` (tests compare both paths with it)."""
    parts: list[CellColumns] = []
    for bucket in buckets:
        for metric, a in bucket.metrics.items():
            columns = (
                np.array([bucket.start_ms], np.int64),
                np.array([a.count], np.int64),
                np.array([a.sum], np.float64),
                np.array([a.min], np.float64),
                np.array([a.max], np.float64),
                np.array([a.first_ts_ms], np.int64),
                np.array([a.first_value], np.float64),
                np.array([a.last_ts_ms], np.int64),
                np.array([a.last_value], np.float64),
            )
            parts.append(CellColumns("", metric, columns))
    return assemble_columns(parts, starts).get("", SeriesColumns(np.asarray(starts, np.int64), {}))
