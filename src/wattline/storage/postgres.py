"""The PostgreSQL backend: psycopg 3, Alembic at start, samples partitioned by UTC month.

``sample_rows`` (the samples, ADR 0036; ``samples`` until migration 0024) is
declared ``PARTITION BY RANGE (ts_ms)``, and ``rollup_1m`` ``PARTITION BY RANGE
(bucket_ms)`` by 0003, each with a DEFAULT partition. Before a batch is
inserted, the store makes sure each UTC month the batch touches has its own
partition of both (``sample_rows_2026_11``, ``rollup_1m_2026_11``), so old months
can be dropped whole and queries over a time range read only the months they cover.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, OperationalError

from wattline.storage.base import CommitBatch, CommitResult, StoreUnavailableError
from wattline.storage.partitions import PARTITION_STORAGE, PARTITIONED_TABLES, Month, months_of
from wattline.storage.retention import Progress, Removed
from wattline.storage.schema_revision import require_head_revision
from wattline.storage.sql import SqlStore

URL_SCHEMES = ("postgresql://", "postgres://")
_DRIVER_SCHEME = "postgresql+psycopg://"
# Two processes starting together must not both run the migrations; any fixed
# 64-bit number serves as the advisory lock's key ("WATTLINE" in ASCII).
_MIGRATION_LOCK_KEY = 0x57415454_4C494E45
# Without it, connecting to a host that drops packets waits for the OS TCP
# timeout (minutes) before the store can report itself unavailable.
_CONNECT_TIMEOUT_S = 10
# The column each monthly-partitioned table is partitioned on.
_PARTITION_KEYS = {"sample_rows": "ts_ms", "rollup_1m": "bucket_ms"}
# Retention tiers whose table is partitioned by month, and that table.
_PARTITIONED_TIERS = {"raw": "sample_rows", "1m": "rollup_1m"}
# A pooled connection idle this long is pinged before use (see ping_when_idle).
_PING_AFTER_IDLE_S = 1.0
_RETURNED_AT = "wattline_returned_at"


def psycopg_url(url: str) -> str:
    """``postgresql://`` or ``postgres://`` rewritten to name the psycopg 3 driver."""
    for scheme in URL_SCHEMES:
        if url.startswith(scheme):
            return _DRIVER_SCHEME + url.removeprefix(scheme)
    raise ValueError(f"not a PostgreSQL URL (postgresql://...): {redact(url)!r}")


def redact(url: str) -> str:
    """The URL with its password masked, for banners and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("://", 1)[0] + "://..."


def ping_when_idle(engine: Engine, idle_s: float) -> None:
    """Check a pooled connection before handing it out, if it sat idle ``idle_s`` or more.

    This replaces connections the server closed (a restart, an idle timeout)
    instead of failing the next statement with them, as ``pool_pre_ping`` does;
    but pre_ping pings on every checkout, a round trip that was one of the
    seven of an API request for a day of buckets. A connection returned
    moments ago is as alive as a ping would show it; if the server went away
    in between, the statement fails as it would have after a ping, the pool
    replaces every connection older than the failure, and the caller retries
    (ingest) or answers 503 (the API).
    """

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def handed_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get(_RETURNED_AT)
        if returned_at is not None and time.monotonic() - returned_at < idle_s:
            return
        # the dialect's own ping; the pool replaces the connection and tries again
        if not engine.dialect._do_ping_w_event(dbapi_connection):  # noqa: SLF001
            raise DisconnectionError("the server closed the pooled connection")


def open_postgres_store(url: str, *, migrate: bool = True) -> SqlStore:
    """The store at ``url``; ``migrate`` as for ``open_sqlite_store``: False checks
    the schema's revision instead of migrating, which also sees the server answer."""
    # Registers the packed arrays' dumpers with psycopg before this engine's first
    # connection (a connection copies psycopg's adapters when it is made); imported
    # here, not at the top, so that a process on SQLite never imports psycopg.
    from wattline.storage import pg_arrays  # noqa: F401, PLC0415

    sa_url = make_url(psycopg_url(url))
    connect_args = (
        {} if "connect_timeout" in sa_url.query else {"connect_timeout": _CONNECT_TIMEOUT_S}
    )
    engine = create_engine(sa_url, connect_args=connect_args)
    ping_when_idle(engine, _PING_AFTER_IDLE_S)
    try:
        with engine.begin() as conn:
            if migrate:
                from wattline.storage.migrations import upgrade_to_head  # noqa: PLC0415

                conn.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
                upgrade_to_head(conn)
            else:
                require_head_revision(conn)
    except Exception as exc:
        engine.dispose()
        if isinstance(exc, OperationalError):
            raise StoreUnavailableError(str(exc.orig)) from exc
        raise
    return PostgresStore(engine)


class PostgresStore(SqlStore):
    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, insert)
        # Months known to have a partition. Partitions are never detached by
        # Wattline itself; one dropped by an operator only sends later rows for
        # that month to the DEFAULT partition, which loses nothing.
        self._partitioned: set[Month] = set()

    def commit(self, batch: CommitBatch) -> CommitResult:
        self._ensure_partitions(months_of(r.ts_ms for r in batch.readings))
        return super().commit(batch)

    def stage(self, batch: CommitBatch) -> CommitResult:
        # Before the rows are staged: the fold that moves them on creates none.
        self._ensure_partitions(months_of(r.ts_ms for r in batch.readings))
        return super().stage(batch)

    def remove_before(
        self,
        cutoffs_ms: Mapping[str, int],
        *,
        stop: threading.Event | None = None,
        progress: Progress | None = None,
    ) -> dict[str, Removed]:
        """Whole monthly partitions older than a cutoff are dropped; then rows are deleted."""
        dropped: dict[str, list[str]] = {}
        try:
            for tier, table in _PARTITIONED_TIERS.items():
                if tier in cutoffs_ms:
                    dropped[tier] = self._drop_months_before(table, cutoffs_ms[tier])
        except OperationalError as exc:
            raise StoreUnavailableError(str(exc.orig)) from exc
        removed = super().remove_before(cutoffs_ms, stop=stop, progress=progress)
        return {
            tier: replace(what, partitions=tuple(dropped.get(tier, ())))
            for tier, what in removed.items()
        }

    def _drop_months_before(self, table: str, cutoff_ms: int) -> list[str]:
        with self.engine.connect() as conn:
            names = conn.scalars(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                    " WHERE i.inhparent = CAST(:parent AS regclass) ORDER BY c.relname"
                ),
                {"parent": table},
            ).all()
        dropped: list[str] = []
        for name in names:
            month = Month.named(name)
            if month is None or month.end_ms > cutoff_ms:
                continue
            # Forget the month first: a late row for it must re-create the partition
            # rather than be routed, by a stale cache, to a table that is gone.
            self._partitioned.discard(month)
            with self.engine.begin() as conn:
                # The name was read from the catalogue and matched PARTITION_NAME_RE.
                conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
            dropped.append(name)
        return dropped

    def _ensure_partitions(self, months: Iterable[Month]) -> None:
        missing = sorted(set(months) - self._partitioned)
        if not missing:
            return
        try:
            # Its own transaction, committed before the batch: a batch that
            # then fails must not leave the cache naming a partition that was
            # rolled back with it.
            with self.engine.begin() as conn:
                for month in missing:
                    # The same table order in every process: locks queue, never deadlock.
                    for table in PARTITIONED_TABLES:
                        _create_partition(conn, table, month)
        except OperationalError as exc:
            raise StoreUnavailableError(str(exc.orig)) from exc
        self._partitioned.update(missing)


def _create_partition(conn: Connection, table: str, month: Month) -> None:
    """Attach ``month``'s partition of ``table``, moving in any of its rows the DEFAULT one holds.

    ``CREATE TABLE ... PARTITION OF`` fails when the DEFAULT partition already
    has rows of that range (written before the partition existed, e.g. by an
    older Wattline or by hand). Creating the table, moving those rows and
    attaching it always works, so it is the only path.
    """
    name = month.partition_of(table)
    if _exists(conn, name):
        return
    # Blocks concurrent inserts (not reads) until commit, so no row of this
    # month reaches the DEFAULT partition between the move and the attach;
    # a second process waits here and then finds the partition made.
    conn.execute(text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
    if _exists(conn, name):
        return
    key = _PARTITION_KEYS[table]
    # The names and bounds come from constants and integers (Month), never from input text.
    storage = PARTITION_STORAGE[table]
    conn.execute(text(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS){storage}"))
    conn.execute(
        text(
            f"WITH moved AS (DELETE FROM {table}_default"  # noqa: S608 - see above
            f" WHERE {key} >= :start_ms AND {key} < :end_ms RETURNING *)"
            f" INSERT INTO {name} SELECT * FROM moved"
        ),
        {"start_ms": month.start_ms, "end_ms": month.end_ms},
    )
    # ATTACH builds the partition's primary key index from the parent's.
    conn.execute(
        text(
            f"ALTER TABLE {table} ATTACH PARTITION {name}"
            f" FOR VALUES FROM ({month.start_ms}) TO ({month.end_ms})"
        )
    )


def _exists(conn: Connection, name: str) -> bool:
    return conn.scalar(select(func.to_regclass(name))) is not None
