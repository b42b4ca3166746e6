"""A transaction PostgreSQL aborts to break a deadlock is run again, and only that.

Two collectors committing the same devices can deadlock (``SqlCommit``'s bet:
one holds a batch's inserted samples and waits for the devices' sequence rows,
the other holds those rows and waits for the samples). Here two transactions
lock two rows in opposite orders on a real server.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
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


def _bump(conn: object, table: str, row: int) -> None:
    conn.execute(text(f"UPDATE {table} SET n = n + 1 WHERE id = :id"), {"id": row})  # type: ignore[attr-defined]


def test_the_transaction_aborted_for_a_deadlock_is_run_again(engine: Engine, two_rows: str) -> None:
    connections = Connections(engine)
    other_holds_row_1 = threading.Event()
    retried_holds_row_2 = threading.Event()
    attempts: list[int] = []
    other_error: list[BaseException] = []

    def retried() -> str:
        with connections.write() as conn:
            attempts.append(len(attempts) + 1)
            _bump(conn, two_rows, 2)
            if len(attempts) == 1:
                retried_holds_row_2.set()
                assert other_holds_row_1.wait(10)
            # Waits for the other first, so its deadlock check runs first (after the
            # server's deadlock_timeout) and aborts this one.
            _bump(conn, two_rows, 1)
        return "done"

    def other() -> None:
        try:
            with engine.begin() as conn:
                _bump(conn, two_rows, 1)
                other_holds_row_1.set()
                assert retried_holds_row_2.wait(10)
                time.sleep(0.3)
                _bump(conn, two_rows, 2)
        except BaseException as exc:  # reported on the test's thread
            other_error.append(exc)

    thread = threading.Thread(target=other)
    thread.start()
    assert retrying_deadlocks(retried) == "done"
    thread.join(30)

    assert other_error == []
    assert attempts == [1, 2]
    with engine.connect() as conn:
        counts = {row[0]: row[1] for row in conn.execute(text(f"SELECT id, n FROM {two_rows}"))}
    # the other's two updates and the second attempt's two; the first attempt's rolled back
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
    import psycopg.errors  # noqa: PLC0415 - the driver's own error, as the server raises it

    calls: list[int] = []

    def always_deadlocked() -> None:
        calls.append(1)
        driver = psycopg.errors.DeadlockDetected("deadlock detected")
        wrapped = OperationalError("UPDATE ...", {}, driver)
        raise StoreUnavailableError(str(driver)) from wrapped

    with pytest.raises(StoreUnavailableError) as raised:
        retrying_deadlocks(always_deadlocked, attempts=3)
    assert len(calls) == 3
    assert deadlocked(raised.value)
