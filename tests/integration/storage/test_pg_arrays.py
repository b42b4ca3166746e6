"""Columns packed as binary arrays by NumPy reach PostgreSQL as psycopg's own lists do.

``storage/pg_arrays.packed`` builds the array format itself for the sample
insert's integer, float and string columns; the server must read back exactly
what psycopg's Python dumping would have sent, and anything it does not pack
(a NULL, an integer out of range, another type) goes the old way.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, Float, Integer, String

from wattline.storage import pg_arrays


@pytest.fixture(scope="module")
def pg(postgres_url: str) -> Iterator[psycopg.Connection[Any]]:
    url = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        yield conn


def _round_trip(conn: psycopg.Connection[Any], sql_type: str, parameter: object) -> list[Any]:
    row = conn.execute(f"SELECT %b::{sql_type}[]", (parameter,)).fetchone()
    assert row is not None
    return list(row[0])


def _bits(values: list[float]) -> list[bytes]:
    return [struct.pack(">d", v) for v in values]


int64s = st.lists(st.integers(-(2**63), 2**63 - 1), max_size=300)
float64s = st.lists(
    st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0, 5e-324]),
    max_size=300,
)
# PostgreSQL's text holds any character but NUL; surrogates have no UTF-8 at all.
characters = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
texts = st.lists(st.text(characters, max_size=70), max_size=300)
_settings = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_settings
@given(values=int64s)
def test_integers_arrive_as_sent(pg: psycopg.Connection[Any], values: list[int]) -> None:
    array = pg_arrays.packed(values, BigInteger(), "utf-8")
    assert array is not None
    assert _round_trip(pg, "int8", array) == values == _round_trip(pg, "int8", values)


@_settings
@given(values=float64s)
def test_floats_arrive_bit_for_bit(pg: psycopg.Connection[Any], values: list[float]) -> None:
    array = pg_arrays.packed(values, Float(), "utf-8")
    assert array is not None
    got = _round_trip(pg, "float8", array)
    assert [math.isnan(v) for v in got] == [math.isnan(v) for v in values]
    assert _bits([v for v in got if not math.isnan(v)]) == _bits(
        [v for v in values if not math.isnan(v)]
    )


@_settings
@given(values=texts)
def test_strings_arrive_as_sent(pg: psycopg.Connection[Any], values: list[str]) -> None:
    array = pg_arrays.packed(values, String(64), "utf-8")
    assert array is not None
    assert _round_trip(pg, "varchar", array) == values == _round_trip(pg, "varchar", values)


@pytest.mark.parametrize(
    ("values", "column_type"),
    [
        ([1, None, 3], BigInteger()),  # a NULL: psycopg's own dumping sends it
        ([1.5, None], Float()),  # NumPy would have made it a NaN
        ([2**63], BigInteger()),  # out of int64's range: the server's error, as before
        (["a", None], String(64)),
        ([1, 2], Integer()),  # a type not packed here
    ],
)
def test_what_is_not_packed_is_left_to_psycopg(values: list[Any], column_type: Any) -> None:
    assert pg_arrays.packed(values, column_type, "utf-8") is None


def test_a_batch_of_samples_goes_in_through_the_packed_path(
    pg: psycopg.Connection[Any],
) -> None:
    """The statement ``bulk._insert_unnest`` sends, with every column packed."""
    pg.execute(
        "CREATE TEMP TABLE packed_samples (device_id varchar(64), metric varchar(64),"
        " ts_ms bigint, value float8, seq bigint, received_ms bigint)"
    )
    t0 = 1_764_057_600_000
    rows = [("m-1", "power_w", t0 + i, i / 7, i, t0) for i in range(500)]
    types = [String(64), String(64), BigInteger(), Float(), BigInteger(), BigInteger()]
    columns = zip(*rows, strict=True)
    arrays = [pg_arrays.packed(list(c), t, "utf-8") for c, t in zip(columns, types, strict=True)]
    assert all(a is not None for a in arrays)
    pg.execute(
        "INSERT INTO packed_samples SELECT * FROM unnest(%b::varchar[], %b::varchar[],"
        " %b::int8[], %b::float8[], %b::int8[], %b::int8[])",
        arrays,
    )
    stored = pg.execute("SELECT * FROM packed_samples ORDER BY ts_ms").fetchall()
    assert stored == rows
