"""Reading and writing the rollup tier tables inside SqlStore's connections.

Written once for SQLite and PostgreSQL: upserts with ``ON CONFLICT DO UPDATE``
whose min/max/first/last are ``CASE`` expressions, and grouping on an integer
grid (``x - (x - phase) % step``) that both dialects compute alike.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Select,
    Table,
    and_,
    case,
    func,
    literal_column,
    select,
)

from wattline.storage import schema
from wattline.storage.block_tables import (
    M1,
    RAW,
    Grid,
    block_cell_columns,
    block_cells,
    range_end,
    range_start,
    series_filter,
    series_parameters,
)
from wattline.storage.bucketing import Cell
from wattline.storage.bulk import BulkStatement
from wattline.storage.columns import CellColumns, rows_to_parts
from wattline.storage.rollups import (
    DAY_MS,
    MINUTE_MS,
    TIERS,
    Aggregate,
    RollupKey,
    Tier,
    coarsen,
    merge,
    tier_partials,
)

InsertFactory = Callable[[Any], Any]
# (device_id, metric, ts_ms, value, ...): sample rows, extra columns allowed
Sample = Sequence[Any]

TABLES: dict[Tier, Table] = {
    Tier.M1: schema.rollup_1m,
    Tier.H1: schema.rollup_1h,
    Tier.D1: schema.rollup_1d,
}
_KEY = ["device_id", "metric", "bucket_ms"]
# Rows per fetch when streaming cells: few enough to stay young, enough to batch the driver.
_ROWS_PER_FETCH = 1_000


class RollupWriter:
    """Keeps the tiers equal to the samples, in the transaction that changes the samples."""

    def __init__(self, insert: InsertFactory) -> None:
        self._fold = {
            # one row per bucket key: tier_partials merged them
            tier: BulkStatement(_fold_statement(insert, table), one_row_per_key=True)
            for tier, table in TABLES.items()
        }
        self._replace = {tier: _replace_statement(insert, table) for tier, table in TABLES.items()}

    def fold_in(self, conn: Connection, samples: Iterable[Sample]) -> None:
        """Merge newly inserted samples into their buckets: one upsert per tier."""
        partials = dict(tier_partials(samples))
        # Coarsest first and in key order: every writer then takes a (device,
        # metric, day) row lock before its finer rows, as recompute() does, so
        # concurrent collectors on PostgreSQL queue instead of deadlocking.
        for tier in reversed(TIERS):
            rows = sorted(partials[tier].items(), key=itemgetter(0))
            if rows:
                self._fold[tier].execute(conn, [_row(key, agg) for key, agg in rows])

    def recompute(self, conn: Connection, corrected: Iterable[tuple[str, str, int]]) -> None:
        """Rewrite the buckets holding corrected samples from the raw samples of their day.

        A changed value can move min, max, first or last, which no increment
        can undo; the day's one-minute aggregates are read back from raw and
        coarsened, and only the buckets the corrections touch are written.
        """
        touched: dict[tuple[str, str, int], set[int]] = {}
        for device_id, metric, ts_ms in corrected:
            touched.setdefault((device_id, metric, ts_ms - ts_ms % DAY_MS), set()).add(ts_ms)
        day_table = TABLES[Tier.D1]
        for (device_id, metric, day_ms), timestamps in sorted(touched.items()):
            # Wait for any transaction still folding new samples into this day,
            # so the raw read below sees them (READ COMMITTED takes a new
            # snapshot per statement); a no-op on SQLite, which has one writer.
            conn.execute(
                select(day_table.c.bucket_ms)
                .where(*_key_is(day_table, device_id, metric), day_table.c.bucket_ms == day_ms)
                .with_for_update()
            )
            minutes = {
                (cell.device_id, cell.metric, cell.start_ms): cell.aggregate
                for cell in read_cells(
                    conn,
                    CellQuery(
                        None, [device_id], [metric], day_ms, day_ms + DAY_MS, day_ms, MINUTE_MS
                    ),
                    with_ends=True,
                )
            }
            for tier in TIERS:
                exact = minutes if tier is Tier.M1 else coarsen(minutes, tier.width_ms)
                wanted = {(device_id, metric, ts - ts % tier.width_ms) for ts in timestamps}
                rows = [_row(key, exact[key]) for key in sorted(wanted) if key in exact]
                if rows:
                    conn.execute(self._replace[tier], rows)


@dataclass(frozen=True, slots=True)
class CellQuery:
    """What to group: a source (None: raw samples), devices, metrics (None: all they
    have), a range and a grid."""

    source: Tier | None
    device_ids: Sequence[str]
    metrics: Sequence[str] | None
    start_ms: int
    end_ms: int
    phase_ms: int
    step_ms: int


def read_cells(conn: Connection, query: CellQuery, with_ends: bool) -> list[Cell]:
    """Aggregates per (device, metric, grid cell); first/last values only when asked for.

    A cell spanning rows and a block (a grid coarser than a day) comes out of
    ``iter_cells`` in two parts; here they are merged into one.
    """
    cells: dict[tuple[str, str, int], Cell] = {}
    for cell in iter_cells(conn, query, with_ends):
        key = (cell.device_id, cell.metric, cell.start_ms)
        known = cells.get(key)
        cells[key] = (
            cell
            if known is None
            else replace(cell, aggregate=merge(known.aggregate, cell.aggregate))
        )
    return list(cells.values())


def iter_cells(conn: Connection, query: CellQuery, with_ends: bool) -> Iterator[Cell]:
    """``read_cells`` as a stream, consumed while the connection is open.

    A day at one minute is thousands of rows. Fetched a page at a time and
    merged as they come, rows and cells die young instead of all living until
    the end of the request, which made Python's full garbage collections (over
    every object of the process) run on most such requests. Rows are unpacked
    by position, not looked up by name: per-row Python was much of the time.
    Compacted days follow, from their blocks; ``assemble`` merges a cell that
    comes in two parts (rows and a block) like any two cells of one bucket.
    """
    yield from _row_cells(conn, query, with_ends)
    packing = {None: RAW, Tier.M1: M1}.get(query.source)
    if packing is not None:
        span = (query.start_ms, query.end_ms)
        grid = Grid(query.phase_ms, query.step_ms)
        yield from block_cells(
            conn, packing, query.device_ids, query.metrics, span, grid, with_ends
        )


def iter_cell_columns(conn: Connection, query: CellQuery, with_ends: bool) -> Iterator[CellColumns]:
    """``iter_cells`` column-wise: a part per series from the rows, then one per block."""
    statement = _select_cells(query, with_ends, conn.dialect.name)
    rows = conn.execute(statement, _parameters(query)).all()
    yield from rows_to_parts(rows, with_ends)
    packing = {None: RAW, Tier.M1: M1}.get(query.source)
    if packing is not None:
        span = (query.start_ms, query.end_ms)
        grid = Grid(query.phase_ms, query.step_ms)
        yield from block_cell_columns(
            conn, packing, query.device_ids, query.metrics, span, grid, with_ends
        )


def _row_cells(conn: Connection, query: CellQuery, with_ends: bool) -> Iterator[Cell]:
    nan = math.nan
    statement = _select_cells(query, with_ends, conn.dialect.name)
    for page in conn.execute(statement, _parameters(query)).partitions(_ROWS_PER_FETCH):
        for row in page:
            d, m, cell, n, s, lo, hi, f_ts, l_ts = row[:9]
            f_v, l_v = (float(row[9]), float(row[10])) if with_ends else (nan, nan)
            aggregate = Aggregate(
                int(n), float(s), float(lo), float(hi), int(f_ts), f_v, int(l_ts), l_v
            )
            yield Cell(d, m, int(cell), aggregate)


def _parameters(query: CellQuery) -> dict[str, Any]:
    return series_parameters(query.device_ids, query.metrics, query.start_ms, query.end_ms)


@functools.cache
def _select_rows(source: Tier, with_ends: bool, named: bool, dialect: str) -> Select[Any]:
    """Tier rows as they are, when each grid cell is one tier bucket: no grouping, no join.

    Built once per shape: the devices, metrics and range are bound parameters."""
    c = TABLES[source].c
    ends = [c.first_value, c.last_value] if with_ends else []
    return select(
        c.device_id,
        c.metric,
        c.bucket_ms.label("cell"),
        c.sample_count.label("n"),
        c.value_sum.label("s"),
        c.value_min.label("lo"),
        c.value_max.label("hi"),
        c.first_ts_ms.label("first_ts"),
        c.last_ts_ms.label("last_ts"),
        *ends,
    ).where(
        *series_filter(c.device_id, c.metric, named=named, dialect=dialect),
        c.bucket_ms >= range_start(),
        c.bucket_ms < range_end(),
    )


def _select_cells(query: CellQuery, with_ends: bool, dialect: str) -> Select[Any]:
    if (
        query.source is not None
        and query.step_ms == query.source.width_ms
        and query.phase_ms % query.step_ms == 0
    ):
        return _select_rows(query.source, with_ends, query.metrics is not None, dialect)
    if query.source is None:
        table = schema.samples
        c = table.c
        x = c.ts_ms
        columns = [
            func.count().label("n"),
            func.sum(c.value).label("s"),
            func.min(c.value).label("lo"),
            func.max(c.value).label("hi"),
            func.min(c.ts_ms).label("first_ts"),
            func.max(c.ts_ms).label("last_ts"),
        ]
    else:
        table = TABLES[query.source]
        c = table.c
        x = c.bucket_ms
        columns = [
            func.sum(c.sample_count).label("n"),
            func.sum(c.value_sum).label("s"),
            func.min(c.value_min).label("lo"),
            func.max(c.value_max).label("hi"),
            func.min(c.first_ts_ms).label("first_ts"),
            func.max(c.last_ts_ms).label("last_ts"),
        ]
    # Integers from the plan, never from request text; literals keep the
    # arithmetic in BIGINT on PostgreSQL.
    phase = literal_column(str(int(query.phase_ms)), BigInteger)
    step = literal_column(str(int(query.step_ms)), BigInteger)
    cell = (x - (x - phase) % step).label("cell")
    grouped = (
        select(c.device_id, c.metric, cell, *columns)
        .where(
            *series_filter(c.device_id, c.metric, named=query.metrics is not None, dialect=dialect),
            x >= range_start(),
            x < range_end(),
        )
        .group_by(c.device_id, c.metric, cell)
    )
    if not with_ends:
        return grouped
    g = grouped.subquery("g")
    first, last = table.alias("f"), table.alias("l")
    if query.source is None:
        first_at: ColumnElement[bool] = first.c.ts_ms == g.c.first_ts
        last_at: ColumnElement[bool] = last.c.ts_ms == g.c.last_ts
        first_value, last_value = first.c.value, last.c.value
    else:
        # The tier row holding a timestamp is found by its primary key.
        width = literal_column(str(query.source.width_ms), BigInteger)
        first_at = first.c.bucket_ms == g.c.first_ts - g.c.first_ts % width
        last_at = last.c.bucket_ms == g.c.last_ts - g.c.last_ts % width
        first_value, last_value = first.c.first_value, last.c.last_value
    return select(g, first_value.label("first_value"), last_value.label("last_value")).select_from(
        g.join(first, and_(*_same_series(first, g), first_at)).join(
            last, and_(*_same_series(last, g), last_at)
        )
    )


def _same_series(table: Any, g: Any) -> list[ColumnElement[bool]]:
    return [table.c.device_id == g.c.device_id, table.c.metric == g.c.metric]


def _key_is(table: Table, device_id: str, metric: str) -> list[ColumnElement[bool]]:
    return [table.c.device_id == device_id, table.c.metric == metric]


def _fold_statement(insert: InsertFactory, table: Table) -> Any:
    statement = insert(table)
    new, old = statement.excluded, table.c
    earlier = new.first_ts_ms < old.first_ts_ms
    later = new.last_ts_ms > old.last_ts_ms
    # SET expressions read the row as it was before the update, on both dialects.
    return statement.on_conflict_do_update(
        index_elements=_KEY,
        set_={
            "sample_count": old.sample_count + new.sample_count,
            "value_sum": old.value_sum + new.value_sum,
            "value_min": case((new.value_min < old.value_min, new.value_min), else_=old.value_min),
            "value_max": case((new.value_max > old.value_max, new.value_max), else_=old.value_max),
            "first_ts_ms": case((earlier, new.first_ts_ms), else_=old.first_ts_ms),
            "first_value": case((earlier, new.first_value), else_=old.first_value),
            "last_ts_ms": case((later, new.last_ts_ms), else_=old.last_ts_ms),
            "last_value": case((later, new.last_value), else_=old.last_value),
        },
    )


def _replace_statement(insert: InsertFactory, table: Table) -> Any:
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=_KEY,
        set_={c.name: statement.excluded[c.name] for c in table.c if c.name not in _KEY},
    )


def _row(key: RollupKey, agg: Aggregate) -> dict[str, Any]:
    device_id, metric, bucket_ms = key
    return {
        "device_id": device_id,
        "metric": metric,
        "bucket_ms": bucket_ms,
        "sample_count": agg.count,
        "value_sum": agg.sum,
        "value_min": agg.min,
        "value_max": agg.max,
        "first_ts_ms": agg.first_ts_ms,
        "first_value": agg.first_value,
        "last_ts_ms": agg.last_ts_ms,
        "last_value": agg.last_value,
    }
