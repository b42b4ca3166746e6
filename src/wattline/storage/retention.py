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
    # Raw archive segments; None keeps them forever (the archive is what the
    # store is rebuilt from, so expiring it is the operator's explicit choice).
    archive_days: float | None = None

    def cutoffs_ms(self, now_ms: int) -> dict[str, int]:
        """Per tier, the first instant kept: rows before it go (whole UTC days)."""
        days = {"raw": self.raw_days, "1m": self.m1_days, "1h": self.h1_days, "1d": self.d1_days}
        return {tier: _day_cutoff_ms(now_ms, keep_days) for tier, keep_days in days.items()}

    def archive_cutoff_ms(self, now_ms: int) -> int | None:
        """The first instant of the archive kept, or None when it is kept forever."""
        return None if self.archive_days is None else _day_cutoff_ms(now_ms, self.archive_days)


def _day_cutoff_ms(now_ms: int, keep_days: float) -> int:
    cutoff_ms = now_ms - round(keep_days * DAY_MS)
    return cutoff_ms - cutoff_ms % DAY_MS


@dataclass(frozen=True, slots=True)
class Removed:
    rows: int = 0  # deleted row by row (an estimate is never reported as a count)
    partitions: tuple[str, ...] = field(default=())  # dropped whole, PostgreSQL only
    segments: int | None = None  # raw archive segments deleted (the "archive" entry)

    def describe(self) -> str:
        if self.segments is not None:
            return f"{self.segments} segments"
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


class Described(Protocol):
    def describe(self) -> str: ...


class ArchiveUpkeep(Protocol):
    """The raw archive's lifecycle (archive/lifecycle.py), as the scheduler drives it."""

    def expire_before(self, cutoff_ms: int) -> int: ...

    def compact(self, now_ms: int, stop: threading.Event | None = None) -> Described: ...


# How long stop() waits for the thread: one chunk (storage/pruning.py) is well under it.
STOP_TIMEOUT_S = 5.0


class RetentionScheduler:
    """Runs retention now and then in a thread of its own; ``run_once`` for tests and the CLI."""

    def __init__(  # noqa: PLR0913 - the store and policy, the run's controls, its follow-ups
        self,
        store: RetentionStore,
        policy: RetentionPolicy,
        interval_s: float = 3600.0,
        clock: Callable[[], float] = time.time,
        progress: Progress | None = None,
        *,
        compaction: Compaction | None = None,
        archive: ArchiveUpkeep | None = None,
        compact_archive: bool = True,
    ) -> None:
        """archive, when given, is expired by the policy's archive_days and, when
        compact_archive, compacted."""
        self._store = store
        self._compaction = compaction
        self._archive = archive
        self._compact_archive = compact_archive
        # what the latest run's archive compaction did, for the CLI to print
        self.last_compaction: Described | None = None
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
        if self._archive is not None and not self._stop.is_set():
            try:
                removed.update(self._archive_upkeep(self._archive, now_ms))
            except Exception as exc:
                # An S3 outage must neither end this run's report nor spam tracebacks:
                # one line, and the next run tries again.
                log.warning("archive expiry or compaction failed, retried next run: %s", exc)
        for tier, what in removed.items():
            if what.rows or what.partitions or what.segments:
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

    def _archive_upkeep(self, archive: ArchiveUpkeep, now_ms: int) -> dict[str, Removed]:
        """Expire first, so compaction never rewrites an hour about to be deleted."""
        removed = {}
        cutoff_ms = self._policy.archive_cutoff_ms(now_ms)
        if cutoff_ms is not None:
            removed["archive"] = Removed(segments=archive.expire_before(cutoff_ms))
        if self._compact_archive:
            self.last_compaction = archive.compact(now_ms, self._stop)
            log.info("archive compaction: %s", self.last_compaction.describe())
        return removed

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
