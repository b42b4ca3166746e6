"""Series numbers: the ``series`` row of each (device, metric) pair, and the filters
that reach a pair's ``sample_rows`` through it (ADR 0036).

A number is made in a transaction of its own and committed before any sample
uses it (``SeriesNumbers.ensure``), so a number a process has cached always
names a committed row: a commit that fails takes no number back with it. Rows
of ``series`` are never deleted, so a cached number never goes stale.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, select

from wattline.model.messages import Reading
from wattline.storage import schema

SeriesKey = tuple[str, str]  # (device_id, metric)
InsertFactory = Callable[[Any], Any]
# Pairs per SELECT: two bound parameters each, well under either engine's limit.
_KEYS_PER_LOOKUP = 5_000


class UnnumberedSeriesError(RuntimeError):
    """Samples of series that ``SeriesNumbers.ensure`` has not numbered yet."""

    def __init__(self, keys: Collection[SeriesKey]) -> None:
        self.keys = sorted(keys)
        super().__init__(f"series without a number: {self.keys[:5]}")


class SeriesNumbers:
    """The numbers of series, cached for the store's life (thread-safe)."""

    def __init__(self, insert: InsertFactory) -> None:
        self._numbers: dict[SeriesKey, int] = {}
        self._names: dict[int, SeriesKey] = {}
        # The metrics numbered per device: one subset test per reading in ensure_for.
        self._metrics_of: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()
        self._insert = insert(schema.series).on_conflict_do_nothing(
            index_elements=["device_id", "metric"]
        )

    def ensure(
        self, write: Callable[[], AbstractContextManager[Connection]], keys: Iterable[SeriesKey]
    ) -> None:
        """Number every series among ``keys`` that has no number yet, in a transaction
        of ``write()``'s, committed before this returns; a no-op when all are cached."""
        missing = sorted(set(keys) - self._numbers.keys())
        if not missing:
            return
        with write() as conn:
            conn.execute(self._insert, [{"device_id": d, "metric": m} for d, m in missing])
            self._remember(_select_numbers(conn, missing))

    def ensure_for(
        self, write: Callable[[], AbstractContextManager[Connection]], readings: Iterable[Reading]
    ) -> None:
        """``ensure`` the series of these readings' samples."""
        known, nothing = self._metrics_of, frozenset[str]()
        missing = {
            (r.device_id, metric)
            for r in readings
            if not r.metrics.keys() <= known.get(r.device_id, nothing)
            for metric in r.metrics
        }
        self.ensure(write, missing)

    def numbers(self, conn: Connection, keys: Collection[SeriesKey]) -> dict[SeriesKey, int]:
        """The numbers of ``keys``, read from ``series`` where not cached; raises
        UnnumberedSeriesError for those ``ensure`` has not numbered."""
        cached = self._numbers
        missing = [key for key in keys if key not in cached]
        if missing:
            found = _select_numbers(conn, missing)
            unnumbered = set(missing) - found.keys()
            if unnumbered:
                raise UnnumberedSeriesError(unnumbered)
            self._remember(found)
        return {key: cached[key] for key in keys}

    def cached(self) -> Mapping[SeriesKey, int]:
        """The numbers known to this process (each committed; numbers never change)."""
        return self._numbers

    def names(self) -> Mapping[int, SeriesKey]:
        """The series of every cached number."""
        return self._names

    def _remember(self, found: dict[SeriesKey, int]) -> None:
        # Readers index these dictionaries without the lock: each update only adds
        # keys, and a key, once there, never changes its value.
        with self._lock:
            self._numbers.update(found)
            self._names.update((number, key) for key, number in found.items())
            metrics: dict[str, set[str]] = {}
            for device_id, metric in found:
                metrics.setdefault(device_id, set()).add(metric)
            for device_id, added in metrics.items():
                self._metrics_of[device_id] = self._metrics_of.get(device_id, frozenset()) | added


def _select_numbers(conn: Connection, keys: Sequence[SeriesKey]) -> dict[SeriesKey, int]:
    s = schema.series.c
    found: dict[SeriesKey, int] = {}
    for i in range(0, len(keys), _KEYS_PER_LOOKUP):
        chunk = keys[i : i + _KEYS_PER_LOOKUP]
        query = select(s.device_id, s.metric, s.series_id).where(
            s.device_id.in_(sorted({d for d, _ in chunk})),
            s.metric.in_(sorted({m for _, m in chunk})),
        )
        found.update(((d, m), int(n)) for d, m, n in conn.execute(query))
    wanted = set(keys)
    return {key: number for key, number in found.items() if key in wanted}


def numbers_of(
    device: ColumnElement[bool] | None = None, metric: ColumnElement[bool] | None = None
) -> Select[tuple[int]]:
    """The subquery of series numbers whose device and metric meet these conditions
    (on ``schema.series``'s columns)."""
    conditions = [c for c in (device, metric) if c is not None]
    return select(schema.series.c.series_id).where(*conditions)


def rows_of_device(device_id: str) -> ColumnElement[bool]:
    """``sample_rows`` of one device's series."""
    return schema.sample_rows.c.series_id.in_(numbers_of(schema.series.c.device_id == device_id))


def rows_of_series(device_id: str, metric: str) -> ColumnElement[bool]:
    """``sample_rows`` of one series."""
    s = schema.series.c
    return schema.sample_rows.c.series_id == (
        numbers_of(s.device_id == device_id, s.metric == metric).scalar_subquery()
    )
