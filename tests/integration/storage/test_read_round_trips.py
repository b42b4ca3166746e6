"""Reads make as few round trips as they can (ADR 0026).

Not a timing test: which statements a read sends, and whether it opens a
transaction, is deterministic. A one-statement read opens none (on PostgreSQL
that spares BEGIN and ROLLBACK); a day read sends its rows and its blocks, the
device's metric list folded into both, in one snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, event, select

from wattline.model.calendar import parse_interval
from wattline.model.messages import Reading
from wattline.storage.base import CommitBatch
from wattline.storage.bucketing import plan_buckets
from wattline.storage.rollups import DAY_MS
from wattline.storage.sql import SqlStore

DAY0 = 1_764_028_800_000  # a UTC midnight
METRICS = ("power_w", "voltage_v")


def in_transaction(conn: Connection) -> bool:
    driver = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        return bool(driver.info.transaction_status != TransactionStatus.IDLE)  # type: ignore[union-attr]
    return bool(driver.in_transaction)  # type: ignore[union-attr]


@contextmanager
def statements(store: SqlStore) -> Iterator[list[str]]:
    sent: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    engine = store._connections.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_a_one_statement_read_opens_no_transaction(store: SqlStore) -> None:
    with store._connections.read_statement() as conn:
        conn.execute(select(1)).all()
        assert not in_transaction(conn)
    with store._connections.read() as conn:
        conn.execute(select(1)).all()
        assert in_transaction(conn)  # several statements that must agree: one snapshot


def test_a_day_read_sends_its_rows_and_blocks_and_nothing_else(store: SqlStore) -> None:
    readings = [
        Reading("m1", DAY0 + i * 60_000, dict.fromkeys(METRICS, float(i)), None)
        for i in range(1_440)
    ]
    store.commit(CommitBatch(readings=readings, seen_ms={"m1": DAY0}, register=["m1"]))
    assert store.compact_before(DAY0 + DAY_MS).series_days  # the day packed into blocks
    plan = plan_buckets(DAY0, DAY0 + DAY_MS, parse_interval("1m"), None, 10_000)

    with statements(store) as sent:
        columns = store.series_columns(["m1"], plan, None)
    queries = [s for s in sent if s.lstrip().upper().startswith("SELECT")]
    assert len(queries) == 2, sent  # rows, blocks: no query for the metric list
    assert sorted(columns["m1"].metrics) == sorted(METRICS)
    assert int(columns["m1"].metrics["power_w"].count.sum()) == 1_440

    with statements(store) as sent:
        assert store.readable_device("m1", tenant_id="default", user_id=None) is not None
    assert [s for s in sent if not s.lstrip().upper().startswith("SELECT")] == []
