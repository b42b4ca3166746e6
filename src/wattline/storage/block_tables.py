"""Closed days in blocks: packing rows into them, reopening them, and reading them as arrays.

A series' UTC day is either rows (``samples``, ``rollup_1m``) or one block
(``sample_blocks``, ``rollup_1m_blocks``), packed by ``storage/blocks.py``.
Writers never patch a block: a commit that lands in a compacted day first
*reopens* it (the block goes back to rows, in the commit's transaction), so
dedup, corrections and rollup recomputation keep working on rows exactly as
before, and the next compaction packs the day again.

Both ``compact_day`` and ``reopen`` first lock the series' row of the daily
tier (``rollup_1d``), as ``RollupWriter.recompute`` does, so on PostgreSQL a
commit never inserts a reading while a compaction moves the day's rows into a
block (it would find neither the row nor the block, and count the reading
twice). SQLite has one writer at a time, and ignores ``FOR UPDATE``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    Connection,
    Select,
    Table,
    any_,
    bindparam,
    delete,
    func,
    select,
)

from wattline.storage import blocks, schema
from wattline.storage.bucketing import Cell
from wattline.storage.columns import CellColumns
from wattline.storage.rollups import DAY_MS, Aggregate
from wattline.storage.series_numbers import UnnumberedSeriesError, numbers_of, rows_of_series

InsertFactory = Callable[[Any], Any]
SeriesDay = tuple[str, str, int]  # (device_id, metric, day_ms)
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Packing:
    """How one row table maps to block columns: names in order, the first is the time."""

    rows: Table
    blocks: Table
    time: str
    columns: tuple[str, ...]
    floats: frozenset[str]
    # rows keyed by their series' number (``sample_rows``) rather than its names
    numbered: bool = False

    def of_series(self, device_id: str, metric: str) -> list[ColumnElement[bool]]:
        """The conditions on ``rows`` that select one series."""
        if self.numbered:
            return [rows_of_series(device_id, metric)]
        t = self.rows.c
        return [t.device_id == device_id, t.metric == metric]

    def series_columns(self, conn: Connection, device_id: str, metric: str) -> dict[str, Any]:
        """The columns that name a series in ``rows``: its number, or its names."""
        if not self.numbered:
            return {"device_id": device_id, "metric": metric}
        s = schema.series.c
        number = conn.scalar(numbers_of(s.device_id == device_id, s.metric == metric))
        if number is None:
            raise UnnumberedSeriesError([(device_id, metric)])
        return {"series_id": number}


RAW = Packing(
    schema.sample_rows,
    schema.sample_blocks,
    "ts_ms",
    ("ts_ms", "value", "seq", "received_ms"),
    frozenset({"value"}),
    numbered=True,
)
M1 = Packing(
    schema.rollup_1m,
    schema.rollup_1m_blocks,
    "bucket_ms",
    (
        "bucket_ms",
        "sample_count",
        "value_sum",
        "value_min",
        "value_max",
        "first_ts_ms",
        "first_value",
        "last_ts_ms",
        "last_value",
    ),
    frozenset({"value_sum", "value_min", "value_max", "first_value", "last_value"}),
)
PACKINGS = (RAW, M1)
# seq may be NULL (readings without one): a second column says which are present.
_NO_SEQ = 0


def pack(packing: Packing, rows: Sequence[Sequence[Any]]) -> bytes:
    """Rows (in ``packing.columns`` order, sorted by time, one per time) as a block."""
    columns: list[blocks.Column] = []
    for i, name in enumerate(packing.columns):
        if name == "seq":
            present = np.array([row[i] is not None for row in rows], np.int64)
            seqs = np.array([row[i] or _NO_SEQ for row in rows], np.int64)
            columns += [seqs, present]
        elif name in packing.floats:
            columns.append(np.array([row[i] for row in rows], np.float64))
        else:
            columns.append(np.array([row[i] for row in rows], np.int64))
    return blocks.encode(columns)


def unpack(packing: Packing, payload: bytes) -> dict[str, Any]:
    """A block's columns by name; ``seq`` as a list with None where no seq was stored."""
    arrays = blocks.decode(payload)
    out: dict[str, Any] = {}
    i = 0
    for name in packing.columns:
        if name == "seq":
            seqs, present = arrays[i], arrays[i + 1]
            out[name] = [int(s) if p else None for s, p in zip(seqs, present, strict=True)]
            i += 2
        else:
            out[name] = arrays[i]
            i += 1
    return out


def unpack_rows(packing: Packing, payload: bytes) -> list[tuple[Any, ...]]:
    columns = unpack(packing, payload)
    as_python = [
        c if isinstance(c, list) else c.tolist() for c in (columns[n] for n in packing.columns)
    ]
    return list(zip(*as_python, strict=True))


def compact_day(conn: Connection, insert: InsertFactory, packing: Packing, key: SeriesDay) -> int:
    """The day's rows moved into its block (merged with a block already there, rows winning).

    Returns how many rows moved. DELETE ... RETURNING takes exactly the rows it
    removes, so a row committed meanwhile is either packed or left as a row,
    never lost.
    """
    device_id, metric, day_ms = key
    lock_days(conn, [key])
    t = packing.rows.c
    at = t[packing.time]
    removed = conn.execute(
        delete(packing.rows)
        .where(*packing.of_series(device_id, metric), at >= day_ms, at < day_ms + DAY_MS)
        .returning(*(t[name] for name in packing.columns))
    ).all()
    if not removed:
        return 0
    merged = {row[0]: tuple(row) for row in _stored_block_rows(conn, packing, key)}
    merged.update((row[0], tuple(row)) for row in removed)
    rows = [merged[at_ms] for at_ms in sorted(merged)]
    b = packing.blocks
    statement = insert(b).values(
        device_id=device_id,
        metric=metric,
        day_ms=day_ms,
        row_count=len(rows),
        payload=pack(packing, rows),
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["device_id", "metric", "day_ms"],
            set_={"row_count": statement.excluded.row_count, "payload": statement.excluded.payload},
        )
    )
    return len(removed)


def reopen(conn: Connection, insert: InsertFactory, keys: Collection[SeriesDay]) -> int:
    """Every block of these series-days, raw and 1-minute, turned back into rows.

    Rows already there win (``ON CONFLICT DO NOTHING``). Returns the blocks reopened.
    """
    if not keys:
        return 0
    lock_days(conn, keys)
    reopened = 0
    for packing in PACKINGS:
        found = [
            (key, payload)
            for key, payload in _blocks_of(conn, packing, keys)
            if key in keys  # the query's IN lists name a superset
        ]
        for (device_id, metric, day_ms), payload in found:
            series = packing.series_columns(conn, device_id, metric)
            rows = [
                {**series, **dict(zip(packing.columns, r, strict=True))}
                for r in unpack_rows(packing, payload)
            ]
            conn.execute(insert(packing.rows).on_conflict_do_nothing(), rows)
            b = packing.blocks.c
            conn.execute(
                delete(packing.blocks).where(
                    b.device_id == device_id, b.metric == metric, b.day_ms == day_ms
                )
            )
            reopened += 1
    return reopened


def lock_days(conn: Connection, keys: Collection[SeriesDay]) -> None:
    """Lock the daily-tier rows of these series-days, in key order (as every writer does)."""
    d = schema.rollup_1d.c
    conn.execute(
        select(d.bucket_ms)
        .where(*_in_lists(schema.rollup_1d, "bucket_ms", keys))
        .order_by(d.device_id, d.metric, d.bucket_ms)
        .with_for_update()
    ).all()


def _in_lists(table: Table, time: str, keys: Collection[SeriesDay]) -> list[Any]:
    # Three IN lists, not a row-value IN: both engines seek the primary key with them.
    c = table.c
    return [
        c.device_id.in_(sorted({k[0] for k in keys})),
        c.metric.in_(sorted({k[1] for k in keys})),
        c[time].in_(sorted({k[2] for k in keys})),
    ]


def _blocks_of(
    conn: Connection, packing: Packing, keys: Collection[SeriesDay]
) -> list[tuple[SeriesDay, bytes]]:
    b = packing.blocks.c
    query = select(b.device_id, b.metric, b.day_ms, b.payload).where(
        *_in_lists(packing.blocks, "day_ms", keys)
    )
    return [((d, m, int(day)), bytes(p)) for d, m, day, p in conn.execute(query)]


def _stored_block_rows(conn: Connection, packing: Packing, key: SeriesDay) -> list[tuple[Any, ...]]:
    found = _blocks_of(conn, packing, [key])
    return unpack_rows(packing, found[0][1]) if found else []


@dataclass(frozen=True, slots=True)
class BlockSeries:
    """One block's columns cut to a time range: the series and its arrays by column name."""

    device_id: str
    metric: str
    columns: dict[str, Any]


# The bound parameters of a series statement (``series_filter``, ``series_parameters``).
_DEVICE_IDS = "device_ids"
_METRICS = "metrics"
_START_MS = "start_ms"
_END_MS = "end_ms"


def series_filter(
    device: ColumnElement[str], metric: ColumnElement[str], *, named: bool, dialect: str
) -> list[ColumnElement[bool]]:
    """``device`` among the devices and ``metric`` among the metrics of
    ``series_parameters``; when not ``named``, among every metric the devices ever
    reported (their ``latest`` rows), as a subquery of the same statement.

    Bound, not literal, so that a statement is built once and reused: building
    and keying a statement each read was a fifth of a day's read (py-spy). The
    metric list keeps a series query a primary-key seek per metric, not a scan
    of all a device's history; asked for in a query of its own, it was a round
    trip more per read (one of six on PostgreSQL). PostgreSQL gets it as an
    array computed once (``= ANY(ARRAY(...))``): as ``IN (subquery)`` its
    planner, without statistics, joined the subquery against every row (2.5 ms
    against 0.6 for a day of two metrics)."""
    of_device = device.in_(bindparam(_DEVICE_IDS, expanding=True))
    if named:
        return [of_device, metric.in_(bindparam(_METRICS, expanding=True))]
    latest = schema.latest.c
    reported = select(latest.metric).where(
        latest.device_id.in_(bindparam(_DEVICE_IDS, expanding=True))
    )
    if dialect == "postgresql":
        return [of_device, metric == any_(func.array(reported.scalar_subquery()))]
    return [of_device, metric.in_(reported)]


def series_parameters(
    device_ids: Sequence[str], metrics: Sequence[str] | None, start_ms: int, end_ms: int
) -> dict[str, Any]:
    """The values of a statement built with ``series_filter`` and a range."""
    values: dict[str, Any] = {
        _DEVICE_IDS: list(device_ids),
        _START_MS: start_ms,
        _END_MS: end_ms,
    }
    if metrics is not None:
        values[_METRICS] = list(metrics)
    return values


def range_start() -> BindParameter[int]:
    return bindparam(_START_MS, type_=BigInteger)


def range_end() -> BindParameter[int]:
    return bindparam(_END_MS, type_=BigInteger)


def read_blocks(  # noqa: PLR0913, PLR0917 - the series, the range and the table
    conn: Connection,
    packing: Packing,
    device_ids: Sequence[str],
    metrics: Sequence[str] | None,
    start_ms: int,
    end_ms: int,
    *,
    descending: bool = False,
) -> Iterator[BlockSeries]:
    """Blocks overlapping [start_ms, end_ms), in (device, metric, day) order, cut to the range."""
    query = _blocks_statement(packing, metrics is not None, conn.dialect.name, descending)
    values = series_parameters(device_ids, metrics, start_ms, end_ms)
    for device_id, metric, payload in conn.execute(query, values):
        columns = unpack(packing, bytes(payload))
        times = columns[packing.time]
        lo, hi = np.searchsorted(times, [start_ms, end_ms])
        if lo == hi:
            continue
        cut = {name: c[lo:hi] for name, c in columns.items()}
        yield BlockSeries(device_id, metric, cut)


@functools.cache
def _blocks_statement(packing: Packing, named: bool, dialect: str, descending: bool) -> Select[Any]:
    b = packing.blocks.c
    # a block holds a day from day_ms: one that starts a day before the range still overlaps it
    where = [
        *series_filter(b.device_id, b.metric, named=named, dialect=dialect),
        b.day_ms > range_start() - DAY_MS,
        b.day_ms < range_end(),
    ]
    day_order = b.day_ms.desc() if descending else b.day_ms
    return (
        select(b.device_id, b.metric, b.payload)
        .where(*where)
        .order_by(b.device_id, b.metric, day_order)
    )


def has_blocks(
    conn: Connection, packing: Packing, device_ids: Sequence[str], start_ms: int, end_ms: int
) -> bool:
    b = packing.blocks.c
    query = select(b.day_ms).where(
        b.device_id.in_(list(device_ids)), b.day_ms > start_ms - DAY_MS, b.day_ms < end_ms
    )
    return conn.execute(query.limit(1)).first() is not None


@dataclass(frozen=True, slots=True)
class Grid:
    """Which cells to group into: ``x - (x - phase_ms) % step_ms``, SQL's truncating %."""

    phase_ms: int
    step_ms: int


def block_cells(  # noqa: PLR0913, PLR0917 - the series, the range, the grid and what to return
    conn: Connection,
    packing: Packing,
    device_ids: Sequence[str],
    metrics: Sequence[str] | None,
    span: tuple[int, int],
    grid: Grid,
    with_ends: bool,
) -> Iterator[Cell]:
    """``block_cell_columns`` as one ``Cell`` per grid cell."""
    for part in block_cell_columns(conn, packing, device_ids, metrics, span, grid, with_ends):
        d, m = part.device_id, part.metric
        # Plain Python numbers, unpacked by name: star-unpacking each cell cost a third more.
        for at, n, s, lo, hi, fts, fv, lts, lv in zip(
            *(col.tolist() for col in part.columns), strict=True
        ):
            yield Cell(d, m, at, Aggregate(n, s, lo, hi, fts, fv, lts, lv))


def block_cell_columns(  # noqa: PLR0913, PLR0917 - the series, the range, the grid and what to return
    conn: Connection,
    packing: Packing,
    device_ids: Sequence[str],
    metrics: Sequence[str] | None,
    span: tuple[int, int],
    grid: Grid,
    with_ends: bool,
) -> Iterator[CellColumns]:
    """Grid cells of the blocks in [span), grouped column-wise with NumPy.

    Each block is one series sorted by time, so a cell is a run of equal grid
    values: ``reduceat`` over the run starts gives count, sum, min and max, and
    the run's first and last rows give its ends.
    """
    for series in read_blocks(conn, packing, device_ids, metrics, span[0], span[1]):
        c = series.columns
        if packing is RAW:
            x = c["ts_ms"]
            ones = np.ones(len(x), np.int64)
            parts = (ones, c["value"], c["value"], c["value"], x, c["value"], x, c["value"])
        else:
            x = c["bucket_ms"]
            parts = tuple(c[name] for name in M1.columns[1:])
        cell = x - np.fmod(x - grid.phase_ms, grid.step_ms)
        starts = np.concatenate(([0], np.flatnonzero(np.diff(cell)) + 1))
        ends = np.concatenate((starts[1:], [len(x)])) - 1
        count, total, lo, hi, f_ts, f_v, l_ts, l_v = parts
        columns = (
            cell[starts],
            np.add.reduceat(count, starts),
            np.add.reduceat(total, starts),
            np.minimum.reduceat(lo, starts),
            np.maximum.reduceat(hi, starts),
            f_ts[starts],
            f_v[starts] if with_ends else np.full(len(starts), np.nan),
            l_ts[ends],
            l_v[ends] if with_ends else np.full(len(starts), np.nan),
        )
        yield CellColumns(series.device_id, series.metric, columns)
