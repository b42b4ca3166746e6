"""One page of raw readings from rows and blocks together, limited to whole timestamps.

``raw_points`` pages by timestamp: the first ``limit`` timestamps of the range
(the last ones when descending). Rows come from one SQL query already limited
so; blocks are decoded a UTC day at a time, in page order, only until no
later day can hold a timestamp inside the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from wattline.storage import schema
from wattline.storage.base import RawPoint
from wattline.storage.block_tables import RAW, read_blocks
from wattline.storage.rollups import DAY_MS


class RawWindow:
    def __init__(
        self, device_id: str, fields: Sequence[str] | None, limit: int, *, descending: bool
    ) -> None:
        self._device_id = device_id
        self._fields = list(fields) if fields else None
        self._limit = limit
        self._descending = descending
        # ts -> (seq, {metric: value}), from blocks
        self._packed: dict[int, tuple[int | None, dict[str, float]]] = {}

    def add_blocks(self, conn: Connection, start_ms: int, end_ms: int, rows: Sequence[Any]) -> None:
        """Decode the range's blocks, day by day in page order, until the page is settled."""
        b = schema.sample_blocks.c
        where = [b.device_id == self._device_id, b.day_ms > start_ms - DAY_MS, b.day_ms < end_ms]
        if self._fields is not None:
            where.append(b.metric.in_(self._fields))
        order = b.day_ms.desc() if self._descending else b.day_ms
        days = conn.scalars(select(b.day_ms).where(*where).distinct().order_by(order)).all()
        row_times = {int(row[0]) for row in rows}
        for day_ms in days:
            if self._settled_before(int(day_ms), row_times):
                break
            lo, hi = max(start_ms, day_ms), min(end_ms, day_ms + DAY_MS)
            for block in read_blocks(conn, RAW, [self._device_id], self._fields, lo, hi):
                c = block.columns
                for ts, value, seq in zip(
                    c["ts_ms"].tolist(), c["value"].tolist(), c["seq"], strict=True
                ):
                    point = self._packed.setdefault(ts, (seq, {}))
                    point[1][block.metric] = value

    def _settled_before(self, day_ms: int, row_times: set[int]) -> bool:
        """Whether the page's ``limit`` timestamps all come before this day (in page order)."""
        times = row_times | self._packed.keys()
        if len(times) < self._limit:
            return False
        ordered = sorted(times, reverse=self._descending)
        edge = ordered[self._limit - 1]
        return day_ms + DAY_MS <= edge if self._descending else day_ms > edge

    def points(self, rows: Sequence[Any]) -> list[RawPoint]:
        """Rows (ts, metric, value, seq) merged over the blocks' points, rows winning."""
        merged = self._packed
        for ts, metric, value, seq in rows:
            point = merged.get(ts)
            if point is None or point[0] != seq:
                point = merged[ts] = (seq, dict(point[1]) if point else {})
            point[1][metric] = value
        times = sorted(merged, reverse=self._descending)[: self._limit]
        return [
            RawPoint(ts_ms=ts, seq=merged[ts][0], metrics=dict(sorted(merged[ts][1].items())))
            for ts in times
        ]
