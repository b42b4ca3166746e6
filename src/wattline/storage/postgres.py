"""The PostgreSQL backend: psycopg 3, Alembic at start, samples partitioned by UTC month.

``samples`` is declared ``PARTITION BY RANGE (ts_ms)`` by the initial migration,
with a DEFAULT partition. Before a batch is inserted, the store makes sure each
UTC month the batch touches has its own partition (``samples_2026_11``), so old
months can be dropped whole and queries over a time range read only the months
they cover.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, Engine, create_engine, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from wattline.storage.base import CommitBatch, CommitResult, StoreUnavailableError
from wattline.storage.migrations import upgrade_to_head
from wattline.storage.partitions import DEFAULT_PARTITION, Month, months_of
from wattline.storage.sql import SqlStore

URL_SCHEMES = ("postgresql://", "postgres://")
_DRIVER_SCHEME = "postgresql+psycopg://"
# Two processes starting together must not both run the migrations; any fixed
# 64-bit number serves as the advisory lock's key ("WATTLINE" in ASCII).
_MIGRATION_LOCK_KEY = 0x57415454_4C494E45
# Without it, connecting to a host that drops packets waits for the OS TCP
# timeout (minutes) before the store can report itself unavailable.
_CONNECT_TIMEOUT_S = 10


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


def open_postgres_store(url: str) -> SqlStore:
    sa_url = make_url(psycopg_url(url))
    connect_args = (
        {} if "connect_timeout" in sa_url.query else {"connect_timeout": _CONNECT_TIMEOUT_S}
    )
    # pre_ping replaces pooled connections the server closed (restart, idle
    # timeout) instead of failing the next commit with them.
    engine = create_engine(sa_url, pool_pre_ping=True, connect_args=connect_args)
    try:
        with engine.begin() as conn:
            conn.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
            upgrade_to_head(conn)
    except OperationalError as exc:
        engine.dispose()
        raise StoreUnavailableError(str(exc.orig)) from exc
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
                    _create_partition(conn, month)
        except OperationalError as exc:
            raise StoreUnavailableError(str(exc.orig)) from exc
        self._partitioned.update(missing)


def _create_partition(conn: Connection, month: Month) -> None:
    """Attach ``month``'s partition, moving in any of its rows the DEFAULT partition holds.

    ``CREATE TABLE ... PARTITION OF`` fails when the DEFAULT partition already
    has rows of that range (written before the partition existed, e.g. by an
    older Wattline or by hand). Creating the table, moving those rows and
    attaching it always works, so it is the only path.
    """
    if _exists(conn, month):
        return
    # Blocks concurrent inserts (not reads) until commit, so no row of this
    # month reaches the DEFAULT partition between the move and the attach;
    # a second process waits here and then finds the partition made.
    conn.execute(text("LOCK TABLE samples IN SHARE ROW EXCLUSIVE MODE"))
    if _exists(conn, month):
        return
    # The names and bounds come from integers (Month), never from input text.
    conn.execute(text(f"CREATE TABLE {month.name} (LIKE samples INCLUDING DEFAULTS)"))
    conn.execute(
        text(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION}"  # noqa: S608 - see above
            " WHERE ts_ms >= :start_ms AND ts_ms < :end_ms RETURNING *)"
            f" INSERT INTO {month.name} SELECT * FROM moved"
        ),
        {"start_ms": month.start_ms, "end_ms": month.end_ms},
    )
    # ATTACH builds the partition's primary key index from the parent's.
    conn.execute(
        text(
            f"ALTER TABLE samples ATTACH PARTITION {month.name}"
            f" FOR VALUES FROM ({month.start_ms}) TO ({month.end_ms})"
        )
    )


def _exists(conn: Connection, month: Month) -> bool:
    return conn.scalar(select(func.to_regclass(month.name))) is not None
