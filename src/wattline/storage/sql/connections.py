"""Connections and transactions with an unreachable database reported one way.

Every part of ``SqlStore`` reads and writes through these, so an outage is a
``StoreUnavailableError`` (retried by ingest, a 503 from the API) wherever it
strikes.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from wattline.storage.base import StoreUnavailableError

# The dialect's INSERT (sqlite.insert or postgresql.insert), for ON CONFLICT clauses.
InsertFactory = Callable[[Any], Any]

T = TypeVar("T")

log = logging.getLogger(__name__)

# PostgreSQL's "deadlock detected": of two transactions waiting for each other, it
# aborts one after deadlock_timeout and the other goes on, so the aborted one,
# run again, finds nothing in its way.
_DEADLOCK_SQLSTATE = "40P01"
# Each retry follows another collector's transaction finishing; more than a few in a
# row means something else is wrong, and the caller's own retry takes over.
_DEADLOCK_ATTEMPTS = 4
# PRAGMA synchronous's levels: OFF 0, NORMAL 1, FULL 2, EXTRA 3. In WAL mode NORMAL
# syncs at checkpoints only, not at each commit.
_SQLITE_NORMAL = 1


@contextmanager
def _outage_reported() -> Iterator[None]:
    """An unreachable database as ``StoreUnavailableError``, wherever in the block it
    strikes: a server that goes away between the pool's pre-ping and the query fails
    in execute(), not in connect()."""
    try:
        yield
    except OperationalError as exc:
        raise StoreUnavailableError(str(exc.orig)) from exc


def deadlocked(error: BaseException) -> bool:
    """Whether ``error`` (or the driver error under it) is a deadlock the server broke."""
    cause: BaseException | None = error
    while cause is not None:
        if getattr(cause, "sqlstate", None) == _DEADLOCK_SQLSTATE:
            return True
        orig = getattr(cause, "orig", None)
        cause = orig if isinstance(orig, BaseException) else cause.__cause__
    return False


def retrying_deadlocks(work: Callable[[], T], attempts: int = _DEADLOCK_ATTEMPTS) -> T:
    """``work()``, run again when the server aborted it to break a deadlock.

    ``work`` must be right to run again after it failed: the transaction the server
    aborted left nothing behind (a fold's earlier transactions, committed, are not
    taken again).
    Two collectors committing the same devices can deadlock on PostgreSQL (one
    inserted a batch's samples and waits for the devices' sequence rows, which the
    other holds while its insert waits for those same samples: ``SqlCommit``'s
    bet). Without this the batch went back to the collector as an outage and was
    committed again after its retry delay.
    """
    for _ in range(attempts - 1):
        try:
            return work()
        except StoreUnavailableError as exc:
            if not deadlocked(exc):
                raise
            log.info("a transaction was aborted to break a deadlock; running it again")
    return work()


class Connections:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """Reads that see one snapshot of the database, whatever commits meanwhile.

        A closed day is read as rows and then as blocks, two statements: without
        a snapshot a compaction (or a reopened block) committed between them
        made the day count twice (or not at all). PostgreSQL reads at REPEATABLE
        READ (read-only, so never a serialization failure); SQLite in an explicit
        transaction, which in WAL mode holds the snapshot of its first read.
        """
        with _outage_reported(), self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN")  # pysqlite begins only before writes
                yield conn
            else:
                yield conn.execution_options(isolation_level="REPEATABLE READ")

    @contextmanager
    def read_statement(self) -> Iterator[Connection]:
        """A read of one statement, which sees one snapshot by itself: no transaction
        around it. On PostgreSQL that spares BEGIN and ROLLBACK, two of the four round
        trips such a read made (the pool's pre-ping and the statement are the others);
        an API request's device check is one. Several statements that must agree go
        through ``read``.
        """
        with _outage_reported(), self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                yield conn  # pysqlite runs a SELECT on its own, outside a transaction
            else:
                yield conn.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[Connection]:
        """One transaction.

        On SQLite it begins at once and takes the write lock (BEGIN IMMEDIATE):
        pysqlite would begin only before the first write, so the reads before it
        (a device's sequence state, say) ran outside the transaction, and a
        savepoint opened first would have been the transaction itself, its
        release a commit. Writers wait for each other here, within busy_timeout,
        instead of failing to upgrade a read lock midway.

        ``durable=False``: the commit returns without waiting for the disk (SQLite
        in WAL mode: no fsync; PostgreSQL: ``synchronous_commit`` off). A power
        cut may undo such a transaction, whole, unless a durable commit followed
        it: both engines' logs are written in order, so the next durable commit
        makes every earlier one durable too. Only for a transaction whose loss
        changes no answer: a fold moves rows already committed durably, and
        undone, leaves them where they were (ADR 0033).
        """
        with _outage_reported(), self.engine.connect() as conn:
            sqlite = self.engine.dialect.name == "sqlite"
            restore = _sqlite_sync_off(conn) if sqlite and not durable else None
            try:
                with conn.begin():
                    if sqlite:
                        conn.exec_driver_sql("BEGIN IMMEDIATE")
                    elif not durable:
                        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
                    yield conn
            finally:
                if restore is not None and not conn.invalidated:
                    _sqlite_pragma(conn, f"PRAGMA synchronous={restore}")


def _sqlite_pragma(conn: Connection, pragma: str) -> Any:
    """The first row of ``pragma``, run on the driver's own connection (through
    SQLAlchemy it would begin a transaction). On failure the connection is
    discarded, never handed out again with a setting half made (a new one gets
    the store's settings), and the error is an outage like any other."""
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    try:
        return driver.execute(pragma).fetchone()
    except sqlite3.Error as exc:
        conn.invalidate()
        raise StoreUnavailableError(str(exc)) from exc


def _sqlite_sync_off(conn: Connection) -> int | None:
    """Commits on ``conn`` skip the fsync (synchronous NORMAL in WAL mode); the level it
    had, to put back afterwards, or None when it had none higher."""
    level = int(_sqlite_pragma(conn, "PRAGMA synchronous")[0])
    if level <= _SQLITE_NORMAL:
        return None
    _sqlite_pragma(conn, f"PRAGMA synchronous={_SQLITE_NORMAL}")
    return level
