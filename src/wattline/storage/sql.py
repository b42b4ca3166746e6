"""A TelemetryStore on SQLAlchemy Core, shared by the SQLite and PostgreSQL backends.

Backends differ only in how the engine is made and which dialect's INSERT
(with ON CONFLICT) they use; every statement here is written once.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    BindParameter,
    Connection,
    Engine,
    bindparam,
    case,
    delete,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import OperationalError

from wattline.model.devices import Device, LatestValue
from wattline.model.messages import ConnectionState, Hello, Reading
from wattline.model.sequence import SeqState, sequence_batch
from wattline.storage import schema
from wattline.storage.base import (
    CommitBatch,
    CommitResult,
    DedupCounts,
    QuarantineRecord,
    RawPoint,
    StoreUnavailableError,
)
from wattline.storage.bucketing import BucketPlan, SeriesBucket, assemble
from wattline.storage.bulk import BulkStatement, insert_new_returning
from wattline.storage.device_removal import (
    DEVICE_TABLES,
    delete_device_rows,
    iter_device_rows,
)
from wattline.storage.keyset import DeviceFilter, device_page_query, raw_timestamps_query
from wattline.storage.pruning import delete_before, series_keys
from wattline.storage.retention import Progress, Removed
from wattline.storage.rollup_tables import CellQuery, RollupWriter, iter_cells, series_metrics
from wattline.storage.sequencing import lock_states, read_state, save_states

InsertFactory = Callable[[Any], Any]

# SQLAlchemy reads cursor.rowcount of an INSERT only on request; psycopg's
# cursor no longer knows it once the result is closed (it answers -1), while
# SQLite's still does. Asking explicitly gives the same count on every dialect.
_COUNT_ROWS = {"preserve_rowcount": True}
# Keys per SELECT when looking up stored values: three bound parameters each,
# well under SQLite's limit of 32,766 (and PostgreSQL's 65,535).
_KEYS_PER_LOOKUP = 5_000

SampleKey = tuple[str, str, int]  # (device_id, metric, ts_ms)
# A sample as written: the columns of _SAMPLE_COLUMNS, in that order.
SampleRow = tuple[str, str, int, float, int | None, int]
_SAMPLE_COLUMNS = ("device_id", "metric", "ts_ms", "value", "seq", "received_ms")


class SqlStore:
    def __init__(self, engine: Engine, insert: InsertFactory) -> None:
        self._engine = engine
        self._insert = insert
        s = schema.samples.c
        self._rollups = RollupWriter(insert)
        self._correct_sample = (
            update(schema.samples)
            .where(
                s.device_id == bindparam("k_device_id"),
                s.metric == bindparam("k_metric"),
                s.ts_ms == bindparam("k_ts_ms"),
                s.value != bindparam("k_value"),
            )
            .values(value=bindparam("k_value"), received_ms=bindparam("k_received_ms"))
        )
        q = insert(schema.quarantine)
        self._upsert_quarantine = q.on_conflict_do_update(
            index_elements=["fingerprint"],
            set_={
                "occurrences": schema.quarantine.c.occurrences + 1,
                "last_received_ms": q.excluded.received_ms,
                "reason": q.excluded.reason,
                "detail": q.excluded.detail,
            },
        )
        excluded = insert(schema.latest).excluded
        self._upsert_latest = BulkStatement(
            insert(schema.latest).on_conflict_do_update(
                index_elements=["device_id", "metric"],
                set_={"ts_ms": excluded.ts_ms, "value": excluded.value},
                # By the reading's own timestamp: a late upload must not overwrite a newer value.
                where=excluded.ts_ms >= schema.latest.c.ts_ms,
            )
        )

    @property
    def engine(self) -> Engine:
        return self._engine

    # -- writes -------------------------------------------------------------

    def commit(self, batch: CommitBatch) -> CommitResult:
        events = batch.arrival_order
        if events is None:
            events = [*batch.hellos, *batch.readings]
        try:
            with self._engine.begin() as conn:
                self._register(conn, batch.register, batch.seen_ms)
                readings, seq_duplicates = self._sequence(conn, events)
                sample_rows = _sample_rows(readings, batch.seen_ms)
                inserted, corrected = self._write_samples(conn, sample_rows)
                if sample_rows:
                    self._upsert_latest.execute(conn, _latest_rows(readings))
                self._apply_hellos(conn, batch)
                self._apply_statuses(conn, batch)
                seen = _newest_reading_ms(batch.readings) if batch.historical else batch.seen_ms
                self._touch_last_seen(conn, seen)
                if batch.resolved_quarantine:
                    conn.execute(
                        delete(schema.quarantine).where(
                            schema.quarantine.c.id.in_(list(batch.resolved_quarantine))
                        )
                    )
                if batch.quarantined:
                    conn.execute(
                        self._upsert_quarantine,
                        [
                            {
                                "received_ms": q.received_ms,
                                "topic": _storable_text(q.topic),
                                "reason": q.reason,
                                "detail": _storable_text(q.detail),
                                "payload": q.payload,
                                "fingerprint": quarantine_fingerprint(q.topic, q.payload),
                            }
                            for q in batch.quarantined
                        ],
                    )
        except OperationalError as exc:
            raise StoreUnavailableError(str(exc.orig)) from exc
        return CommitResult(
            samples_offered=len(sample_rows),
            samples_inserted=inserted,
            samples_corrected=corrected,
            readings_seq_duplicate=seq_duplicates,
        )

    def _sequence(
        self, conn: Connection, events: Sequence[Reading | Hello]
    ) -> tuple[list[Reading], int]:
        tracked = {e.device_id for e in events if isinstance(e, Hello) or e.seq is not None}
        if not tracked:
            return [e for e in events if isinstance(e, Reading)], 0
        states = lock_states(conn, self._insert, tracked)
        now_ms = time.time_ns() // 1_000_000
        changed, kept, duplicates = sequence_batch(states, events, now_ms)
        save_states(conn, self._insert, changed)
        return kept, duplicates

    def _write_samples(self, conn: Connection, rows: list[SampleRow]) -> tuple[int, int]:
        """Insert new samples, apply corrections, keep the rollups equal to both.

        Returns (inserted, corrected). Rollups fold in only the rows inserted
        here; buckets holding a corrected sample are recomputed last, after the
        fold, so a sample is never counted twice.
        """
        if not rows:
            return 0, 0
        unique, batch_corrections = _newest_per_key(rows)
        # RETURNING names exactly the rows this statement inserted, so only they
        # feed the rollups; a duplicate or a concurrent collector's row does not.
        returned = insert_new_returning(
            conn,
            schema.samples,
            _SAMPLE_COLUMNS,
            list(unique.values()),
            returning=("device_id", "metric", "ts_ms"),
        )
        if len(returned) == len(rows):
            # The common case, nothing seen before: skip sorting rows into fresh and stale.
            self._rollups.fold_in(conn, unique.values())
            return len(returned), 0
        inserted = set(returned)
        fresh = [row for key, row in unique.items() if key in inserted]
        stale = [row for key, row in unique.items() if key not in inserted]
        changed = self._apply_corrections(conn, stale) if stale else []
        self._rollups.fold_in(conn, fresh)
        if changed:
            self._rollups.recompute(conn, changed)
        corrected = [*batch_corrections, *changed]
        _count_per_device(conn, rows, inserted, corrected)
        return len(inserted), len(corrected)

    def _apply_corrections(self, conn: Connection, rows: list[SampleRow]) -> list[SampleKey]:
        """Newest arrival wins for a (device, metric, ts) whose value changed.

        Runs only for rows that were not inserted; returns the keys whose value
        changed. The old value stays in the raw archive.
        """
        stored = self._stored_values(conn, [row[:3] for row in rows])
        changed = [row for row in rows if stored.get(row[:3], row[3]) != row[3]]
        if changed:
            conn.execute(
                self._correct_sample,
                [
                    {f"k_{name}": value for name, value in zip(_SAMPLE_COLUMNS, row, strict=True)}
                    for row in changed
                ],
            )
        return [row[:3] for row in changed]

    def _stored_values(self, conn: Connection, keys: list[SampleKey]) -> dict[SampleKey, float]:
        s = schema.samples.c
        values: dict[SampleKey, float] = {}
        for i in range(0, len(keys), _KEYS_PER_LOOKUP):
            chunk = keys[i : i + _KEYS_PER_LOOKUP]
            query = select(s.device_id, s.metric, s.ts_ms, s.value).where(
                tuple_(s.device_id, s.metric, s.ts_ms).in_(chunk)
            )
            values.update(((d, m, ts), v) for d, m, ts, v in conn.execute(query))
        return values

    def _register(self, conn: Connection, device_ids: Sequence[str], seen: dict[str, int]) -> None:
        if device_ids:
            conn.execute(
                self._insert(schema.devices).on_conflict_do_nothing(),
                [{"device_id": d, "registered_ms": seen.get(d, 0)} for d in device_ids],
            )

    def _apply_hellos(self, conn: Connection, batch: CommitBatch) -> None:
        for hello in batch.hellos:
            conn.execute(
                update(schema.devices)
                .where(schema.devices.c.device_id == hello.device_id)
                .values(
                    device_type=hello.device_type,
                    firmware_version=hello.firmware_version,
                    capabilities=json.dumps(list(hello.capabilities)),
                )
            )

    def _apply_statuses(self, conn: Connection, batch: CommitBatch) -> None:
        devices = schema.devices.c
        for status in batch.statuses:
            conn.execute(
                update(schema.devices)
                .where(devices.device_id == status.device_id)
                # Retained and redelivered status messages arrive out of order.
                .where((devices.state_ms.is_(None)) | (devices.state_ms <= status.ts_ms))
                .values(state=status.state.value, state_ms=status.ts_ms)
            )

    def _touch_last_seen(self, conn: Connection, seen: dict[str, int]) -> None:
        if not seen:
            return
        last_seen = schema.devices.c.last_seen_ms
        newer: BindParameter[int] = bindparam("seen_ms")
        statement = (
            update(schema.devices)
            .where(schema.devices.c.device_id == bindparam("dev_id"))
            .values(
                last_seen_ms=case(
                    (last_seen.is_(None), newer), (last_seen < newer, newer), else_=last_seen
                )
            )
        )
        conn.execute(statement, [{"dev_id": d, "seen_ms": ms} for d, ms in seen.items()])

    # -- registry -----------------------------------------------------------

    def existing_devices(self, device_ids: Iterable[str]) -> set[str]:
        wanted = list(device_ids)
        if not wanted:
            return set()
        column = schema.devices.c.device_id
        with self._read() as conn:
            return set(conn.scalars(select(column).where(column.in_(wanted))))

    def register_device(
        self,
        device_id: str,
        device_type: str | None,
        now_ms: int,
        tags: Sequence[str] | None = None,
    ) -> tuple[Device, bool]:
        """Create the device; an existing one keeps its data, and gets the tags if given."""
        with self._write() as conn:
            created = conn.execute(
                self._insert(schema.devices)
                .on_conflict_do_nothing()
                .values(
                    device_id=device_id,
                    device_type=device_type,
                    registered_ms=now_ms,
                    tags=json.dumps(sorted(set(tags or ()))),
                )
                .execution_options(**_COUNT_ROWS)
            ).rowcount
            if not created and tags is not None:
                conn.execute(
                    update(schema.devices)
                    .where(schema.devices.c.device_id == device_id)
                    .values(tags=json.dumps(sorted(set(tags))))
                )
        device = self.get_device(device_id)
        assert device is not None
        return device, bool(created)

    def list_devices(self) -> list[Device]:
        with self._read() as conn:
            rows = conn.execute(select(schema.devices).order_by(schema.devices.c.device_id))
            return [_device(row) for row in rows.mappings()]

    def device_page(
        self, after: str | None, limit: int, where: DeviceFilter | None = None
    ) -> list[Device]:
        """Up to ``limit`` devices with an id after ``after``, in id order (a keyset page)."""
        with self._read() as conn:
            query = device_page_query(after, limit, where or DeviceFilter())
            return [_device(row) for row in conn.execute(query).mappings()]

    def get_device(self, device_id: str) -> Device | None:
        with self._read() as conn:
            row = (
                conn.execute(select(schema.devices).where(schema.devices.c.device_id == device_id))
                .mappings()
                .first()
            )
        return _device(row) if row else None

    # -- reads --------------------------------------------------------------

    def latest_values(
        self, device_ids: Sequence[str] | None = None
    ) -> dict[str, list[LatestValue]]:
        table = schema.latest
        query = select(table).order_by(table.c.device_id, table.c.metric)
        if device_ids is not None:
            query = query.where(table.c.device_id.in_(list(device_ids)))
        result: dict[str, list[LatestValue]] = {}
        with self._read() as conn:
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
        points: list[RawPoint] = []
        with self._read() as conn:
            for row in conn.execute(query):
                if not points or points[-1].ts_ms != row.ts_ms:
                    points.append(RawPoint(ts_ms=row.ts_ms, seq=row.seq, metrics={}))
                points[-1].metrics[row.metric] = row.value
        return points

    def delete_device(self, device_id: str) -> dict[str, int]:
        """Remove the device and everything stored about it, in one transaction."""
        with self._write() as conn:
            return delete_device_rows(conn, device_id)

    def device_rows(self, table_name: str, device_id: str) -> Iterator[list[dict[str, object]]]:
        """Pages of the device's rows in one of DEVICE_TABLES (for archiving before a delete)."""
        table = next(t for t in DEVICE_TABLES if t.name == table_name)
        with self._read() as conn:
            yield from iter_device_rows(conn, table, device_id)

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
        with self._read() as conn:
            return [(int(ts), float(v)) for ts, v in conn.execute(query)]

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
        with self._read() as conn:
            metrics = list(fields) if fields else series_metrics(conn, device_ids)
            if not metrics:
                return {}
            query = CellQuery(
                source=plan.source,
                device_ids=device_ids,
                metrics=metrics,
                start_ms=plan.start_ms,
                end_ms=plan.end_ms,
                phase_ms=plan.grid_phase_ms,
                step_ms=plan.grid_step_ms,
            )
            return assemble(iter_cells(conn, query, with_ends), plan.starts)

    def quarantine(
        self,
        limit: int,
        reason: str | None = None,
        ids: Sequence[int] | None = None,
        before_id: int | None = None,
    ) -> list[QuarantineRecord]:
        """Newest first; ``before_id`` (the last id of the previous page) starts a keyset page."""
        q = schema.quarantine.c
        query = select(schema.quarantine).order_by(q.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(q.id < before_id)
        if reason is not None:
            query = query.where(q.reason == reason)
        if ids is not None:
            query = query.where(q.id.in_(list(ids)))
        with self._read() as conn:
            return [QuarantineRecord(**row) for row in conn.execute(query).mappings()]

    def sequence_state(self, device_id: str) -> SeqState | None:
        with self._read() as conn:
            return read_state(conn, device_id)

    def dedup_counts(self, device_id: str) -> DedupCounts | None:
        d = schema.devices.c
        query = select(d.duplicate_samples, d.corrected_samples).where(d.device_id == device_id)
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else DedupCounts(row[0], row[1])

    # -- retention ----------------------------------------------------------

    def remove_before(
        self,
        cutoffs_ms: Mapping[str, int],
        *,
        stop: threading.Event | None = None,
        progress: Progress | None = None,
    ) -> dict[str, Removed]:
        """Per tier ("raw", "1m", "1h", "1d"), delete rows older than its cutoff, in chunks.

        A set ``stop`` ends the work between two chunks; tiers not reached are left out.
        """
        removed: dict[str, Removed] = {}
        try:
            keys = series_keys(self._engine)
            for tier, cutoff_ms in cutoffs_ms.items():
                if stop is not None and stop.is_set():
                    break
                rows = delete_before(
                    self._engine, tier, cutoff_ms, keys, stop=stop, progress=progress
                )
                removed[tier] = Removed(rows=rows)
        except OperationalError as exc:
            raise StoreUnavailableError(str(exc.orig)) from exc
        return removed

    def ping(self) -> None:
        with self._read() as conn:
            conn.execute(select(1))

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        # The whole block, not only connect(): a server that goes away between
        # the pool's pre-ping and the query fails in execute().
        try:
            with self._engine.connect() as conn:
                yield conn
        except OperationalError as exc:
            raise StoreUnavailableError(str(exc.orig)) from exc

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One transaction, with an unreachable database reported as StoreUnavailableError."""
        try:
            with self._engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            raise StoreUnavailableError(str(exc.orig)) from exc


def _sample_rows(readings: Sequence[Reading], seen: dict[str, int]) -> list[SampleRow]:
    return [
        (r.device_id, metric, r.ts_ms, value, r.seq, seen.get(r.device_id, r.ts_ms))
        for r in readings
        for metric, value in r.metrics.items()
    ]


def _storable_text(text: str) -> str:
    """Text every database holds: PostgreSQL refuses NUL, and no driver encodes a lone
    surrogate. A quarantine row must never be what the database refuses."""
    return text.replace("\0", "\\0").encode("utf-8", "backslashreplace").decode("utf-8")


def _newest_per_key(rows: list[SampleRow]) -> tuple[dict[SampleKey, SampleRow], list[SampleKey]]:
    """One row per (device, metric, ts), the last arrival winning; and the keys whose value
    changed.

    A key repeated with a new value inside one batch is a correction, counted
    as one, as it would be had the two arrived in separate batches.
    """
    unique = {row[:3]: row for row in rows}
    if len(unique) == len(rows):
        return unique, []  # no key twice in the batch
    unique = {}
    changed: list[SampleKey] = []
    for row in rows:
        key = row[:3]
        previous = unique.get(key)
        if previous is not None and previous[3] != row[3]:
            changed.append(key)
        unique[key] = row
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


def _newest_reading_ms(readings: Sequence[Reading]) -> dict[str, int]:
    newest: dict[str, int] = {}
    for r in readings:
        newest[r.device_id] = max(newest.get(r.device_id, r.ts_ms), r.ts_ms)
    return newest


def _latest_rows(readings: Sequence[Reading]) -> list[dict[str, Any]]:
    # Reduce the batch first: one upsert per (device, metric) instead of one per sample.
    newest: dict[tuple[str, str], tuple[int, float]] = {}
    for r in readings:
        device_id, ts_ms = r.device_id, r.ts_ms
        for metric, value in r.metrics.items():
            current = newest.get((device_id, metric))
            if current is None or ts_ms >= current[0]:
                newest[device_id, metric] = (ts_ms, value)
    return [
        {"device_id": d, "metric": m, "ts_ms": ts, "value": v} for (d, m), (ts, v) in newest.items()
    ]


def _device(row: Any) -> Device:
    return Device(
        device_id=row["device_id"],
        device_type=row["device_type"],
        firmware_version=row["firmware_version"],
        capabilities=tuple(json.loads(row["capabilities"] or "[]")),
        registered_ms=row["registered_ms"],
        last_seen_ms=row["last_seen_ms"],
        state=ConnectionState(row["state"]),
        state_ms=row["state_ms"],
        tags=tuple(json.loads(row["tags"] or "[]")),
    )


def quarantine_fingerprint(topic: str, payload: bytes) -> str:
    """What makes two quarantined messages the same one: its topic and its bytes."""
    return hashlib.sha256(topic.encode() + b"\0" + payload).hexdigest()
