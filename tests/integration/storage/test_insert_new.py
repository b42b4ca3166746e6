"""The sample insert without RETURNING: row counts decide, a savepoint undoes the rare rest.

``insert_new`` inserts a batch inside a savepoint and answers None when every
row went in; when some were stored already it rolls the savepoint back and
inserts again with RETURNING. On PostgreSQL fewer than 100 rows go in with
RETURNING at once (``_ALL_OR_NOTHING_FROM_ROWS``): the hypothesis test's batches
of up to 200 rows cross that size. Both backends, inside the store's own write
transaction, since on SQLite a savepoint opened outside a transaction would be
the transaction itself.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from wattline.storage import schema
from wattline.storage.bulk import insert_new
from wattline.storage.sql import SqlStore

COLUMNS = ("series_id", "ts_ms", "value", "seq", "received_ms")
KEY = ("series_id", "ts_ms")
T0 = 1_764_057_600_000


def row(ts: int, value: float = 1.0) -> tuple[int, int, float, int, int]:
    return (1, T0 + ts, value, ts, T0)


def stored(store: SqlStore) -> dict[int, float]:
    s = schema.sample_rows.c
    with store._connections.read() as conn:
        return {ts - T0: value for ts, value in conn.execute(select(s.ts_ms, s.value))}


def test_an_all_new_batch_is_answered_by_counts_alone(store: SqlStore) -> None:
    with store._connections.write() as conn:
        returned = insert_new(
            conn, schema.sample_rows, COLUMNS, [row(i) for i in range(3_000)], KEY
        )
    assert returned is None
    assert len(stored(store)) == 3_000


def test_a_batch_with_stored_rows_names_only_the_new_ones(store: SqlStore) -> None:
    with store._connections.write() as conn:
        insert_new(conn, schema.sample_rows, COLUMNS, [row(i) for i in range(0, 2_000, 2)], KEY)
    offered = [row(i, value=7.0) for i in range(2_000)]
    with store._connections.write() as conn:
        returned = insert_new(conn, schema.sample_rows, COLUMNS, offered, KEY)
    assert returned is not None
    assert sorted(ts - T0 for _, ts in returned) == list(range(1, 2_000, 2))
    values = stored(store)
    assert len(values) == 2_000  # each once: the undone first try left nothing behind
    assert {values[i] for i in range(0, 2_000, 2)} == {1.0}  # stored rows untouched
    assert {values[i] for i in range(1, 2_000, 2)} == {7.0}


class AbortError(Exception):
    pass


def insert_then_fail(store: SqlStore, rows: list[tuple[str, str, int, float, int, int]]) -> None:
    with store._connections.write() as conn:
        insert_new(conn, schema.sample_rows, COLUMNS, rows, KEY)
        raise AbortError


def test_the_savepoint_does_not_commit_the_surrounding_transaction(store: SqlStore) -> None:
    with store._connections.write() as conn:
        insert_new(conn, schema.sample_rows, COLUMNS, [row(0)], KEY)
    # the first statement of its transaction, then the rollback path, then a failure
    with pytest.raises(AbortError):
        insert_then_fail(store, [row(0), row(1)])
    with pytest.raises(AbortError):  # the same without a stored row
        insert_then_fail(store, [row(2)])
    assert stored(store) == {0: 1.0}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    before=st.sets(st.integers(0, 300), max_size=120),
    offered=st.lists(st.integers(0, 300), max_size=200, unique=True),
)
def test_returned_rows_are_the_offered_ones_not_stored_before(
    store: SqlStore, before: set[int], offered: list[int]
) -> None:
    with store._connections.write() as conn:
        conn.execute(schema.sample_rows.delete())
        insert_new(conn, schema.sample_rows, COLUMNS, [row(ts) for ts in sorted(before)], KEY)
    with store._connections.write() as conn:
        returned = insert_new(conn, schema.sample_rows, COLUMNS, [row(ts) for ts in offered], KEY)
    new = set(offered) - before
    if returned is None:
        assert new == set(offered)
    else:
        assert {ts - T0 for _, ts in returned} == new
    assert set(stored(store)) == before | set(offered)
    with store._connections.read() as conn:
        assert conn.execute(
            select(func.count()).select_from(schema.sample_rows)
        ).scalar_one() == len(before | set(offered))


def test_a_row_breaking_another_constraint_is_an_error_not_a_retry(store: SqlStore) -> None:
    # PostgreSQL's first try has no ON CONFLICT: only a unique violation may send it
    # to the retry; a NULL value must fail the commit on both backends.
    broken = (1, T0, None, 0, T0)
    with pytest.raises(IntegrityError), store._connections.write() as conn:
        insert_new(conn, schema.sample_rows, COLUMNS, [row(1), broken], KEY)
    assert stored(store) == {}


def test_a_key_another_transaction_holds_uncommitted_is_waited_for(store: SqlStore) -> None:
    """Two collectors offering the same sample: the second waits for the first's
    commit, then names only the rows it added (on PostgreSQL, after the plain
    insert's unique violation; SQLite has one writer, so the second runs after)."""
    first_holds_row = threading.Event()
    release_first = threading.Event()

    def first() -> None:
        with store._connections.write() as conn:
            insert_new(conn, schema.sample_rows, COLUMNS, [row(0)], KEY)
            first_holds_row.set()
            release_first.wait(10)

    holder = threading.Thread(target=first)
    holder.start()
    assert first_holds_row.wait(10)
    answer: list[list[tuple[Any, ...]] | None] = []

    def second() -> None:
        with store._connections.write() as conn:
            answer.append(insert_new(conn, schema.sample_rows, COLUMNS, [row(0, 9.0), row(1)], KEY))

    offering = threading.Thread(target=second)
    offering.start()
    offering.join(0.3)
    assert offering.is_alive()  # waiting for the first transaction
    release_first.set()
    holder.join(10)
    offering.join(10)
    [returned] = answer
    assert returned is not None
    assert [ts - T0 for _, ts in returned] == [1]
    assert stored(store) == {0: 1.0, 1: 1.0}
