"""Retention per tier: what is old enough to remove, and a scheduler that removes it.

Cutoffs are whole UTC days, so a day is kept or removed whole: a correction
to a sample still stored then recomputes its day's rollups from a complete
day of raw samples. The removal itself is the store's (``remove_before``):
set-based deletes in bounded chunks (storage/pruning.py), and on PostgreSQL
whole monthly partitions. Between chunks the store reports progress and checks
a stop event, so a shutdown never waits for a whole run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from wattline.storage.rollups import DAY_MS

log = logging.getLogger("wattline.retention")

# The tables retention trims, by the name operators see.
TIER_NAMES = ("raw", "1m", "1h", "1d")


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    raw_days: float = 7
    m1_days: float = 30
    h1_days: float = 365
    d1_days: float = 5 * 365

    def cutoffs_ms(self, now_ms: int) -> dict[str, int]:
        """Per tier, the first instant kept: rows before it go (whole UTC days)."""
        days = {"raw": self.raw_days, "1m": self.m1_days, "1h": self.h1_days, "1d": self.d1_days}
        cutoffs = {}
        for tier, keep_days in days.items():
            cutoff_ms = now_ms - round(keep_days * DAY_MS)
            cutoffs[tier] = cutoff_ms - cutoff_ms % DAY_MS
        return cutoffs


@dataclass(frozen=True, slots=True)
class Removed:
    rows: int = 0  # deleted row by row (an estimate is never reported as a count)
    partitions: tuple[str, ...] = field(default=())  # dropped whole, PostgreSQL only

    def describe(self) -> str:
        text = f"{self.rows} rows"
        if self.partitions:
            text += f" and partitions {', '.join(self.partitions)}"
        return text


@dataclass(frozen=True, slots=True)
class RetentionProgress:
    """How far a run has gone through one tier, after each chunk."""

    tier: str
    devices_done: int
    devices_total: int
    rows: int  # removed from this tier so far


Progress = Callable[[RetentionProgress], None]


class RetentionStore(Protocol):
    def remove_before(
        self,
        cutoffs_ms: Mapping[str, int],
        *,
        stop: threading.Event | None = None,
        progress: Progress | None = None,
    ) -> dict[str, Removed]: ...


class CompactingStore(Protocol):
    def compact_before(self, cutoff_ms: int, *, stop: threading.Event | None = None) -> object: ...


@dataclass(frozen=True, slots=True)
class Compaction:
    """Closed days older than ``after_days`` packed into blocks after each retention run."""

    store: CompactingStore
    after_days: float = 2.0


# A day is packed only once it is over; the default of two more days lets late
# uploads of yesterday (a gateway that syncs once a day) land as plain rows.
MIN_COMPACT_AFTER_DAYS = 1.0


def compaction_cutoff_ms(now_ms: int, after_days: float) -> int:
    """The first instant left as rows: whole UTC days, and never a day not yet over."""
    cutoff_ms = now_ms - round(max(after_days, MIN_COMPACT_AFTER_DAYS) * DAY_MS)
    return cutoff_ms - cutoff_ms % DAY_MS


# How long stop() waits for the thread: one chunk (storage/pruning.py) is well under it.
STOP_TIMEOUT_S = 5.0


class RetentionScheduler:
    """Runs retention now and then in a thread of its own; ``run_once`` for tests and the CLI."""

    def __init__(  # noqa: PLR0913 - the store and policy, the run's controls, its follow-up
        self,
        store: RetentionStore,
        policy: RetentionPolicy,
        interval_s: float = 3600.0,
        clock: Callable[[], float] = time.time,
        progress: Progress | None = None,
        *,
        compaction: Compaction | None = None,
    ) -> None:
        self._store = store
        self._compaction = compaction
        self._progress = progress
        self._policy = policy
        self._interval_s = interval_s
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    @property
    def stop_event(self) -> threading.Event:
        """Set to end a run between two chunks (the CLI sets it on Ctrl-C)."""
        return self._stop

    def run_once(
        self, now_ms: int | None = None, progress: Progress | None = None
    ) -> dict[str, Removed]:
        """One run; tiers not reached before a stop are missing from the answer."""
        if now_ms is None:
            now_ms = self.now_ms()
        removed = self._store.remove_before(
            self._policy.cutoffs_ms(now_ms), stop=self._stop, progress=progress or self._progress
        )
        for tier, what in removed.items():
            if what.rows or what.partitions:
                log.info("retention removed %s from %s", what.describe(), tier)
        if self._stop.is_set():
            log.info("retention stopped before the end of its run")
        elif self._compaction is not None:
            self._compact(now_ms)
        return removed

    def _compact(self, now_ms: int) -> None:
        assert self._compaction is not None
        cutoff_ms = compaction_cutoff_ms(now_ms, self._compaction.after_days)
        done = self._compaction.store.compact_before(cutoff_ms, stop=self._stop)
        log.info("compaction before %d: %s", cutoff_ms, done)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="wattline-retention", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
            if self._thread.is_alive():
                log.warning("retention did not stop within %.0f s", STOP_TIMEOUT_S)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                # A database outage must not end retention for good; the next run retries.
                log.exception("retention run failed")
            self._stop.wait(self._interval_s)
