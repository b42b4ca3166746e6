"""One batch, one transaction: devices, sequence state, samples, rollups, latest values, quarantine.

Sequencing drops readings whose (device, seq) was seen; samples are inserted
once per (device, metric, ts), a changed value is a correction (newest arrival
wins); the rollup tiers fold in exactly the rows inserted here and recompute
the buckets a correction touched.

Or two transactions (ADR 0033): ``stage`` writes a batch with its hellos and
readings in the ``staged`` table, and ``fold`` later runs staged rows through
the same path, several batches of a device at once.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from itertools import groupby
from operator import attrgetter
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Connection, bindparam, select, tuple_, update

from wattline.model.messages import Hello, Reading
from wattline.model.sequence import sequence_batch
from wattline.storage import schema
from wattline.storage.base import CommitBatch, CommitResult, StoreUnavailableError
from wattline.storage.block_tables import reopen
from wattline.storage.bulk import BulkStatement, insert_new
from wattline.storage.rollup_tables import RollupWriter
from wattline.storage.rollups import DAY_MS
from wattline.storage.sequencing import SequenceStates
from wattline.storage.series_numbers import SeriesKey, SeriesNumbers, UnnumberedSeriesError
from wattline.storage.sql import staged
from wattline.storage.sql.connections import Connections, InsertFactory
from wattline.storage.sql.quarantine import SqlQuarantine
from wattline.storage.sql.registry import (
    LastSeen,
    SqlRegistry,
    apply_hellos,
    apply_statuses,
)
from wattline.storage.sql.staged import TakenRow
from wattline.storage.staging import staged_events, staged_rows

log = logging.getLogger(__name__)
T = TypeVar("T")

# How much of a refusal's text a quarantined staged row keeps.
_MAX_ERROR_CHARS = 300

# Keys per SELECT when looking up stored values: two bound parameters each,
# well under SQLite's limit of 32,766 (and PostgreSQL's 65,535).
_KEYS_PER_LOOKUP = 5_000
# How often a batch inserts before it is sequenced (the second time with the
# readings the first sequencing kept) before it is sequenced first instead. A bet
# is lost to a duplicate: a redelivery, or another collector's commit meanwhile.
_BETS = 2
# A batch of fewer readings is sequenced before its insert, without the bet: its
# insert is short, and the bet's savepoint is two round trips more on PostgreSQL
# (a one-reading commit: 13 round trips of 0.1-0.3 ms each, docs/benchmarks.md).
_BET_FROM_READINGS = 20

SampleKey = tuple[str, str, int]  # (device_id, metric, ts_ms)
# A sample: its series named, then the columns of _ROW_COLUMNS after the series.
SampleRow = tuple[str, str, int, float, int | None, int]
# A sample as written to sample_rows: its series numbered.
NumberedRow = tuple[int, int, float, int | None, int]
# Rows of one series end here (exclusive), following the previous run's end.
SeriesRun = tuple[str, str, int]  # (device_id, metric, end)
_ROW_COLUMNS = ("series_id", "ts_ms", "value", "seq", "received_ms")


class _SamplesWritten(NamedTuple):
    """What ``_insert_samples`` did, for ``_settle_samples`` to finish."""

    # every sample of the readings, in key order
    rows: list[SampleRow]
    # one per key: ``rows`` itself when no key repeats
    unique_rows: list[SampleRow]
    # the same by key, when some key repeats
    by_key: dict[SampleKey, SampleRow] | None
    # keys whose value changed between two arrivals in the batch
    batch_corrections: list[SampleKey]
    # the keys inserted, or None when every row went in
    returned: list[tuple[Any, ...]] | None


class SqlCommit:
    def __init__(
        self,
        connections: Connections,
        insert: InsertFactory,
        registry: SqlRegistry,
        quarantine: SqlQuarantine,
    ) -> None:
        self._connections = connections
        self._insert = insert
        self._registry = registry
        self._quarantine = quarantine
        self._rollups = RollupWriter(insert)
        self._sequence_states = SequenceStates(insert)
        self._last_seen = LastSeen()
        self._series = SeriesNumbers(insert)
        s = schema.sample_rows.c
        self._correct_sample = (
            update(schema.sample_rows)
            .where(
                s.series_id == bindparam("k_series_id"),
                s.ts_ms == bindparam("k_ts_ms"),
                s.value != bindparam("k_value"),
            )
            .values(value=bindparam("k_value"), received_ms=bindparam("k_received_ms"))
        )
        excluded = insert(schema.latest).excluded
        self._upsert_latest = BulkStatement(
            insert(schema.latest).on_conflict_do_update(
                index_elements=["device_id", "metric"],
                set_={"ts_ms": excluded.ts_ms, "value": excluded.value},
                # By the reading's own timestamp: a late upload must not overwrite a newer value.
                where=excluded.ts_ms >= schema.latest.c.ts_ms,
            ),
            one_row_per_key=True,  # _latest_rows: one per (device, metric)
        )

    def commit(self, batch: CommitBatch) -> CommitResult:
        """Commit a batch whole; readings of its devices still staged go first, in the
        same transaction, so that a device's events are always sequenced in order."""
        started = time.perf_counter()
        events = _events(batch)
        self._series.ensure_for(self._connections.write, batch.readings)

        def commit() -> CommitResult:
            with self._connections.write() as conn:
                self._registry.add_on_first_contact(conn, batch.register, batch.seen_ms)
                waiting = staged.take_devices(conn, {e.device_id for e in events})
                if waiting:
                    result = self._fold_rows(conn, waiting, events, batch.seen_ms)
                else:
                    result = self._store_readings(conn, events, batch.seen_ms, None)
                self._write_the_rest(conn, batch)
            return result

        result = self._numbering_first(commit)
        return replace(result, store_seconds=time.perf_counter() - started)

    def _numbering_first(self, work: Callable[[], T]) -> T:
        """``work()``, and once more after numbering the series it met unnumbered.

        Only readings staged by a Wattline before series numbers, or a block
        compacted before them whose series had no row left for migration 0024
        to number, meet one: ``commit`` and ``stage`` number a batch's series
        before its transaction.
        The numbers cannot be made inside the failed transaction (SQLite has one
        writer, and a number must be committed before a process caches it).
        """
        try:
            return work()
        except UnnumberedSeriesError as unnumbered:
            self._series.ensure(self._connections.write, unnumbered.keys)
            return work()

    def stage(self, batch: CommitBatch) -> CommitResult:
        """Commit a batch with its hellos and readings staged, to be folded later (ADR 0033).

        Everything else the batch says (devices first heard, hellos, statuses,
        last-seen times, quarantine) is written as ``commit`` writes it; the
        hellos and readings go into ``staged`` as one row per device, a few
        pages at the table's end however many series the batch touches. Until
        ``fold`` moves them on they are committed (never rolled back, folded
        by whichever collector folds next, after a crash too) but not yet in
        samples, rollups or latest values. Historical batches (imports, replays)
        are committed as they are.
        """
        if batch.historical or batch.resolved_quarantine:
            return self.commit(batch)
        started = time.perf_counter()
        rows = staged_rows(_events(batch), batch.seen_ms, time.time_ns() // 1_000_000)
        # Numbered now, so that the fold, whichever process runs it, finds them numbered.
        self._series.ensure_for(self._connections.write, batch.readings)
        with self._connections.write() as conn:
            self._registry.add_on_first_contact(conn, batch.register, batch.seen_ms)
            if rows:
                conn.execute(self._insert(schema.staged), [row._asdict() for row in rows])
            self._write_the_rest(conn, batch)
        return CommitResult(0, 0, store_seconds=time.perf_counter() - started)

    def fold(self, max_devices: int, min_age_ms: int = 0) -> CommitResult | None:
        """Move the staged rows of the ``max_devices`` devices staged longest ago into
        samples, rollups and latest values, in one transaction; None when nothing is staged
        (of devices with a row staged at least ``min_age_ms`` ago).

        Folding a device less often folds more of its readings at once, and a
        fold's cost grows with the devices and series it touches more than with
        the readings (a fixed cost per series: its pages in each table).

        All of a device's rows are folded together, in the order they were
        staged, so sequencing sees its events as ``commit`` would have. A fold
        the store refuses for its content (not an outage) is retried one row at
        a time, and a row refused alone is moved to the quarantine with the
        store's reason, so that one bad row cannot hold every later one back.
        """
        started = time.perf_counter()
        staged_by_ms = time.time_ns() // 1_000_000 - min_age_ms
        # A look first, so that nothing to fold takes no write lock (SQLite has one).
        with self._connections.read() as conn:
            if not staged.any_staged(conn, staged_by_ms):
                return None

        def fold() -> CommitResult | None:
            with self._connections.write(durable=False) as conn:
                taken = staged.take_oldest(conn, max_devices, staged_by_ms)
                return self._fold_rows(conn, taken) if taken else None

        try:
            folded = self._numbering_first(fold)
            if folded is None:
                return None
            result = folded
        except StoreUnavailableError:
            raise
        except Exception as refused:
            result = self._fold_one_by_one(refused, max_devices)
        return replace(result, store_seconds=time.perf_counter() - started)

    def _fold_rows(
        self,
        conn: Connection,
        taken: Sequence[TakenRow],
        then: Sequence[Reading | Hello] = (),
        seen: dict[str, int] | None = None,
    ) -> CommitResult:
        """The staged rows' events, then ``then`` (received at ``seen``), stored as one batch."""
        events: list[Reading | Hello] = []
        received: dict[int, int] = {}
        for row in taken:
            own = staged_events(row.device_id, row.events)
            events += own
            if row.received_ms is not None:
                received.update((id(event), row.received_ms) for event in own)
        events += then
        if seen:
            received.update(
                (id(event), seen[event.device_id]) for event in then if event.device_id in seen
            )
        return self._store_readings(conn, events, {}, received)

    def _fold_one_by_one(self, refused: Exception, max_devices: int) -> CommitResult:
        log.warning(
            "a fold of staged readings was refused (%s); folding its rows one at a time",
            _describe(refused),
        )
        with self._connections.read() as conn:
            ids = staged.oldest_ids(conn, max_devices)
        results: list[CommitResult] = []
        for row_id in ids:

            def fold_row(row_id: int = row_id) -> CommitResult | None:
                with self._connections.write(durable=False) as conn:
                    taken = staged.take_ids(conn, [row_id])
                    return self._fold_rows(conn, taken) if taken else None

            try:
                folded = self._numbering_first(fold_row)
                if folded is not None:
                    results.append(folded)
            except StoreUnavailableError:
                raise
            except Exception as exc:
                with self._connections.write() as conn:
                    staged.quarantine_row(conn, row_id, _describe(exc), self._quarantine)
        return _sum(results)

    def _store_readings(
        self,
        conn: Connection,
        events: Sequence[Reading | Hello],
        seen: dict[str, int],
        received: dict[int, int] | None,
    ) -> CommitResult:
        readings, seq_duplicates, written = self._write_readings(conn, events, seen, received)
        inserted, corrected = self._settle_samples(conn, written)
        if written.rows:
            self._upsert_latest.execute(conn, _latest_rows(readings))
        return CommitResult(
            samples_offered=len(written.rows),
            samples_inserted=inserted,
            samples_corrected=corrected,
            readings_seq_duplicate=seq_duplicates,
        )

    def _write_the_rest(self, conn: Connection, batch: CommitBatch) -> None:
        """What a batch says besides its samples: hellos, statuses, last seen, quarantine."""
        apply_hellos(conn, batch.hellos)
        apply_statuses(conn, batch.statuses)
        seen = _newest_reading_ms(batch.readings) if batch.historical else batch.seen_ms
        self._last_seen.touch(conn, seen)
        self._quarantine.resolve(conn, batch.resolved_quarantine)
        self._quarantine.add(conn, batch.quarantined)

    def _write_readings(
        self,
        conn: Connection,
        events: Sequence[Reading | Hello],
        seen: dict[str, int],
        received: dict[int, int] | None,
    ) -> tuple[list[Reading], int, _SamplesWritten]:
        """Sequence the readings and insert the samples of those kept.

        Returns the readings kept, sorted by device then time (a stable sort:
        arrival order among equal times, so rows come out in key order), the
        sequence duplicates dropped, and what the insert did.

        The samples of live data go in before the devices' sequence rows are
        locked, on the bet that sequencing keeps every reading (it nearly always
        does): the insert is most of a commit, and two collectors sharing devices
        then insert side by side and queue only for the rest (the sequence rows,
        rollups and latest values). A lost bet is undone and made again with the
        readings sequencing kept, since another collector may commit meanwhile.
        A batch reaching into a closed day is sequenced first, as every batch used
        to be: reopening a compacted day locks its daily rollup rows, which a
        collector holding sequence rows may be waiting for. So is a small batch
        (``_BET_FROM_READINGS``), whose insert would barely overlap another's.
        """
        now_ms = time.time_ns() // 1_000_000
        today_ms = now_ms - now_ms % DAY_MS
        candidates = [e for e in events if isinstance(e, Reading)]
        if len(candidates) >= _BET_FROM_READINGS and all(r.ts_ms >= today_ms for r in candidates):
            for _ in range(_BETS):
                conn.exec_driver_sql("SAVEPOINT before_sequencing")
                readings = sorted(candidates, key=_device_then_time)
                written = self._insert_samples(conn, readings, seen, received, today_ms)
                kept, duplicates = self._sequence(conn, events)
                if _same_readings(kept, candidates):
                    conn.exec_driver_sql("RELEASE SAVEPOINT before_sequencing")
                    return readings, duplicates, written
                conn.exec_driver_sql("ROLLBACK TO SAVEPOINT before_sequencing")
                conn.exec_driver_sql("RELEASE SAVEPOINT before_sequencing")
                candidates = kept
        kept, duplicates = self._sequence(conn, events)
        readings = sorted(kept, key=_device_then_time)
        return (
            readings,
            duplicates,
            self._insert_samples(conn, readings, seen, received, today_ms),
        )

    def _sequence(
        self, conn: Connection, events: Sequence[Reading | Hello]
    ) -> tuple[list[Reading], int]:
        tracked = {e.device_id for e in events if isinstance(e, Hello) or e.seq is not None}
        if not tracked:
            return [e for e in events if isinstance(e, Reading)], 0
        states = self._sequence_states.lock(conn, tracked)
        now_ms = time.time_ns() // 1_000_000
        changed, kept, duplicates = sequence_batch(states, events, now_ms)
        self._sequence_states.save(conn, changed)
        return kept, duplicates

    def _reopen_closed_days(
        self, conn: Connection, readings: Sequence[Reading], rows: list[SampleRow], today_ms: int
    ) -> None:
        """Blocks of the days these rows land in turned back into rows, before anything else.

        Only days already over can have a block (compaction packs closed days
        only), so live data, all of today, skips this: no query at all, and
        one look at each reading rather than at each of its samples.
        """
        if all(r.ts_ms >= today_ms for r in readings):
            return
        closed = {(r[0], r[1], r[2] - r[2] % DAY_MS) for r in rows if r[2] < today_ms}
        if closed:
            reopen(conn, self._insert, closed)

    def _insert_samples(
        self,
        conn: Connection,
        readings: Sequence[Reading],
        seen: dict[str, int],
        received: dict[int, int] | None,
        today_ms: int,
    ) -> _SamplesWritten:
        """Insert the readings' new samples (sorted by device, then time), after
        turning the closed days they land in back into rows.

        The rows come in key order (``_sample_rows``): a batch interleaves every
        series, and in the index's own order each insert lands beside the previous
        one (the whole SQLite commit at 100 devices a batch: 96 -> 78-84 us per
        reading). Rows of one key arriving twice in the batch are one row
        (``_newest_per_key``).
        """
        rows, runs = _sample_rows(readings, seen, received)
        self._reopen_closed_days(conn, readings, rows, today_ms)
        if not rows:
            return _SamplesWritten(rows, rows, None, [], None)
        by_key: dict[SampleKey, SampleRow] | None = None
        batch_corrections: list[SampleKey] = []
        if _distinct(readings):
            unique_rows = rows
            numbered_rows = self._numbered_runs(conn, rows, runs)
        else:
            by_key, batch_corrections = _newest_per_key(rows)
            unique_rows = list(by_key.values())
            numbered_rows = self._numbered(conn, unique_rows)
        numbered = insert_new(
            conn,
            schema.sample_rows,
            _ROW_COLUMNS,
            numbered_rows,
            returning=("series_id", "ts_ms"),
        )
        returned = None
        if numbered is not None:
            names = self._series.names()
            returned = [(*names[number], ts_ms) for number, ts_ms in numbered]
        return _SamplesWritten(rows, unique_rows, by_key, batch_corrections, returned)

    def _numbered(self, conn: Connection, rows: Sequence[SampleRow]) -> list[NumberedRow]:
        """The rows with their series' numbers for names."""
        numbers = self._numbers(conn, {(row[0], row[1]) for row in rows})
        return [(numbers[d, m], ts, v, seq, at) for d, m, ts, v, seq, at in rows]

    def _numbered_runs(
        self, conn: Connection, rows: list[SampleRow], runs: list[SeriesRun]
    ) -> list[NumberedRow]:
        """``_numbered`` for rows in runs of one series: a number looked up per run,
        not per row (11,000 rows of 50 series: 2.4 -> 1.3 ms)."""
        numbers = self._numbers(conn, {(d, m) for d, m, _ in runs})
        numbered: list[NumberedRow] = []
        start = 0
        for device_id, metric, end in runs:
            number = numbers[device_id, metric]
            numbered += [(number, ts, v, seq, at) for _, _, ts, v, seq, at in rows[start:end]]
            start = end
        return numbered

    def _numbers(self, conn: Connection, keys: Collection[SeriesKey]) -> Mapping[SeriesKey, int]:
        """The cache when it holds every key (nearly always), else a lookup that fills it.

        Each series was numbered before its transaction began (``commit``, ``stage``).
        """
        cached = self._series.cached()
        return cached if all(key in cached for key in keys) else self._series.numbers(conn, keys)

    def _settle_samples(self, conn: Connection, written: _SamplesWritten) -> tuple[int, int]:
        """Apply corrections and keep the rollups equal to the samples inserted.

        Returns (inserted, corrected). Rollups fold in only the rows inserted
        here (a duplicate or a concurrent collector's row does not feed them);
        buckets holding a corrected sample are recomputed last, after the fold,
        so a sample is never counted twice.
        """
        rows, unique_rows, returned = written.rows, written.unique_rows, written.returned
        if not rows:
            return 0, 0
        if returned is None and len(unique_rows) == len(rows):
            # The common case, nothing seen before: skip sorting rows into fresh and stale.
            self._rollups.fold_in(conn, unique_rows)
            return len(unique_rows), 0
        unique = written.by_key if written.by_key is not None else {row[:3]: row for row in rows}
        inserted = set(unique) if returned is None else set(returned)
        fresh = [row for key, row in unique.items() if key in inserted]
        stale = [row for key, row in unique.items() if key not in inserted]
        changed = self._apply_corrections(conn, stale) if stale else []
        self._rollups.fold_in(conn, fresh)
        if changed:
            self._rollups.recompute(conn, changed)
        corrected = [*written.batch_corrections, *changed]
        _count_per_device(conn, rows, inserted, corrected)
        return len(inserted), len(corrected)

    def _apply_corrections(self, conn: Connection, rows: list[SampleRow]) -> list[SampleKey]:
        """Newest arrival wins for a (device, metric, ts) whose value changed.

        Runs only for rows that were not inserted; returns the keys whose value
        changed. The old value stays in the raw archive.
        """
        numbered = self._numbered(conn, rows)
        stored = _stored_values(conn, [row[:2] for row in numbered])
        changed = [
            (row, numbered_row)
            for row, numbered_row in zip(rows, numbered, strict=True)
            if stored.get(numbered_row[:2], row[3]) != row[3]
        ]
        if changed:
            conn.execute(
                self._correct_sample,
                [
                    {f"k_{name}": value for name, value in zip(_ROW_COLUMNS, row, strict=True)}
                    for _, row in changed
                ],
            )
        return [row[:3] for row, _ in changed]


def _same_readings(kept: Sequence[Reading], candidates: Sequence[Reading]) -> bool:
    """Whether sequencing kept exactly these readings (the same objects: two equal
    readings in one batch are two arrivals)."""
    return len(kept) == len(candidates) and {id(r) for r in kept} == {id(r) for r in candidates}


def _stored_values(conn: Connection, keys: list[tuple[int, int]]) -> dict[tuple[int, int], float]:
    """The stored values of these (series number, ts_ms) keys."""
    s = schema.sample_rows.c
    values: dict[tuple[int, int], float] = {}
    for i in range(0, len(keys), _KEYS_PER_LOOKUP):
        chunk = keys[i : i + _KEYS_PER_LOOKUP]
        query = select(s.series_id, s.ts_ms, s.value).where(tuple_(s.series_id, s.ts_ms).in_(chunk))
        values.update(((number, ts), v) for number, ts, v in conn.execute(query))
    return values


def _sample_rows(
    readings: Sequence[Reading], seen: dict[str, int], received: dict[int, int] | None = None
) -> tuple[list[SampleRow], list[SeriesRun]]:
    """The samples of readings sorted by device, then time: in key order (device,
    metric, time), with a key's repeats in the readings' order; and the runs of
    rows of one series (``_numbered`` looks each series' number up once).

    Received at ``seen``'s time of their device, or ``received``'s of each
    reading (by ``id``; a fold of batches received at different times), else
    at their own timestamp.

    Built in that order rather than sorted as rows: sorting 10,000 sample tuples,
    compared element by element, was 8 % of a busy collector's GIL time (py-spy
    ``--gil``).
    """
    rows: list[SampleRow] = []
    runs: list[SeriesRun] = []
    for device_id, group in groupby(readings, key=_device):
        own = list(group)
        if received is None:
            device_received = seen.get(device_id)
            times = [r.ts_ms if device_received is None else device_received for r in own]
        else:
            times = [received.get(id(r), r.ts_ms) for r in own]
        if len(own) == 1:
            # A large fleet's batch holds one reading of most devices: one pass over
            # its metrics instead of a set, a sort and a scan per metric (1,000
            # devices of five metrics: 6.3 -> 1.9 ms).
            r, received_ms = own[0], times[0]
            ordered = sorted(r.metrics.items())
            first = len(rows)
            rows += [
                (device_id, metric, r.ts_ms, value, r.seq, received_ms) for metric, value in ordered
            ]
            runs += [(device_id, metric, first + i) for i, (metric, _) in enumerate(ordered, 1)]
            continue
        for metric in sorted(set().union(*(r.metrics for r in own))):
            rows += [
                (device_id, metric, r.ts_ms, r.metrics[metric], r.seq, received_ms)
                for r, received_ms in zip(own, times, strict=True)
                if metric in r.metrics
            ]
            runs.append((device_id, metric, len(rows)))
    return rows, runs


def _distinct(readings: Sequence[Reading]) -> bool:
    """No two readings of one device at one time: then no sample key repeats either
    (a reading names each metric once), checked per reading, not per sample."""
    return len({(r.device_id, r.ts_ms) for r in readings}) == len(readings)


def _newest_per_key(rows: list[SampleRow]) -> tuple[dict[SampleKey, SampleRow], list[SampleKey]]:
    """One row per (device, metric, ts) as committing the rows one at a time would leave
    it; and the keys whose value changed.

    The same value again is a duplicate: the first arrival stays, with its seq
    and receive time. A new value is a correction: it and its receive time
    replace the old ones, the first arrival's seq stays (as ``_apply_corrections``
    does to a stored sample), and it counts as one correction, as it would had
    the two arrived in separate batches. So a batch folded from several staged
    ones (ADR 0033) stores what they would have stored one by one.
    """
    unique = {row[:3]: row for row in rows}
    if len(unique) == len(rows):
        return unique, []  # no key twice in the batch
    unique = {}
    changed: list[SampleKey] = []
    for row in rows:
        key = row[:3]
        previous = unique.get(key)
        if previous is None:
            unique[key] = row
        elif previous[3] != row[3]:
            changed.append(key)
            unique[key] = (*key, row[3], previous[4], row[5])
    return unique, changed


_ADD_DEDUP_COUNTS = (
    update(schema.devices)
    .where(schema.devices.c.device_id == bindparam("b_device_id"))
    .values(
        duplicate_samples=schema.devices.c.duplicate_samples + bindparam("b_duplicates"),
        corrected_samples=schema.devices.c.corrected_samples + bindparam("b_corrected"),
    )
)


def _count_per_device(
    conn: Connection,
    offered: Sequence[SampleRow],
    inserted: Collection[SampleKey],
    corrected: Sequence[SampleKey],
) -> None:
    """Add each device's dropped and corrected samples to its counters.

    Runs only when a batch held something already stored, so the common batch
    pays nothing for it.
    """
    per_device = Counter(row[0] for row in offered)
    per_device.subtract(key[0] for key in inserted)
    fixed = Counter(key[0] for key in corrected)
    per_device.subtract(fixed)
    rows = [
        {"b_device_id": device, "b_duplicates": duplicates, "b_corrected": fixed[device]}
        for device, duplicates in per_device.items()
        if duplicates or fixed[device]
    ]
    if rows:
        conn.execute(_ADD_DEDUP_COUNTS, rows)


def _events(batch: CommitBatch) -> Sequence[Reading | Hello]:
    """The batch's hellos and readings in arrival order (hellos first when not known)."""
    if batch.arrival_order is not None:
        return batch.arrival_order
    return [*batch.hellos, *batch.readings]


def _describe(error: Exception) -> str:
    """The store's own words for a refusal (the driver's error when SQLAlchemy wraps one)."""
    orig = getattr(error, "orig", None)
    cause = orig if isinstance(orig, BaseException) else error
    text = " ".join(str(cause).split()).replace("\0", "\\0")
    return f"{type(cause).__name__}: {text}"[:_MAX_ERROR_CHARS]


def _sum(results: Sequence[CommitResult]) -> CommitResult:
    return CommitResult(
        samples_offered=sum(r.samples_offered for r in results),
        samples_inserted=sum(r.samples_inserted for r in results),
        samples_corrected=sum(r.samples_corrected for r in results),
        readings_seq_duplicate=sum(r.readings_seq_duplicate for r in results),
    )


def _newest_reading_ms(readings: Sequence[Reading]) -> dict[str, int]:
    newest: dict[str, int] = {}
    for r in readings:
        newest[r.device_id] = max(newest.get(r.device_id, r.ts_ms), r.ts_ms)
    return newest


def _latest_rows(readings: Sequence[Reading]) -> list[dict[str, Any]]:
    """One upsert per (device, metric) instead of one per sample: its newest value,
    the later arrival winning a tie, as the upsert's own condition decides.

    ``readings`` sorted by device, then time, stably: the last write of each key wins.
    A device's last reading alone when it names every metric its others name (a
    device nearly always sends the same set): one subset test per reading instead
    of a key per sample (2,200 readings of 10 devices: 1.6 -> 0.5 ms).
    """
    rows: list[dict[str, Any]] = []
    for device_id, group in groupby(readings, key=_device):
        own = list(group)
        last = own[-1]
        if all(r.metrics.keys() <= last.metrics.keys() for r in own):
            newest = {metric: (last.ts_ms, value) for metric, value in last.metrics.items()}
        else:
            newest = {metric: (r.ts_ms, value) for r in own for metric, value in r.metrics.items()}
        rows += [
            {"device_id": device_id, "metric": m, "ts_ms": ts, "value": v}
            for m, (ts, v) in newest.items()
        ]
    return rows


_device = attrgetter("device_id")
_device_then_time = attrgetter("device_id", "ts_ms")
