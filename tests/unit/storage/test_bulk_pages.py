"""Multi-row inserts come in power-of-two pages: few statement shapes, every row inserted once."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, create_engine

from wattline.storage.bulk import insert_new_returning, page_sizes


@given(st.integers(min_value=0, max_value=20_000))
def test_pages_add_up_to_the_rows_in_power_of_two_sizes(count: int) -> None:
    sizes = page_sizes(count)
    assert sum(sizes) == count
    assert all(size & (size - 1) == 0 and 1 <= size <= 1_024 for size in sizes)
    assert sizes == sorted(sizes, reverse=True)


def test_every_row_count_uses_eleven_shapes_at_most() -> None:
    assert len({size for count in range(5_000) for size in page_sizes(count)}) == 11


@pytest.mark.parametrize("count", [0, 1, 3, 1_023, 1_024, 1_025, 2_500])
def test_insert_new_returning_inserts_each_row_once_across_pages(count: int) -> None:
    table = Table(
        "t",
        MetaData(),
        Column("device_id", String, primary_key=True),
        Column("ts_ms", Integer, primary_key=True),
        Column("value", Float),
    )
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    rows = [("d", ts, float(ts)) for ts in range(count)]
    with engine.begin() as conn:
        first = insert_new_returning(conn, table, ["device_id", "ts_ms", "value"], rows, ["ts_ms"])
        again = insert_new_returning(conn, table, ["device_id", "ts_ms", "value"], rows, ["ts_ms"])
    assert sorted(ts for (ts,) in first) == list(range(count))
    assert again == []
