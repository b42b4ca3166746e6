"""Reading stored telemetry: latest values, raw points, planned buckets, ingest diagnostics."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from wattline.model.devices import LatestValue
from wattline.model.sequence import SeqState
from wattline.storage import schema
from wattline.storage.base import DedupCounts, RawPoint
from wattline.storage.block_tables import RAW, read_blocks
from wattline.storage.bucketing import BucketPlan, SeriesBucket, assemble
from wattline.storage.columns import SeriesColumns, assemble_columns
from wattline.storage.keyset import raw_timestamps_query
from wattline.storage.raw_window import RawWindow
from wattline.storage.rollup_tables import (
    CellQuery,
    iter_cell_columns,
    iter_cells,
)
from wattline.storage.sequencing import read_state
from wattline.storage.sql.connections import Connections


class SqlReads:
    def __init__(self, connections: Connections) -> None:
        self._connections = connections

    def latest_values(
        self, device_ids: Sequence[str] | None = None
    ) -> dict[str, list[LatestValue]]:
        table = schema.latest
        query = select(table).order_by(table.c.device_id, table.c.metric)
        if device_ids is not None:
            query = query.where(table.c.device_id.in_(list(device_ids)))
        result: dict[str, list[LatestValue]] = {}
        with self._connections.read_statement() as conn:
            for row in conn.execute(query):
                result.setdefault(row.device_id, []).append(
                    LatestValue(metric=row.metric, ts_ms=row.ts_ms, value=row.value)
                )
        return result

    def raw_points(  # noqa: PLR0913 - the range, its filter and the page
        self,
        device_id: str,
        start_ms: int,
        end_ms: int,
        fields: Sequence[str] | None,
        limit: int,
        *,
        after_ms: int | None = None,
        descending: bool = False,
    ) -> list[RawPoint]:
        """Readings in [start_ms, end_ms), oldest first (newest with ``descending``).

        ``after_ms`` is the last timestamp of the previous page: this page starts past it.
        """
        s = schema.samples.c
        in_range, first_ts = raw_timestamps_query(
            device_id, start_ms, end_ms, fields, limit, after_ms=after_ms, descending=descending
        )
        page = first_ts.subquery()
        query = (
            select(s.ts_ms, s.metric, s.value, s.seq)
            .where(*in_range, s.ts_ms.in_(select(page.c.ts_ms)))
            .order_by(s.ts_ms.desc() if descending else s.ts_ms, s.metric)
        )
        if after_ms is not None:
            start_ms, end_ms = (start_ms, after_ms) if descending else (after_ms + 1, end_ms)
        with self._connections.read() as conn:
            rows = conn.execute(query).all()
            window = RawWindow(device_id, fields, limit, descending=descending)
            window.add_blocks(conn, start_ms, end_ms, rows)
        return window.points(rows)

    def metric_points(
        self, device_id: str, metric: str, start_ms: int, end_ms: int
    ) -> list[tuple[int, float]]:
        """(ts_ms, value) of one metric in [start_ms, end_ms), in time order.

        The lean read for arithmetic over one series (energy replays a day
        from it): a range scan of the primary key, rows kept as tuples.
        """
        s = schema.samples.c
        query = (
            select(s.ts_ms, s.value)
            .where(
                s.device_id == device_id,
                s.metric == metric,
                s.ts_ms >= start_ms,
                s.ts_ms < end_ms,
            )
            .order_by(s.ts_ms)
        )
        with self._connections.read() as conn:
            rows = [(int(ts), float(v)) for ts, v in conn.execute(query)]
            packed: list[tuple[int, float]] = []
            for block in read_blocks(conn, RAW, [device_id], [metric], start_ms, end_ms):
                c = block.columns
                packed.extend(zip(c["ts_ms"].tolist(), c["value"].tolist(), strict=True))
        if not packed:
            return rows
        if not rows:
            return packed
        merged = dict(packed)
        merged.update(rows)  # a row of a day being reopened wins over its block
        return sorted(merged.items())

    def series(
        self,
        device_ids: Sequence[str],
        plan: BucketPlan,
        fields: Sequence[str] | None,
        with_ends: bool = False,
    ) -> dict[str, list[SeriesBucket]]:
        """The plan's buckets per device, read from the tier the plan names (None: raw).

        ``with_ends`` also fetches first and last values (a join per cell);
        without it an aggregate's first_value/last_value are NaN.
        """
        if not device_ids:
            return {}
        query = _cell_query(device_ids, plan, fields)
        with self._connections.read() as conn:
            return assemble(iter_cells(conn, query, with_ends), plan.starts)

    def series_columns(
        self,
        device_ids: Sequence[str],
        plan: BucketPlan,
        fields: Sequence[str] | None,
        with_ends: bool = False,
    ) -> dict[str, SeriesColumns]:
        """``series`` column-wise: arrays per metric over the buckets, no object per bucket."""
        if not device_ids:
            return {}
        query = _cell_query(device_ids, plan, fields)
        with self._connections.read() as conn:
            return assemble_columns(iter_cell_columns(conn, query, with_ends), plan.starts)

    def sequence_state(self, device_id: str) -> SeqState | None:
        with self._connections.read() as conn:
            return read_state(conn, device_id)

    def dedup_counts(self, device_id: str) -> DedupCounts | None:
        d = schema.devices.c
        query = select(d.duplicate_samples, d.corrected_samples).where(d.device_id == device_id)
        with self._connections.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else DedupCounts(row[0], row[1])


def _cell_query(
    device_ids: Sequence[str], plan: BucketPlan, fields: Sequence[str] | None
) -> CellQuery:
    """The plan's cells of the named metrics (None or empty: all the devices have)."""
    return CellQuery(
        source=plan.source,
        device_ids=device_ids,
        metrics=list(fields) if fields else None,
        start_ms=plan.start_ms,
        end_ms=plan.end_ms,
        phase_ms=plan.grid_phase_ms,
        step_ms=plan.grid_step_ms,
    )
