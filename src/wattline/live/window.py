"""The last N readings per device and metric, in memory: the dashboard's hot path.

The committer feeds it after each successful commit, so it never shows a
reading the database does not hold. After a restart it is empty; the API
refills a device from storage on the first request for it (``merge`` plus
``mark_loaded``). Merging is by timestamp, so a refill racing new readings
from the committer cannot duplicate or lose any.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterable, Sequence

from wattline.model.events import Committed
from wattline.model.messages import Reading

DEFAULT_WINDOW_SIZE = 60


class RecentReadings:
    """A cache of recent readings, not a store: storage stays the truth.

    Thread-safe: the collector thread adds while API threads read."""

    def __init__(self, size: int = DEFAULT_WINDOW_SIZE) -> None:
        if size < 1:
            raise ValueError("window size must be at least 1")
        self.size = size
        self._lock = threading.Lock()
        # device -> metric -> (ts_ms, value) sorted by ts_ms, at most `size` long
        self._series: dict[str, dict[str, list[tuple[int, float]]]] = {}
        self._loaded: set[str] = set()

    def add(self, readings: Sequence[Reading]) -> None:
        """Committed readings, in any order; a repeated timestamp takes the newer value."""
        with self._lock:
            for reading in readings:
                metrics = self._series.setdefault(reading.device_id, {})
                for metric, value in reading.metrics.items():
                    self._insert(metrics.setdefault(metric, []), reading.ts_ms, value)

    def on_committed(self, event: Committed) -> None:
        """The ingest listener: keep the readings of each committed batch."""
        if event.readings:
            self.add(event.readings)

    def merge(self, device_id: str, metric: str, points: Iterable[tuple[int, float]]) -> None:
        """Readings from storage; values already here (from the committer) are newer and stay."""
        with self._lock:
            series = self._series.setdefault(device_id, {}).setdefault(metric, [])
            for ts_ms, value in points:
                self._insert(series, ts_ms, value, replace=False)

    def forget(self, device_id: str) -> None:
        """Drop a deleted device's readings."""
        with self._lock:
            self._series.pop(device_id, None)
            self._loaded.discard(device_id)

    def mark_loaded(self, device_id: str) -> None:
        with self._lock:
            self._loaded.add(device_id)

    def is_loaded(self, device_id: str) -> bool:
        with self._lock:
            return device_id in self._loaded

    def get(
        self, device_id: str, metrics: Sequence[str] | None, n: int
    ) -> dict[str, list[tuple[int, float]]]:
        """The newest n readings of each metric (all metrics when None), oldest first."""
        with self._lock:
            series = self._series.get(device_id, {})
            names = sorted(series) if metrics is None else [m for m in metrics if m in series]
            return {name: list(series[name][-n:]) for name in names}

    def _insert(
        self, series: list[tuple[int, float]], ts_ms: int, value: float, *, replace: bool = True
    ) -> None:
        if not series or ts_ms > series[-1][0]:
            # the live case, newer than everything held: no search (the committer's thread)
            series.append((ts_ms, value))
            if len(series) > self.size:
                del series[0]
            return
        index = bisect_left(series, ts_ms, key=lambda item: item[0])
        if index < len(series) and series[index][0] == ts_ms:
            if replace:
                series[index] = (ts_ms, value)
            return
        if index == 0 and len(series) >= self.size:
            return  # older than everything in a full window
        series.insert(index, (ts_ms, value))
        if len(series) > self.size:
            del series[0]
