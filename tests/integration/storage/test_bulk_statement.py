"""``BulkStatement`` with ``one_row_per_key``: on PostgreSQL one statement over arrays
instead of a row at a time; the same rows either way, on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text

from wattline.storage import schema
from wattline.storage.bulk import BulkStatement
from wattline.storage.sql import SqlStore


def _seq_rows(boot: int) -> list[dict[str, Any]]:
    # NULLs, integers of two widths, text: every kind of column the commit's upserts send
    return [
        {
            "device_id": f"b{i}",
            "boot": boot,
            "next_seq": None if i % 2 else 10 * i + boot,
            "boot_first_ts_ms": 1_764_057_600_000 + i,
            "last_ts_ms": None,
            "resets": i,
            "duplicates": 2**40 + i,
            "gaps": "[]" if i % 3 else "[[0, 1, 2, 3]]",
            "forgotten_through": None,
        }
        for i in range(7)
    ]


def _stored(store: SqlStore) -> list[tuple[Any, ...]]:
    t = schema.seq_state
    with store._connections.read() as conn:
        return [tuple(row) for row in conn.execute(select(t).order_by(t.c.device_id))]


def test_an_upsert_over_arrays_writes_what_one_row_at_a_time_writes(store: SqlStore) -> None:
    table = schema.seq_state
    upsert = store._insert(table)
    statement = upsert.on_conflict_do_update(
        index_elements=["device_id"],
        set_={c.name: upsert.excluded[c.name] for c in table.c if c.name != "device_id"},
    )
    results = []
    for one_row_per_key in (False, True):
        bulk = BulkStatement(statement, one_row_per_key=one_row_per_key)
        with store._connections.write() as conn:
            conn.execute(table.delete())
            bulk.execute(conn, _seq_rows(1))
            bulk.execute(conn, _seq_rows(2)[2:])  # an update of the last five
        results.append(_stored(store))
    assert results[0] == results[1]
    assert [row[1] for row in results[1]] == [1, 1, 2, 2, 2, 2, 2]


def test_only_an_insert_of_plain_values_can_go_over_arrays(store: SqlStore) -> None:
    statement = text("UPDATE seq_state SET resets = :resets WHERE device_id = :device")
    bulk = BulkStatement(statement, one_row_per_key=True)
    rows = [{"resets": 5, "device": "b1"}]
    with store._connections.write() as conn:
        if store.engine.dialect.name == "postgresql":
            with pytest.raises(ValueError, match="not an INSERT of plain values"):
                bulk.execute(conn, rows)
        else:  # SQLite runs every statement a row at a time
            bulk.execute(conn, rows)
