"""A transaction PostgreSQL aborts to break a deadlock is run again, and only that.

Two collectors committing the same devices can deadlock (``SqlCommit``'s bet:
one holds a batch's inserted samples and waits for the devices' sequence rows,
the other holds those rows and waits for the samples). Here two transactions
lock two rows in opposite orders on a real server.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import psycopg.errors
import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from wattline.storage.base import StoreUnavailableError
from wattline.storage.postgres import psycopg_url
from wattline.storage.sql.connections import Connections, deadlocked, retrying_deadlocks

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    made = create_engine(psycopg_url(postgres_url))
    yield made
    made.dispose()


@pytest.fixture
def two_rows(engine: Engine) -> Iterator[str]:
    table = f"deadlock_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {table} (id int PRIMARY KEY, n int NOT NULL)"))
        conn.execute(text(f"INSERT INTO {table} VALUES (1, 0), (2, 0)"))
    yield table
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {table}"))


def _bump(conn: Connection, table: str, row: int) -> None:
    conn.execute(text(f"UPDATE {table} SET n = n + 1 WHERE id = :id"), {"id": row})


def test_the_transaction_aborted_for_a_deadlock_is_run_again(engine: Engine, two_rows: str) -> None:
    """Two transactions lock rows 1 and 2 in opposite orders, each through
    ``retrying_deadlocks``: whichever the server aborts runs once more, after
    the other has committed."""
    connections = Connections(engine)
    holds_first = {1: threading.Event(), 2: threading.Event()}
    attempts: dict[int, int] = {1: 0, 2: 0}
    errors: list[BaseException] = []

    def transaction(first: int, second: int) -> None:
        with connections.write() as conn:
            attempts[first] += 1
            _bump(conn, two_rows, first)
            holds_first[first].set()
            # Only the first attempt meets the other half-way; a rerun finds both set.
            assert holds_first[second].wait(10)
            _bump(conn, two_rows, second)

    def run(first: int, second: int) -> None:
        try:
            retrying_deadlocks(lambda: transaction(first, second))
        except BaseException as exc:  # reported on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=rows) for rows in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert sorted(attempts.values()) == [1, 2], attempts  # one was aborted and run again
    with engine.connect() as conn:
        counts = {row[0]: row[1] for row in conn.execute(text(f"SELECT id, n FROM {two_rows}"))}
    # each transaction's two updates once: the aborted attempt's were rolled back
    assert counts == {1: 2, 2: 2}


def test_any_other_failure_is_not_retried(engine: Engine) -> None:
    connections = Connections(engine)
    attempts: list[int] = []

    def failing() -> None:
        with connections.write() as conn:
            attempts.append(1)
            conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))

    with pytest.raises(StoreUnavailableError) as raised:
        retrying_deadlocks(failing)
    assert attempts == [1]
    assert not deadlocked(raised.value)


def test_a_deadlock_every_time_is_given_up_after_the_last_attempt() -> None:
    calls: list[int] = []

    def always_deadlocked() -> None:
        calls.append(1)
        driver = psycopg.errors.DeadlockDetected("deadlock detected")  # as the server raises it
        wrapped = OperationalError("UPDATE ...", {}, driver)
        raise StoreUnavailableError(str(driver)) from wrapped

    with pytest.raises(StoreUnavailableError) as raised:
        retrying_deadlocks(always_deadlocked, attempts=3)
    assert len(calls) == 3
    assert deadlocked(raised.value)
